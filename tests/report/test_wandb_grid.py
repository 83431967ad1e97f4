"""W&B and sweeps, offline, read back from disk: grid parameters as summary columns and in
the config, and ``rank --wandb`` logging its table to the run it ranks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.helpers.e2e import invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model
from tests.report.test_wandb import WandbRun, offline, offline_runs, read_run

pytest.importorskip("wandb")


def settled(sync_dir: Path) -> WandbRun:
    """The run as read back, once wandb's service has written its run record."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return read_run(sync_dir)
        except AssertionError:  # the service may still be writing the file
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def grid_suite(url: str) -> dict[str, object]:
    return {
        "name": "wb-grid",
        "prompts": {"p": {"user": "{{ 'x ' * n }}Q: {{ q }}", "grid": {"n": [0, 2]}}},
        "models": {"loop": {**openai_model(url), "grid": {"temperature": [0, 0.5]}}},
        "cases": qa_cases(6),
        "metrics": [{"contains": "{{ q }}"}],
        "wandb": {"project": "pb-grid"},
    }


def test_grid_columns_config_and_rank_table(
    project: Project, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline(monkeypatch, tmp_path)
    loopback.configure(rules=[{"match": "x x Q", "reply": "nothing"}])  # n=2 fails
    result = invoke("run", str(project.suite(grid_suite(loopback.url))), "-q", "--wandb")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    (first,) = offline_runs(tmp_path / "wandb_dir")
    logged = settled(first)

    (table,) = logged.tables("summary")
    assert table["columns"][:4] == ["variant", "model", "temperature", "n"]
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    by = {(r["temperature"], r["n"]): r["pass_rate"] for r in rows}
    assert by == {(0, 0): 1.0, (0.5, 0): 1.0, (0, 2): 0.0, (0.5, 2): 0.0}
    grid = logged.config["grid"]
    assert grid["models"]["loop[temperature=0.5]"] == {"temperature": 0.5}
    assert grid["variants"]["p[n=2]"] == {"n": 2}
    assert grid["values"] == {"temperature": [0, 0.5], "n": [0, 2]}

    ranked = invoke("rank", "latest", "--metric", "contains", "--wandb")
    no_traceback(ranked)
    assert ranked.exit_code == 0, ranked.output
    runs = offline_runs(tmp_path / "wandb_dir")
    assert len(runs) == 2
    again = settled(runs[-1])
    assert again.run.run_id == logged.run.run_id  # the same W&B run, resumed
    # A key "rank/contains" is the file rank/contains_<step>_<hash>.table.json.
    (path,) = (again.sync_dir / "files" / "media" / "table" / "rank").glob("contains_*.json")
    rank = json.loads(path.read_text(encoding="utf-8"))
    rank_rows = [dict(zip(rank["columns"], row, strict=True)) for row in rank["data"]]
    assert [r["n"] for r in rank_rows[:2]] == [0, 0]
    assert all(r["as_good_as_best"] for r in rank_rows[:2])
    assert not any(r["as_good_as_best"] for r in rank_rows[2:])
    assert "temperature" in rank["columns"]

    compared = invoke("diff", "--variants", "p[n=0]", "p[n=2]", "--wandb")
    no_traceback(compared)
    assert compared.exit_code == 0, compared.output
    third = settled(offline_runs(tmp_path / "wandb_dir")[-1])
    assert third.run.run_id == logged.run.run_id
    (diff,) = third.tables("diff")
    diff_rows = [dict(zip(diff["columns"], row, strict=True)) for row in diff["data"]]
    contains = [r for r in diff_rows if r["metric"] == "contains"]
    assert len(contains) == 2  # one pair per model setting
    assert all(r["mean_a"] == 1.0 and r["mean_b"] == 0.0 for r in contains)


def test_rank_wandb_needs_a_run_logged_to_wandb(
    project: Project, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline(monkeypatch, tmp_path)
    assert invoke("run", str(project.suite(grid_suite(loopback.url))), "-q").exit_code == 0
    result = invoke("rank", "latest", "--wandb")
    no_traceback(result)
    assert result.exit_code == 2
    assert "was not logged to W&B" in result.stderr
