"""W&B and sweeps, offline, read back from disk: grid parameters as summary columns and in
the config, and ``rank --wandb`` logging its table to the run it ranks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.e2e import invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model
from tests.report.test_wandb import offline, offline_runs, read_run

pytest.importorskip("wandb")


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
    logged = read_run(first)

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
    again = read_run(runs[-1])
    assert again.run.run_id == logged.run.run_id  # the same W&B run, resumed
    # A key "rank/contains" is the file rank/contains_<step>_<hash>.table.json.
    (path,) = (again.sync_dir / "files" / "media" / "table" / "rank").glob("contains_*.json")
    rank = json.loads(path.read_text(encoding="utf-8"))
    rank_rows = [dict(zip(rank["columns"], row, strict=True)) for row in rank["data"]]
    assert [r["n"] for r in rank_rows[:2]] == [0, 0]
    assert all(r["as_good_as_best"] for r in rank_rows[:2])
    assert not any(r["as_good_as_best"] for r in rank_rows[2:])
    assert "temperature" in rank["columns"]


def test_rank_wandb_needs_a_run_logged_to_wandb(
    project: Project, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline(monkeypatch, tmp_path)
    assert invoke("run", str(project.suite(grid_suite(loopback.url))), "-q").exit_code == 0
    result = invoke("rank", "latest", "--wandb")
    no_traceback(result)
    assert result.exit_code == 2
    assert "was not logged to W&B" in result.stderr
