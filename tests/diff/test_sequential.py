"""SequentialMonitor: per-case differences against the baseline, settled once, then stop."""

from __future__ import annotations

import pytest

from promptbench.diff.sequential import SequentialMonitor, default_rules
from promptbench.suite.regression import RegressionRule
from promptbench.types import Record, Score


def rec(case: str, ok: bool, repeat: int = 0, model: str = "m") -> Record:
    return Record(
        case_id=case,
        variant="v",
        model=model,
        repeat=repeat,
        vars={},
        messages=(),
        scores={"exact": Score(name="exact", value=float(ok), passed=ok)},
        passed=ok,
    )


def test_a_regression_settles_and_asks_to_stop_once() -> None:
    stops: list[str] = []
    baseline = [rec(f"c{i}", True) for i in range(200)]
    monitor = SequentialMonitor(
        baseline, [RegressionRule("exact", 0.0)], [("v", "m")], repeat=1, on_settled=stops.append
    )
    for i in range(200):
        monitor.on_record(rec(f"c{i}", i % 3 == 0))  # two thirds of the cases now fail
    assert stops == ["regression"] and monitor.regressed
    data = monitor.to_json(cases_available=200)
    assert data["settled"] and 0 < data["cases_needed"] < 40
    assert data["cases_run"] == 200 and data["stopped_because"] == "a check found a regression"
    assert data["checks"][0]["metric"] == "exact"


def test_a_case_counts_once_all_its_repeats_are_in() -> None:
    baseline = [rec("c1", True, r) for r in range(3)]
    monitor = SequentialMonitor(baseline, default_rules(["exact"]), [("v", "m")], repeat=3)
    monitor.on_record(rec("c1", False, 0))
    monitor.on_record(rec("c1", False, 1))
    assert not monitor.cases_done
    monitor.on_record(rec("c1", True, 2))
    assert monitor.cases_done == {"c1"}
    check = monitor.checks[(("v", "m"), "exact")]
    assert check.test.n == 1 and check.test.mean == pytest.approx(-2 / 3)
    assert monitor.alpha == 0.05 and check.test.alpha == 0.025  # two rules share alpha


def test_no_difference_stays_unsettled() -> None:
    baseline = [rec(f"c{i}", i % 2 == 0) for i in range(100)]
    monitor = SequentialMonitor(baseline, [RegressionRule("exact")], [("v", "m")], repeat=1)
    for r in baseline:
        monitor.on_record(r)
    assert monitor.verdict is None
    assert monitor.to_json()["verdict"] == "no regression shown"


def test_groups_missing_from_the_baseline_are_not_checked() -> None:
    monitor = SequentialMonitor([rec("c1", True)], [RegressionRule("exact")], [("v", "x")], 1)
    monitor.on_record(rec("c1", False, model="x"))
    assert not monitor.checks and monitor.verdict is None
