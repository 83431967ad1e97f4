"""A run written by the landed version (no schema_version, gate rules as strings) still opens.

tests/fixtures/landed-run holds two runs as that version wrote them (its README says how):
a suite of two variants on the mock provider, with a gate, a regression rule and one call
error; and a run of it that ``--max-cost`` stopped while every gate held.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import promptbench
from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.project import Project

FIXTURE = Path(__file__).parents[1] / "fixtures" / "landed-run"


@pytest.fixture
def landed(project: Project) -> str:
    """The landed runs, copied into the project's runs directory; the finished one's id."""
    runs = sorted(p for p in FIXTURE.iterdir() if (p / "run.json").is_file())
    for source in runs:
        shutil.copytree(source, project.root / "runs" / source.name)
    (finished,) = [p.name for p in runs if "-landed-fixture-" in p.name]
    return finished


def budget_run(project: Project) -> str:
    (name,) = [p.name for p in (project.root / "runs").iterdir() if "-landed-budget-" in p.name]
    return name


def test_show_reprints_the_landed_run_and_its_verdict(landed: str) -> None:
    result = invoke("show", landed, "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["run_id"] == landed and data["status"] == "finished"
    assert data["summary"]["records"] == 10
    # q4 and q10 are answered wrongly by both variants (0.6 < 0.833333); the call error
    # (plain's q1, the first call) leaves plain at 2 of 4.
    assert data["outcome"] == "gate_failed"
    checks = {(c["variant"], c["metric"]): c["holds"] for c in data["gate"]["checks"]}
    assert checks[("plain", "exact")] is False
    assert checks[("polite", "pass_rate")] is True
    table = invoke("show", landed)
    assert table.exit_code == 0
    assert "gate exact >= 0.833333 for plain × scripted" in table.stdout


def test_a_landed_run_stopped_at_its_budget_shows_as_stopped(landed: str, project: Project) -> None:
    # The landed `show` judged this run on its gates ("too_many_errors" here, as one of
    # plain's 3 calls failed); the run itself had said "budget_exceeded", exit 3.
    result = invoke("show", budget_run(project), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "stopped_at_budget"
    assert data["outcome"] == data["gate"]["outcome"] == "budget_exceeded"
    table = invoke("show", budget_run(project))
    assert "stopped at the budget: spent $25.0000 of $30.0000" in table.stdout


def test_runs_lists_the_landed_run(landed: str) -> None:
    result = invoke("runs", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["run_id"]: row for row in json.loads(result.stdout)}
    assert len(rows) == 2
    assert rows[landed]["records"] == 10 and rows[landed]["errors"] == 1


def test_diff_compares_the_variants_of_the_landed_run(landed: str) -> None:
    result = invoke("diff", landed, "--variants", "plain", "polite", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "variants"
    assert data["verdicts"]["worse"] == data["verdicts"]["better"] == 0
    gated = invoke("diff", landed, landed, "--fail-on-regression", "--json")
    assert gated.exit_code == 0, gated.output
    rules = json.loads(gated.stdout)["regression"]["rules"]
    assert rules == [{"metric": "exact", "margin": 0.125}]  # as the landed run recorded it


def test_report_baseline_and_load_run_read_the_landed_run(landed: str, project: Project) -> None:
    report = invoke("report", landed, "--html", "landed.html")
    assert report.exit_code == 0, report.output
    assert Path("landed.html").stat().st_size > 0
    saved = invoke("baseline", "save", landed, "base.json")
    assert saved.exit_code == 0, saved.output
    base = json.loads(Path("base.json").read_text(encoding="utf-8"))
    assert base["suite"]["regression"] == [{"metric": "exact", "margin": 0.125}]
    assert base["run"]["run_id"] == landed
    df = promptbench.load_run(landed, runs_dir=project.root / "runs")
    assert len(df) == 10
    assert df.attrs["run"]["suite"]["name"] == "landed-fixture"
