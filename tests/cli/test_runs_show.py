"""``promptbench runs`` and ``promptbench show``: real runs against the loopback server.

``show`` must not call a model: every test that shows a run checks that the
server's request count did not move.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model


def make_run(project: Project, url: str, *args: str, name: str = "e2e") -> tuple[Path, Any]:
    """One real run through the CLI; its directory and result."""
    before = set(project.runs)
    suite = project.suite(
        echo_suite(
            url,
            name=name,
            prompts={"a": "Q: {{ q }}", "b": "Other {{ q }}"},
            models={"loop": openai_model(url)},
            cases=qa_cases(3),
            gate={"exact": ">= 0.5"},
        ),
        name=f"suites/{name}.yaml",
    )
    result = invoke("run", str(suite), *args)
    no_traceback(result)
    (run_dir,) = set(project.runs) - before
    return run_dir, result


def set_meta(run_dir: Path, **changes: Any) -> None:
    path = run_dir / "run.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.update(changes)
    path.write_text(json.dumps(meta), encoding="utf-8")


def rename_run(run_dir: Path, run_id: str, started_at: str) -> Path:
    """Give a run another id and start time, as two runs of one second could have."""
    new = run_dir.with_name(run_id)
    run_dir.rename(new)
    set_meta(new, run_id=run_id, started_at=started_at)
    return new


@pytest.fixture
def two_runs(loopback: LoopbackServer, project: Project) -> tuple[Path, Path]:
    """Two runs of one second whose ids sort against their start times."""
    first, _ = make_run(project, loopback.url)
    second, _ = make_run(project, loopback.url)
    older = rename_run(first, "20261126-080000-e2e-ffff", "2026-11-26T08:00:00.100000+00:00")
    newer = rename_run(second, "20261126-080000-e2e-0000", "2026-11-26T08:00:00.900000+00:00")
    return older, newer


# --------------------------------------------------------------------------- runs


def test_runs_lists_newest_first_by_start_time_not_id(
    two_runs: tuple[Path, Path], loopback: LoopbackServer
) -> None:
    older, newer = two_runs
    before = loopback.stats()["requests"]
    result = invoke("runs", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["run_id"] for r in data] == [newer.name, older.name]
    row = data[0]
    assert row["suite"] == "e2e"
    assert row["status"] == "finished"
    assert row["models"] == ["loop"]
    assert row["variants"] == ["a", "b"]
    assert (row["records"], row["errors"]) == (6, 0)
    assert [(g["variant"], g["model"], g["pass_rate"]) for g in row["groups"]] == [
        ("a", "loop", 1.0),
        ("b", "loop", 0.0),
    ]
    assert row["cost"] is None  # the loopback model has no price
    assert row["started_at"] == "2026-11-26T08:00:00.900000+00:00"
    assert loopback.stats()["requests"] == before


def test_runs_table_and_limit(two_runs: tuple[Path, Path]) -> None:
    older, newer = two_runs
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    assert result.stdout.index(newer.name) < result.stdout.index(older.name)
    assert "a × loop: 100.0%" in result.stdout
    assert "b × loop: 0.0%" in result.stdout
    limited = invoke("runs", "-n", "1")
    assert newer.name in limited.stdout and older.name not in limited.stdout
    assert "1 older runs not shown" in limited.stdout


def test_real_runs_of_one_second_are_ordered(loopback: LoopbackServer, project: Project) -> None:
    first, _ = make_run(project, loopback.url)
    second, _ = make_run(project, loopback.url)
    data = json.loads(invoke("runs", "--json").stdout)
    assert [r["run_id"] for r in data] == [second.name, first.name]
    assert json.loads(invoke("show", "latest", "--json").stdout)["run_id"] == second.name


def test_runs_in_an_empty_or_other_directory(project: Project, tmp_path: Path) -> None:
    result = invoke("runs", "--runs-dir", str(tmp_path / "none"))
    assert result.exit_code == 0
    assert "no runs in" in result.stdout
    assert json.loads(invoke("runs", "--json").stdout) == []


def test_runs_skips_a_directory_that_is_not_a_run(
    loopback: LoopbackServer, project: Project
) -> None:
    run_dir, _ = make_run(project, loopback.url)
    (project.root / "runs" / "stray").mkdir()
    (project.root / "runs" / "torn").mkdir()
    (project.root / "runs" / "torn" / "run.json").write_text("{", encoding="utf-8")
    data = json.loads(invoke("runs", "--json").stdout)
    assert [r["run_id"] for r in data] == [run_dir.name]


# --------------------------------------------------------------------------- show


def test_show_reprints_the_runs_table_without_calling_a_model(
    loopback: LoopbackServer, project: Project
) -> None:
    run_dir, ran = make_run(project, loopback.url)
    before = loopback.stats()["requests"]
    shown = invoke("show", run_dir.name)
    no_traceback(shown)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == ran.stdout  # the same table, gate lines and records path
    assert "✓ gate exact >= 0.5 for a × loop: 1" in shown.stdout
    assert "✗ gate exact >= 0.5 for b × loop: 0" in shown.stdout
    assert loopback.stats()["requests"] == before


@pytest.mark.parametrize("how", ["id", "prefix", "path", "run.json", "latest", "default"])
def test_show_finds_a_run_by(
    how: str, two_runs: tuple[Path, Path], loopback: LoopbackServer
) -> None:
    _, newer = two_runs
    ref = {
        "id": [newer.name],
        "prefix": ["20261126-080000-e2e-0"],
        "path": [str(newer)],
        "run.json": [str(newer / "run.json")],
        "latest": ["latest"],
        "default": [],
    }[how]
    before = loopback.stats()["requests"]
    result = invoke("show", *ref, "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == newer.name
    assert loopback.stats()["requests"] == before


def test_show_an_ambiguous_or_unknown_run(two_runs: tuple[Path, Path]) -> None:
    ambiguous = invoke("show", "20261126-080000")
    assert ambiguous.exit_code == 2
    assert "'20261126-080000' matches 2 runs" in ambiguous.stderr
    unknown = invoke("show", "nope")
    assert unknown.exit_code == 2
    assert "no run 'nope' in" in unknown.stderr
    assert "promptbench runs" in unknown.stderr


def test_show_latest_with_no_runs(project: Project) -> None:
    result = invoke("show")
    assert result.exit_code == 2
    assert "no runs in" in result.stderr


def test_show_json_matches_the_runs_own(loopback: LoopbackServer, project: Project) -> None:
    run_dir, ran = make_run(project, loopback.url, "--json")
    shown = json.loads(invoke("show", run_dir.name, "--json").stdout)
    original = json.loads(ran.stdout)
    assert {k: shown[k] for k in original} == original
    assert shown["outcome"] == "gate_failed"
    assert shown["started_at"] and shown["finished_at"]


def test_show_csv_equals_the_runs_own(
    loopback: LoopbackServer, project: Project, tmp_path: Path
) -> None:
    run_dir, _ = make_run(project, loopback.url, "--csv", str(tmp_path / "ran.csv"))
    before = loopback.stats()["requests"]
    result = invoke("show", run_dir.name, "--csv", str(tmp_path / "shown.csv"))
    assert result.exit_code == 0, result.output
    assert f"wrote 6 rows to {tmp_path / 'shown.csv'}" in result.stderr
    assert (tmp_path / "shown.csv").read_bytes() == (tmp_path / "ran.csv").read_bytes()
    assert loopback.stats()["requests"] == before


def test_show_gives_the_runs_verdict_with_its_error_limit(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "q1", "faults": ["400"] * 4}])
    run_dir, ran = make_run(project, loopback.url, "--max-error-rate", "0.5")
    assert ran.exit_code == 1  # 1 of 3 calls failed: under the limit; the gate fails on b
    shown = json.loads(invoke("show", run_dir.name, "--json").stdout)
    assert shown["outcome"] == "gate_failed"
    assert shown["gate"]["max_error_rate"] == 0.5
    assert shown["summary"]["errors"] == 2


def test_show_marks_an_unfinished_run(loopback: LoopbackServer, project: Project) -> None:
    run_dir, _ = make_run(project, loopback.url)
    set_meta(run_dir, status="interrupted")
    result = invoke("show", run_dir.name)
    assert result.exit_code == 0
    assert f"e2e · run {run_dir.name} (interrupted)" in result.stdout


def test_show_a_run_without_records(loopback: LoopbackServer, project: Project) -> None:
    run_dir, _ = make_run(project, loopback.url)
    (run_dir / "records.jsonl").unlink()
    result = invoke("show", run_dir.name)
    no_traceback(result)
    assert result.exit_code == 2
    assert "no records.jsonl" in result.stderr
    # The listing reads run.json only: the run is listed with the tallies it wrote.
    listed = json.loads(invoke("runs", "--json").stdout)
    assert listed[0]["status"] == "finished" and listed[0]["records"] == 6
    assert [g["pass_rate"] for g in listed[0]["groups"]] == [1.0, 0.0]


def test_runs_lists_a_run_from_before_the_tallies_without_pass_rates(
    loopback: LoopbackServer, project: Project
) -> None:
    run_dir, _ = make_run(project, loopback.url)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta.pop("groups")
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    (row,) = json.loads(invoke("runs", "--json").stdout)
    assert row["groups"] == [] and row["cost"] is None and row["records"] == 6
    table = invoke("runs")
    assert table.exit_code == 0 and run_dir.name in table.stdout


def test_help_has_examples() -> None:
    for command in ("runs", "show", "run"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Example: promptbench " + command in result.stdout
