"""W&B Tables for real, offline: run through the CLI, then read back what wandb wrote.

The tables are read from ``files/media/table/*.table.json``; the config, the
summary, the run's settings and the artifact from the run's ``.wandb`` file,
parsed with wandb's own protobuf ``Record`` (the file is a LevelDB-style log;
wandb 0.31 reads it in its Go core only, so the log framing is read here).

One module-scoped run serves most tests: a wandb offline init costs about a second.
"""

from __future__ import annotations

import csv
import json
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import wandb  # imported, not importorskip'd: CI has it, and without it this must fail
from typer.testing import Result
from wandb.proto import wandb_internal_pb2 as pb

from promptbench.report.wandb_out import WandbLogger
from tests.helpers.e2e import invoke, no_traceback, records
from tests.helpers.gitrepo import git
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

KEY_ENV = "PB_WANDB_TEST_KEY"
KEY = "sk-pbtest-7f3a9c2e5b1d4e6f8a0b"  # recognisable in any file
WANDB_DIRS = ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR")

# --------------------------------------------------------------------------- reading back


def read_log(path: Path) -> Iterator[bytes]:
    """The records of a ``.wandb`` file: a 7-byte header, then LevelDB log framing.

    Blocks of 32 KiB; each chunk has a CRC32 (over its type byte and data), a
    length and a type (1 full, 2 first, 3 middle, 4 last); a block tail shorter
    than a chunk header is padding.
    """
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), "not a W&B transaction log"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            break  # preallocated zeros at the end
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == crc, "corrupt chunk"
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk
            pending = b""


@dataclass
class WandbRun:
    """What one offline W&B run wrote, as read back from disk."""

    sync_dir: Path
    run: Any  # the RunRecord
    config: dict[str, Any]
    summary: dict[str, Any]
    artifacts: list[Any]

    def tables(self, key: str) -> list[dict[str, Any]]:
        """The table files logged under ``key``, in the order they were logged."""
        # Named <key>_<step>_<hash>.table.json; keys may hold underscores (records_live).
        name = re.compile(rf"{re.escape(key)}_(\d+)_[0-9a-f]+\.table\.json")
        steps = {}
        for path in (self.sync_dir / "files" / "media" / "table").iterdir():
            if m := name.fullmatch(path.name):
                steps[int(m.group(1))] = path
        return [json.loads(steps[k].read_text(encoding="utf-8")) for k in sorted(steps)]


def _items(update: Any) -> Iterator[tuple[str, Any]]:
    for item in update:
        key = item.key or "/".join(item.nested_key)
        yield key, json.loads(item.value_json)


def read_run(sync_dir: Path) -> WandbRun:
    """Parse the run's ``.wandb`` file: run settings, config, summary and artifacts."""
    (log,) = sync_dir.glob("*.wandb")
    run, config, summary, artifacts = None, {}, {}, []
    for raw in read_log(log):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            config.update(_items(record.run.config.update))
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "summary":
            summary.update(_items(record.summary.update))
            for item in record.summary.remove:
                summary.pop(item.key or "/".join(item.nested_key), None)
        elif kind == "artifact":
            artifacts.append(record.artifact)
    assert run is not None, "no run record"
    return WandbRun(sync_dir, run, config, summary, artifacts)


def offline_runs(wandb_dir: Path) -> list[Path]:
    """The offline run directories under ``$WANDB_DIR``, oldest first."""
    return sorted((wandb_dir / "wandb").glob("offline-run-*"))


def offline(mp: pytest.MonkeyPatch, root: Path) -> None:
    """W&B offline, with every directory it writes to under ``root``."""
    wandb.teardown()  # the mode is read once per process, when wandb sets up
    mp.setenv("WANDB_MODE", "offline")
    for name in WANDB_DIRS:
        path = root / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        mp.setenv(name, str(path))


def files_under(root: Path) -> Iterator[Path]:
    """Every file below ``root``."""
    return (p for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the shared run


@dataclass
class Logged:
    """The module's run: the CLI result, its run directory, and W&B's."""

    result: Result
    root: Path
    run_dir: Path
    records: list[dict[str, Any]]
    wandb: WandbRun
    requests: list[dict[str, Any]]


def e2e_suite(url: str) -> dict[str, Any]:
    """Two variants x one model x five cases; the server answers q2 wrongly."""
    cases: list[dict[str, Any]] = [{"id": f"q{i}", "q": f"q{i}", "n": i} for i in range(1, 6)]
    cases[2]["note"] = f"key={KEY}"  # a secret in a var: W&B must get it masked
    return {
        "name": "wb-e2e",
        "prompts": {
            "plain": "Q: {{ q }}",
            "chat": {"system": "Answer briefly.", "user": "Q: {{ q }}"},
        },
        "models": {"loop": openai_model(url, api_key_env=KEY_ENV, temperature=0)},
        "cases": cases,
        "metrics": [{"exact": "Q: {{ q }}"}, {"contains": "q"}],
        "gate": {"exact": ">= 0.5"},
        "wandb": {"project": "pb-tests", "tags": ["suite-tag"], "name": "wb-e2e-run"},
    }


def git_commit(root: Path) -> str:
    """Make ``root`` a git repository with one commit; return the commit."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "suite")
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory, loopback_session: LoopbackServer
) -> Iterator[Logged]:
    root = tmp_path_factory.mktemp("wandb-e2e")
    with pytest.MonkeyPatch.context() as mp:
        offline(mp, root)
        mp.setenv(KEY_ENV, KEY)
        mp.setenv("PROMPTBENCH_CACHE", str(root / "cache.db"))
        mp.setenv("PROMPTBENCH_RUNS_DIR", str(root / "runs"))
        mp.setenv("NO_COLOR", "1")
        # Four rows per increment, never by time: 10 records stream in as 4 + 4 + 2.
        mp.setattr(WandbLogger, "every_rows", 4)
        mp.setattr(WandbLogger, "every_seconds", 3600.0)
        loopback_session.reset()
        loopback_session.configure(rules=[{"match": "q2", "reply": "wrong"}], record_requests=50)
        project = Project(root)
        suite = project.suite(e2e_suite(loopback_session.url))
        commit = git_commit(root)
        result = invoke(
            "run",
            str(suite),
            "-j",
            "1",
            "--wandb",
            "--wandb-tags",
            "nightly",
            "--wandb-tags",
            "t2,t3",
            "--wandb-group",
            "grp",
        )
        no_traceback(result)
        (run_dir,) = project.runs
        (sync_dir,) = offline_runs(root / "wandb_dir")
        logged = Logged(
            result,
            root,
            run_dir,
            records(run_dir),
            read_run(sync_dir),
            loopback_session.requests(),
        )
        logged.wandb.config["_test_commit"] = commit
        yield logged
        wandb.teardown()


def expected_row(r: dict[str, Any]) -> list[Any]:
    """The W&B row of a record, built from its records.jsonl line independently of the code."""
    messages = "\n\n".join(f"[{m['role']}] {m['content']}" for m in r["messages"])
    note = r["vars"].get("note")
    scores = [r["scores"][m][k] for m in ("exact", "contains") for k in ("value", "passed")]
    return [
        r["case_id"],
        r["variant"],
        r["model"],
        r["repeat"],
        r["vars"]["q"],
        json.dumps(r["vars"]["n"]),
        None if note is None else note.replace(KEY, "[redacted]"),
        r["expected"],
        messages,
        r["output"],
        r["passed"],
        *scores,
        r["latency_ms"],
        r["usage"]["prompt_tokens"],
        r["usage"]["completion_tokens"],
        r["usage"]["total_tokens"],
        r["cost"],
        r["cached"],
        None,
    ]


COLUMNS = [
    "case_id",
    "variant",
    "model",
    "repeat",
    "var.q",
    "var.n",
    "var.note",
    "expected",
    "prompt",
    "output",
    "passed",
    "score.exact",
    "pass.exact",
    "score.contains",
    "pass.contains",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "cached",
    "error",
]


# --------------------------------------------------------------------------- tables


def test_the_run_itself_is_unaffected(logged: Logged) -> None:
    assert logged.result.exit_code == 0, logged.result.output
    assert len(logged.records) == 10
    assert "W&B: " in logged.result.stderr and "wandb sync" in logged.result.stderr
    assert "warning" not in logged.result.stderr


def test_rows_stream_in_increments_of_new_rows_only(logged: Logged) -> None:
    parts = logged.wandb.tables("records_live")
    assert [len(p["data"]) for p in parts] == [4, 4, 2]
    assert all(p["columns"] == COLUMNS for p in parts)
    # Concatenated, the increments are every record once, in the order they were written.
    streamed = [row for p in parts for row in p["data"]]
    assert streamed == [expected_row(r) for r in logged.records]


def test_the_final_table_holds_every_record(logged: Logged) -> None:
    (final,) = logged.wandb.tables("records")
    assert final["columns"] == COLUMNS
    assert final["data"] == [expected_row(r) for r in logged.records]
    rows = {(row[0], row[1]): dict(zip(COLUMNS, row, strict=True)) for row in final["data"]}
    assert {case for case, _ in rows} == {"q1", "q2", "q3", "q4", "q5"}
    q1 = rows["q1", "chat"]
    assert q1["output"] == "Q: q1"
    assert q1["prompt"] == "[system] Answer briefly.\n\n[user] Q: q1"
    assert (q1["score.exact"], q1["pass.exact"], q1["passed"]) == (1.0, True, True)
    q2 = rows["q2", "plain"]
    assert (q2["output"], q2["score.exact"], q2["pass.contains"], q2["passed"]) == (
        "wrong",
        0.0,
        False,
        False,
    )
    assert rows["q3", "plain"]["var.note"] == "key=[redacted]"
    assert rows["q1", "plain"]["var.note"] is None
    assert rows["q4", "plain"]["var.n"] == "4"


def test_the_summary_table_has_one_row_per_variant_and_model(logged: Logged) -> None:
    (table,) = logged.wandb.tables("summary")
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [(r["variant"], r["model"]) for r in rows] == [("plain", "loop"), ("chat", "loop")]
    for r in rows:
        assert (r["records"], r["pass_rate"], r["errors"]) == (5, 0.8, 0)
        assert (r["score.exact"], r["pass.contains"]) == (0.8, 0.8)
        assert r["cost"] is None  # the loopback model has no price


# --------------------------------------------------------------------------- config and summary


def test_config_describes_the_suite_models_and_commit(logged: Logged) -> None:
    meta = json.loads((logged.run_dir / "run.json").read_text(encoding="utf-8"))
    config = logged.wandb.config
    assert config["promptbench_run_id"] == logged.run_dir.name
    assert config["suite"]["name"] == "wb-e2e"
    assert config["suite"]["hash"] == meta["suite"]["hash"]
    assert config["suite"]["metrics"] == ["exact", "contains"]
    assert config["suite"]["gate"] == ["exact >= 0.5"]
    assert config["variants"] == {
        "plain": "[user]\nQ: {{ q }}",
        "chat": "[system]\nAnswer briefly.\n[user]\nQ: {{ q }}",
    }
    assert config["models"] == {
        "loop": {
            "provider": "openai",
            "model": "loopback",
            "base_url": meta["models"]["loop"]["base_url"],
            "params": {"temperature": 0.0},
            "price": None,
        }
    }
    assert config["repeat"] == 1
    assert config["git_commit"] == config["_test_commit"]
    assert config["git_dirty"] is False


def test_run_settings_come_from_the_suite_and_the_command_line(logged: Logged) -> None:
    run = logged.wandb.run
    assert run.project == "pb-tests"  # bare --wandb: the suite's project
    assert run.display_name == "wb-e2e-run"
    assert run.run_group == "grp"
    assert run.job_type == "eval"
    assert list(run.tags) == ["suite-tag", "nightly", "t2", "t3"]


def test_summary_has_flat_figures_per_variant_and_model(logged: Logged) -> None:
    s = logged.wandb.summary
    tokens = sum(r["usage"]["total_tokens"] for r in logged.records if r["variant"] == "plain")
    assert s["plain/loop/pass_rate"] == 0.8
    assert s["chat/loop/pass_rate"] == 0.8
    assert s["plain/loop/score.exact"] == 0.8
    assert s["chat/loop/pass.contains"] == 0.8
    assert s["plain/loop/records"] == 5
    assert s["plain/loop/errors"] == 0
    assert s["plain/loop/tokens"] == tokens
    assert "plain/loop/cost" not in s  # unknown, not zero
    assert (s["run/records"], s["run/errors"], s["run/status"]) == (10, 0, "finished")
    # The figures leave the tables' entries alone (nested keys, read here as a/b).
    assert "records" not in s
    assert (s["records/_type"], s["records/nrows"]) == ("table-file", 10)


def test_records_and_csv_are_logged_as_an_artifact(logged: Logged) -> None:
    (artifact,) = [a for a in logged.wandb.artifacts if a.type == "promptbench-run"]
    assert artifact.name == f"promptbench-{logged.run_dir.name}"
    files = {e.path: Path(e.local_path) for e in artifact.manifest.contents}
    assert set(files) == {"run.json", "records.jsonl", "records.csv"}
    staged = files["records.jsonl"].read_text(encoding="utf-8").splitlines()
    assert len(staged) == 10
    ours = (logged.run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert staged == [line.replace(KEY, "[redacted]") for line in ours]
    with files["records.csv"].open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 11  # a header and ten rows
    assert rows[0][:4] == ["case_id", "variant", "model", "repeat"]


def test_no_api_key_in_anything_wandb_wrote(logged: Logged) -> None:
    # The key was real: the server got it, and the run's own records hold it (in a var).
    assert {r["authorization"] for r in logged.requests} == {f"Bearer {KEY}"}
    assert KEY in (logged.run_dir / "records.jsonl").read_text(encoding="utf-8")
    written = [p for name in WANDB_DIRS for p in files_under(logged.root / name.lower())]
    assert any(p.suffix == ".wandb" for p in written)
    assert any(p.name.endswith(".table.json") for p in written)
    leaks = [p for p in written if KEY.encode() in p.read_bytes()]
    assert leaks == []


# --------------------------------------------------------------------------- show --wandb


def test_show_exports_a_stored_run_without_calling_a_model(
    logged: Logged,
    loopback_session: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offline(monkeypatch, tmp_path)
    monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(logged.root / "runs"))
    before = loopback_session.stats()["requests"]
    try:
        result = invoke("show", logged.run_dir.name[:17], "--wandb", "other-proj")
        no_traceback(result)
        assert result.exit_code == 0, result.output
        assert loopback_session.stats()["requests"] == before
        (sync_dir,) = offline_runs(tmp_path / "wandb_dir")
        again = read_run(sync_dir)
    finally:
        wandb.teardown()
    assert again.run.project == "other-proj"
    assert again.run.display_name == "wb-e2e-run"  # the suite's name for the W&B run
    assert again.tables("records_live") == []  # nothing streams when nothing runs
    assert again.tables("records") == logged.wandb.tables("records")
    assert again.summary["plain/loop/pass_rate"] == 0.8


# --------------------------------------------------------------------------- failures


def small_suite(project: Project, url: str, n: int = 6) -> Path:
    return project.suite(
        {
            "name": "wb-small",
            "prompts": {"plain": "Q: {{ q }}"},
            "models": {"loop": openai_model(url)},
            "cases": [{"id": f"q{i}", "q": f"q{i}"} for i in range(1, n + 1)],
            "metrics": [{"exact": "Q: {{ q }}"}],
        }
    )


def test_a_wandb_failure_mid_run_keeps_every_record_and_is_exit_4(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, project.root)
    monkeypatch.setattr(WandbLogger, "every_rows", 1)
    calls = []
    real_log = wandb.Run.log

    def failing_log(self: Any, data: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        calls.append(list(data))
        if len(calls) == 2:
            raise RuntimeError("W&B is down")
        real_log(self, data, *args, **kwargs)

    monkeypatch.setattr(wandb.Run, "log", failing_log)
    try:
        result = invoke("run", str(small_suite(project, loopback.url)), "-j", "1", "--wandb")
    finally:
        wandb.teardown()
    no_traceback(result)
    assert result.exit_code == 4, result.output  # infrastructure, not the gate's 1
    assert len(calls) == 2  # logging stopped at the failure
    (run_dir,) = project.runs
    assert [r["case_id"] for r in records(run_dir)] == [f"q{i}" for i in range(1, 7)]
    assert project.meta(run_dir)["status"] == "finished"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert (
        f"W&B logging failed in {project.root / 'wandb_dir' / 'wandb'} "
        "(RuntimeError: W&B is down): check W&B's status" in errors[0]
    )
    assert f"promptbench show {run_dir.name} --wandb" in errors[0]
    assert "W&B: " not in result.stderr
    assert "✓" in result.stdout or "plain" in result.stdout  # the summary is printed


def test_a_wandb_init_failure_is_exit_4_after_the_run(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, project.root)

    def failing_init(**kwargs: Any) -> None:
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setattr(wandb, "init", failing_init)
    result = invoke("run", str(small_suite(project, loopback.url, 3)), "--wandb", "proj")
    no_traceback(result)
    assert result.exit_code == 4, result.output
    assert len(records(project.runs[0])) == 3
    assert result.stderr.count("error: could not start the W&B run in ") == 1
    assert "(ConnectionError: api.wandb.ai unreachable)" in result.stderr


@pytest.mark.parametrize(("expected", "outcome"), [("Q: {{ q }}", "passed"), ("no", "gate_failed")])
def test_a_wandb_failure_leaves_the_gate_verdict_as_it_is(
    loopback: LoopbackServer,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    expected: str,
    outcome: str,
) -> None:
    offline(monkeypatch, project.root)
    monkeypatch.setenv(KEY_ENV, KEY)

    def failing_init(**kwargs: Any) -> None:
        raise PermissionError(f"W&B said: bad key {KEY}")

    monkeypatch.setattr(wandb, "init", failing_init)
    path = project.suite(
        {
            "name": "wb-gate",
            "prompts": {"plain": "Q: {{ q }}"},
            "models": {"loop": openai_model(loopback.url, api_key_env=KEY_ENV)},
            "cases": [{"id": f"q{i}", "q": f"q{i}"} for i in range(1, 4)],
            "metrics": [{"exact": expected}],
            "gate": {"exact": ">= 0.5"},
        }
    )
    result = invoke("run", str(path), "--json", "--wandb", "proj")
    no_traceback(result)
    assert result.exit_code == 4, result.output  # W&B failed: 4, whether the gate held or not
    assert json.loads(result.stdout)["outcome"] == outcome
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "could not start the W&B run" in line and "bad key [redacted]" in line
    assert KEY not in result.stderr


def test_missing_extra_is_one_line_naming_it(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    result = invoke("run", str(small_suite(project, loopback.url)), "--wandb")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --wandb needs the 'wandb' package, which is not installed; install it with: "
        "pip install 'promptbench[wandb]' (from a checkout: pip install -e '.[wandb]')"
    ]
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


def test_missing_login_stops_before_any_call(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    wandb.teardown()
    monkeypatch.setenv("WANDB_MODE", "online")
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    for name in WANDB_DIRS:
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    try:
        result = invoke("run", str(small_suite(project, loopback.url)), "--wandb")
    finally:
        wandb.teardown()
    no_traceback(result)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: W&B is not logged in: run `wandb login` (or set WANDB_API_KEY), or log offline "
        "with WANDB_MODE=offline and upload later with `wandb sync`"
    ]
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


def test_disabled_mode_runs_and_writes_nothing(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, project.root)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    try:
        result = invoke("run", str(small_suite(project, loopback.url, 2)), "--wandb")
    finally:
        wandb.teardown()
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "W&B" not in result.stderr
    assert offline_runs(project.root / "wandb_dir") == []


def test_wandb_options_need_wandb(loopback: LoopbackServer, project: Project) -> None:
    result = invoke("run", str(small_suite(project, loopback.url)), "--wandb-tags", "x")
    assert result.exit_code == 2
    assert "--wandb-tags only takes effect with --wandb" in result.stderr
    assert loopback.stats()["requests"] == 0


def test_an_invalid_project_name_is_a_usage_error(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, project.root)
    result = invoke("run", str(small_suite(project, loopback.url)), "--wandb=a#b")
    assert result.exit_code == 2
    assert "a W&B project name cannot contain #" in result.stderr
    assert loopback.stats()["requests"] == 0


def test_the_suite_wandb_mapping_is_validated(project: Project) -> None:
    path = project.suite(
        {
            "name": "s",
            "prompts": {"p": "x"},
            "models": {"m": {"provider": "mock"}},
            "cases": [{"q": 1}],
            "wandb": {"project": "p", "team": "t"},
        }
    )
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert "wandb.team: unknown field" in result.stderr


def test_no_wandb_import_without_the_flag(loopback: LoopbackServer, project: Project) -> None:
    # In a fresh interpreter: other tests here have imported wandb already.
    path = small_suite(project, loopback.url, 2)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from promptbench.cli import app\n"
        f"r = CliRunner().invoke(app, ['run', {str(path)!r}, '-q'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'wandb' not in sys.modules, 'wandb was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=project.root
    )
    assert done.returncode == 0, done.stderr
    assert not (project.root / "wandb").exists()


def test_tables_stop_at_wandbs_row_limit(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, project.root)
    monkeypatch.setattr(wandb.Table, "MAX_ARTIFACT_ROWS", 3)
    try:
        result = invoke("run", str(small_suite(project, loopback.url)), "-j", "1", "--wandb")
    finally:
        wandb.teardown()
    assert result.exit_code == 0, result.output
    assert result.stderr.count("the W&B tables hold the first 3 of 6 records") == 1
    logged = read_run(offline_runs(project.root / "wandb_dir")[0])
    assert sum(len(p["data"]) for p in logged.tables("records_live")) == 3
    (final,) = logged.tables("records")
    assert [row[0] for row in final["data"]] == ["q1", "q2", "q3"]
    (artifact,) = [a for a in logged.artifacts if a.type == "promptbench-run"]
    files = {e.path: Path(e.local_path) for e in artifact.manifest.contents}
    assert len(files["records.jsonl"].read_text(encoding="utf-8").splitlines()) == 6


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["s.yaml", "--wandb"], ["s.yaml", "--wandb="]),
        (["s.yaml", "--wandb", "-q"], ["s.yaml", "--wandb=", "-q"]),
        (["s.yaml", "--wandb", "proj", "-q"], ["s.yaml", "--wandb=proj", "-q"]),
        (["--wandb=proj", "s.yaml"], ["--wandb=proj", "s.yaml"]),
        (["--", "--wandb"], ["--", "--wandb"]),
    ],
)
def test_a_bare_wandb_gets_an_empty_value(args: list[str], expected: list[str]) -> None:
    from promptbench.cli._optional import rewrite

    assert rewrite(args, ("--wandb",)) == expected


def test_a_path_after_wandb_is_not_its_project(project: Project) -> None:
    from promptbench.cli._optional import rewrite

    project.write("suite.yaml", "")
    assert rewrite(["--wandb", "suite.yaml"], ("--wandb",)) == ["--wandb=", "suite.yaml"]


def test_project_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptbench.report.wandb_rows import resolve_target

    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert resolve_target("qa: v2/final", None).project == "qa- v2-final"
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    assert resolve_target("qa", None).project == "from-env"
    assert resolve_target("qa", {"project": "from-suite"}).project == "from-suite"
    assert resolve_target("qa", {"project": "from-suite"}, project="cli").project == "cli"
    target = resolve_target("qa", {"tags": ["a", "b"], "name": "n"}, tags=["b,c"], name=None)
    assert (target.tags, target.name) == (("a", "b", "c"), "n")


def test_redactor_masks_secrets_longest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptbench.report.wandb_rows import Redactor

    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-1234567890")
    monkeypatch.setenv("NAMED_BY_SUITE", "abcdefgh-secret")
    monkeypatch.setenv("HARMLESS", "tok-1234567890-but-not-a-secret-name")
    r = Redactor.from_environment(["NAMED_BY_SUITE"])
    assert r.text("a tok-1234567890 b abcdefgh-secret") == "a [redacted] b [redacted]"
    assert r.value({"k": ["tok-1234567890"], "n": 1}) == {"k": ["[redacted]"], "n": 1}
    assert Redactor(["short"]).text("short") == "short"  # too short to be a key


def test_a_conversation_with_tool_calls_logs_its_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline(monkeypatch, tmp_path)
    monkeypatch.setenv("PROMPTBENCH_CACHE", str(tmp_path / "cache.db"))
    monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(tmp_path / "runs"))
    project = Project(tmp_path)
    suite = project.suite(
        {
            "name": "agent",
            "prompts": {
                "agent": {
                    "user": "Weather in {{ city }}?",
                    "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
                    "tool_results": {"get_weather": "rain in {{ args.city }}"},
                    "turns": ["Thanks"],
                }
            },
            "models": {
                "bot": {
                    "provider": "mock",
                    "tool_calls": {
                        "Weather": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
                    },
                    "answers": {"rain": "It rains.", "Thanks": "Bye."},
                }
            },
            "cases": [{"id": "oslo", "city": "Oslo"}],
            "metrics": [{"tool_called": {"tool": "get_weather", "turn": 1}}],
        }
    )
    try:
        result = invoke("run", str(suite), "--wandb", "-q")
        no_traceback(result)
        assert result.exit_code == 0, result.output
        (sync_dir,) = offline_runs(tmp_path / "wandb_dir")
        (final,) = read_run(sync_dir).tables("records")
    finally:
        wandb.teardown()
    (row,) = [dict(zip(final["columns"], r, strict=True)) for r in final["data"]]
    assert row["prompt"] == (
        "[user] Weather in Oslo?\n\n"
        '[call] get_weather({"city": "Oslo"})\n\n'
        "[tool get_weather] rain in Oslo\n\n"
        "[assistant] It rains.\n\n"
        "[user] Thanks\n\n"
        "[assistant] Bye."
    )
    assert row["output"] == "Bye."
    assert row["pass.tool_called"] is True
