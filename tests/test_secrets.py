"""API keys reach the server and nothing else: no file, no output, no error message.

Two models hold recognisable keys, one from the environment variable the suite
names (``api_key_env``), one from a key file (``api_key_file``). The suite runs
through the CLI against the loopback server with every output on (CSV, JSON,
JUnit, Markdown, W&B offline, as far as the command has them), then through
``show``, ``runs``, ``diff``, ``baseline save`` and ``cache stats``; a second
run meets a 401 whose body echoes the key, as some servers do. Then every byte
written under the test's directory (project, runs, cache database, W&B, reports)
and everything printed is searched for the keys, raw, URL-encoded and in base64
at every alignment. The server's own record of the requests shows the keys did
go out, so the search cannot pass for want of a key.
"""

from __future__ import annotations

import base64
import json
import math
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from promptbench.cli import app
from tests.helpers.e2e import invoke, no_traceback, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

KEY_ENV = "PB_SECRETS_TEST_KEY"
WANDB_DIRS = ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR")


def forms(key: str) -> dict[str, bytes]:
    """The ways a key could be written down: raw, URL-encoded, base64 at any offset."""
    raw = key.encode()
    out = {
        "raw": raw,
        "url": urllib.parse.quote(key, safe="").encode(),
        "url_plus": urllib.parse.quote_plus(key).encode(),
        "utf16": key.encode("utf-16-le"),
    }
    for offset in range(3):  # base64 of any data holding the key holds one of these
        enc = base64.b64encode(b"\0" * offset + raw)
        part = enc[4 * math.ceil(offset / 3) : 4 * ((offset + len(raw)) // 3)]
        out[f"base64+{offset}"] = part
        out[f"base64url+{offset}"] = part.replace(b"+", b"-").replace(b"/", b"_")
    out["basic_auth"] = base64.b64encode(b":" + raw)
    return out


def leaks(data: bytes, keys: list[str]) -> list[str]:
    return [
        f"{name} of key {i}"
        for i, k in enumerate(keys)
        for name, f in forms(k).items()
        if f in data
    ]


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


ROOT: Any = typer.main.get_command(app)


def commands(
    group: Any = ROOT, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the CLI, as its words and its Click command, walked from the app."""
    subs = getattr(group, "commands", None)
    if not subs:
        yield path, group
        return
    for name, sub in subs.items():
        yield from commands(sub, (*path, name))


def aliases(command: Any) -> dict[str, str]:
    """Every spelling of each option (``-j``, ``--concurrency``) to its first long name."""
    out = {}
    for param in command.params:
        opts = [o for o in getattr(param, "opts", []) + getattr(param, "secondary_opts", [])]
        longs = [o for o in opts if o.startswith("--")]
        for o in opts:
            out[o] = longs[0] if longs else o
    return out


def every_option() -> set[tuple[tuple[str, ...], str]]:
    """(command, option) for every option of every command, --help aside."""
    return {
        (path, name)
        for path, command in commands()
        for name in set(aliases(command).values())
        if name.startswith("-") and name != "--help"
    }


def options_used(args: tuple[str, ...]) -> set[tuple[tuple[str, ...], str]]:
    """The (command, option) pairs that the words ``args`` exercise."""
    group, path = ROOT, ()
    rest = list(args)
    while rest and getattr(group, "commands", None) and rest[0] in group.commands:
        group = group.commands[rest[0]]
        path = (*path, rest.pop(0))
    names = aliases(group)
    return {(path, names[a.split("=", 1)[0]]) for a in rest if a.split("=", 1)[0] in names}


def options_of(*names: str) -> set[str]:
    """The options a command has now (the team adds some as it goes)."""
    command: Any = typer.main.get_command(app)
    for name in names:
        command = getattr(command, "commands", {}).get(name)
        if command is None:
            return set()
    return {opt for p in command.params for opt in getattr(p, "opts", [])} | {"<exists>"}


@pytest.fixture
def secret_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback: LoopbackServer
) -> Iterator[tuple[Project, list[str], Path]]:
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("PROMPTBENCH_CACHE", str(tmp_path / "cache" / "cache.db"))
    monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(root / "runs"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    key_env = f"sk-test-SECRET-{uuid.uuid4()}"
    key_file = f"sk-test-SECRET-{uuid.uuid4()}"
    monkeypatch.setenv(KEY_ENV, key_env)
    secrets = tmp_path / "secrets"  # the one place the key may be: outside what is searched
    secrets.mkdir()
    (secrets / "openai.key").write_text(key_file + "\n", encoding="utf-8")
    import wandb  # CI has it: no skip that would hide the W&B leg of this test

    wandb.teardown()  # the mode is read once per process, when wandb sets up
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in WANDB_DIRS:
        (tmp_path / name.lower()).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    loopback.configure(record_requests=500)
    project = Project(root)
    project.suite(
        {
            "name": "secrets",
            "prompts": {
                "plain": "Q: {{ q }}",
                "chat": {"system": "Answer briefly.", "user": "Q: {{ q }}"},
            },
            "models": {
                "env": openai_model(loopback.url, api_key_env=KEY_ENV),
                "file": openai_model(loopback.url, api_key_file=str(secrets / "openai.key")),
            },
            "cases": [{"id": f"q{i}", "q": f"q{i}"} for i in range(1, 5)],
            "metrics": [{"exact": "Q: {{ q }}"}],
            "max_error_rate": 0.5,
            "wandb": {"project": "pb-secrets"},
        }
    )
    yield project, [key_env, key_file], tmp_path
    wandb.teardown()


def test_keys_reach_the_server_and_appear_nowhere_else(
    secret_setup: tuple[Project, list[str], Path], loopback: LoopbackServer
) -> None:
    project, keys, searched = secret_setup
    printed: list[str] = []
    used: set[tuple[tuple[str, ...], str]] = set()

    def cli(*args: str, codes: tuple[int, ...] = (0,)) -> Any:
        used.update(options_used(args))
        result = invoke(*args)
        no_traceback(result)
        printed.extend([result.stdout, result.stderr])
        assert result.exit_code in codes, f"promptbench {' '.join(args)}: {result.output}"
        return result

    def outputs(command: tuple[str, ...], tag: str) -> list[str]:
        """Every report the command can write, named after ``tag``."""
        have = options_of(*command)
        wanted = {
            "--csv": f"out/{tag}.csv",
            "--junit": f"out/{tag}-junit.xml",
            "--markdown": f"out/{tag}.md",
        }
        args = [a for opt, path in wanted.items() if opt in have for a in (opt, path)]
        return args + (["--json"] if "--json" in have else [])

    run = ("run", "suites/suite.yaml")
    wandb_last = ["--wandb"] if "--wandb" in options_of("run") else []

    # 1. A clean run with every output, then every command that reads runs back.
    cli(*run, *outputs(("run",), "run1"), *wandb_last)
    first = project.runs[-1]
    assert len(records(first)) == 16
    if options_of("show"):
        cli("show", "latest", *outputs(("show",), "show"))
        cli("show", "latest")
    if options_of("runs"):
        cli("runs")
        cli("runs", "--json")
    if options_of("diff"):
        cli("diff", "--variants", "plain", "chat", *outputs(("diff",), "diff-variants"))
    baseline: list[str] = []
    if options_of("baseline", "save"):
        cli("baseline", "save", "latest", "baselines/secrets.json")
        if "--baseline" in options_of("run"):
            baseline = ["--baseline", "baselines/secrets.json"]
    cli("cache", "stats")

    # 2. The server refuses q3's key with a 401 that echoes it; the run records the error.
    loopback.configure(rules=[{"match": "q3", "fault_rate": 1.0, "fault_kinds": ["401"]}])
    cli(*run, "--no-cache", *baseline, *outputs(("run",), "run2"), *wandb_last, codes=(0, 1, 3))
    second = project.runs[-1]
    assert second != first
    refused = [r for r in records(second) if r["case_id"] == "q3"]
    assert len(refused) == 4
    for r in refused:
        assert r["error"]["message"] == (
            "HTTP 401: Incorrect API key provided: [redacted]. (promptbench fault injection: 401)"
            "; check the API key"
        )
    if options_of("diff"):
        cli("diff", first.name, second.name, *outputs(("diff",), "diff-runs"))
    if options_of("show"):
        cli("show", second.name, *outputs(("show",), "show2"))

    # 3. Every other option of every command, so that none is left out of the search:
    # the list is the CLI's own, so an option added later fails this test until it is here.
    loopback.configure(rules=[])
    cli(
        "init",
        "tour",
        "--model",
        "server",
        "--base-url",
        loopback.url,
        "--model-name",
        "m",
        "--force",
        "--quiet",
    )
    cli("validate", "suites/suite.yaml", "--json", "--no-user-code")
    cli(
        "render", "suites/suite.yaml", "--variant", "chat", "--case", "q1", "--limit", "2", "--json"
    )
    cli(
        *run,
        "--variant",
        "plain",
        "--model",
        "env",
        "--case",
        "q1",
        "--limit",
        "1",
        "--repeat",
        "2",
        "--concurrency",
        "2",
        "--fresh",
        "--no-user-code",
        "--quiet",
        "--csv",
        "out/tour.csv",
        "--csv-raw",
        "--runs-dir",
        "runs",
        "--max-error-rate",
        "0.5",
        "--html",
        "out/tour.html",
        "--max-cost",
        "0",
        *outputs(("run",), "tour"),
    )
    cli(*run, "--dry-run", "--json")
    cli(*run, "--shard", "1/2", "--fresh", "-q")
    shard1 = project.runs[-1]
    cli(*run, "--shard", "2/2", "--fresh", "-q")
    cli("merge", str(shard1), str(project.runs[-1]), "--runs-dir", "runs", "--json")
    cli(
        *run,
        "-q",
        "--wandb",
        "pb-secrets",
        "--wandb-entity",
        "pb",
        "--wandb-group",
        "g",
        "--wandb-tags",
        "a,b",
        "--wandb-name",
        "tour",
    )
    cli(
        "show",
        "latest",
        "--csv",
        "out/show.csv",
        "--csv-raw",
        "--runs-dir",
        "runs",
        "--wandb",
        "pb-secrets",
        "--wandb-entity",
        "pb",
        "--wandb-group",
        "g",
        "--wandb-tags",
        "a",
        "--wandb-name",
        "shown",
    )
    cli("runs", "--limit", "0", "--runs-dir", "runs")
    cli("report", "latest", "--html", "out/report.html", "--runs-dir", "runs")
    cli(
        "diff",
        first.name,
        second.name,
        "--variant",
        "plain",
        "--model",
        "env",
        "--only",
        "flips",
        "--limit",
        "3",
        "--alpha",
        "0.1",
        "--detect",
        "0.1",
        "--fail-on-regression",
        "--html",
        "out/diff.html",
        "--runs-dir",
        "runs",
        codes=(0, 1),
    )
    cli("diff", "--models", "env", "file", "--json")
    cli("baseline", "save", "latest", "baselines/tour.json", "--no-outputs", "--runs-dir", "runs")
    cli("metrics", "--json")
    cli("providers", "--json")
    cache_path = str(searched / "cache" / "cache.db")
    cli("cache", "stats", "--path", cache_path, "--json")
    cli("cache", "clear", "--path", cache_path, "--older-than", "30d", "--yes")
    # Commands and options of this round: sweeps and ranking, probes, the sequential check,
    # promptfoo imports, the tools example. `run --watch` and `view` run until stopped, so
    # they are given here with an option they refuse (the option is parsed, nothing served);
    # tests/cli/test_watch.py and tests/view/ run them for real.
    cli("init", "tools-demo", "--example", "tools", "--quiet")
    cli(*run, "--no-probes", "-q")
    cli(*run, "--probe", "typos", "--probes-only", "-q", codes=(0, 1, 2))
    cli(*run, "--sequential", *baseline, "-q", codes=(0, 1, 2))
    cli(*run, "--watch", "--json", codes=(2,))
    cli("view", "--runs-dir", "runs", "--host", "127.0.0.1", "--port", "abc", codes=(2,))
    cli(
        "rank",
        first.name,
        "--metric",
        "pass_rate",
        "--alpha",
        "0.1",
        "--json",
        "--runs-dir",
        "runs",
        "--markdown",
        "out/rank.md",
        "--wandb",
        codes=(0, 1, 2),
    )
    cli("diff", first.name, "--best", "--metric", "pass_rate", "--wandb", codes=(0, 1, 2))
    (project.root / "promptfooconfig.yaml").write_text(
        "prompts: ['Q: {{ q }}']\n"
        f"providers: [{{id: 'openai:chat:m', config: {{apiBaseUrl: '{loopback.url}'}}}}]\n"
        "tests: [{vars: {q: a}, assert: [{type: contains, value: a}]}]\n",
        encoding="utf-8",
    )
    cli(
        "import",
        "promptfoo",
        "promptfooconfig.yaml",
        "--output",
        "suites/pf.yaml",
        "--force",
        "--json",
        codes=(0, 1),
    )
    pf_out = {
        "evalId": "eval-1",
        "metadata": {"promptfooVersion": "0.121.20"},
        "results": {
            "prompts": [{"raw": "Q: {{ q }}", "provider": "openai:chat:m"}],
            "results": [
                {
                    "testIdx": 0,
                    "promptIdx": 0,
                    "vars": {"q": "a"},
                    "prompt": {"raw": "Q: a"},
                    "success": True,
                    "latencyMs": 3,
                    "gradingResult": {"pass": True, "componentResults": []},
                    "response": {"output": "Q: a"},
                }
            ],
        },
    }
    (project.root / "pf-out.json").write_text(json.dumps(pf_out), encoding="utf-8")
    cli(
        "import",
        "promptfoo-results",
        "pf-out.json",
        "--config",
        "promptfooconfig.yaml",
        "--suite",
        "suites/pf.yaml",
        "--runs-dir",
        "runs",
        "--json",
        codes=(0, 1, 2),
    )
    missing = sorted(f"{' '.join(c)} {o}" for c, o in every_option() - used)
    assert missing == [], f"options this test does not exercise: {missing}"
    loopback.configure(rules=[{"match": "q3", "fault_rate": 1.0, "fault_kinds": ["401"]}])

    # The keys went out: each model's requests carried its own.
    sent = {r["authorization"] for r in loopback.requests()}
    assert sent == {f"Bearer {k}" for k in keys}
    # And the 401 did echo the key: a client that passed the message on would leak it.
    request = urllib.request.Request(
        f"{loopback.url}/chat/completions",
        data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "q3"}]}).encode(),
        headers={"Authorization": f"Bearer {keys[0]}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refusal:
        opener.open(request, timeout=10)
    assert keys[0] in refusal.value.read().decode()

    # Everything written: project (suite, runs, reports, baselines), cache, W&B.
    written = [p for p in files_under(searched) if "secrets" not in p.relative_to(searched).parts]
    names = {p.name for p in written}
    assert "records.jsonl" in names and "run.json" in names and "cache.db" in names
    assert any(p.suffix == ".wandb" for p in written) == bool(wandb_last)
    assert {"run1.csv", "run2.csv"} <= names
    found = {str(p.relative_to(searched)): leaks(p.read_bytes(), keys) for p in written}
    assert {f: where for f, where in found.items() if where} == {}
    out = "".join(printed).encode()
    assert leaks(out, keys) == []
