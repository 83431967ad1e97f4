"""The CI verdict: gates checked per group; too many call errors overrides them."""

from __future__ import annotations

import pytest

from promptbench.stats.gate import RunOutcome, gate_verdict
from promptbench.stats.summary import Summary
from promptbench.suite.metricspec import GateRule
from promptbench.types import CallError, Record, Score


def rec(variant: str, model: str, value: float | None, *, error: bool = False) -> Record:
    if error:
        return Record("c", variant, model, 0, {}, (), error=CallError("timeout", "timed out"))
    assert value is not None
    passed = value >= 1.0
    return Record(
        "c",
        variant,
        model,
        0,
        {},
        (),
        output="x",
        scores={"exact": Score("exact", value, passed)},
        passed=passed,
        latency_ms=100.0,
        cost=0.01,
    )


def summary(*records: Record) -> Summary:
    return Summary.of(records, ["exact"], variants=["a", "b"], models=["m"])


EXACT_90 = GateRule("exact", ">=", 0.9, ">= 0.9")
ERRORS_BELOW_30 = GateRule("error_rate", "<", 0.3, "< 0.3")


def test_passes_when_every_rule_holds_in_every_group() -> None:
    s2 = summary(rec("a", "m", 1.0), rec("b", "m", 1.0), rec("b", "m", 1.0))
    ok = gate_verdict(s2, [EXACT_90, ERRORS_BELOW_30], 0.1)
    assert ok.outcome is RunOutcome.PASSED
    assert [(c.variant, c.rule.metric, c.actual, c.holds) for c in ok.checks] == [
        ("a", "exact", 1.0, True),
        ("a", "error_rate", 0.0, True),
        ("b", "exact", 1.0, True),
        ("b", "error_rate", 0.0, True),
    ]
    assert ok.failures == []


def test_fails_and_says_which_check() -> None:
    s = summary(rec("a", "m", 1.0), rec("b", "m", 1.0), rec("b", "m", 0.0))
    verdict = gate_verdict(s, [EXACT_90], max_error_rate=0.1)
    assert verdict.outcome is RunOutcome.GATE_FAILED
    [failure] = verdict.failures
    assert (failure.variant, failure.model, failure.actual, failure.holds) == ("b", "m", 0.5, False)
    assert str(failure.rule) == "exact >= 0.9"
    assert failure.to_json() == {
        "rule": "exact >= 0.9",
        "metric": "exact",
        "variant": "b",
        "model": "m",
        "actual": 0.5,
        "holds": False,
    }


def test_threshold_is_inclusive_for_ge() -> None:
    s = summary(rec("a", "m", 0.9))
    assert gate_verdict(s, [EXACT_90], 0.1).outcome is RunOutcome.PASSED
    s = summary(rec("a", "m", 0.89))
    assert gate_verdict(s, [EXACT_90], 0.1).outcome is RunOutcome.GATE_FAILED


def test_unknown_figure_never_holds() -> None:
    s = summary(rec("a", "m", 1.0))
    verdict = gate_verdict(s, [GateRule("judge", ">=", 0.5, ">= 0.5")], 0.1)
    assert verdict.outcome is RunOutcome.GATE_FAILED
    assert verdict.failures[0].actual is None


def test_no_rules_is_no_gate_not_passed() -> None:
    verdict = gate_verdict(summary(rec("a", "m", 0.0)), [], 0.1)
    assert (verdict.outcome, verdict.checks) == (RunOutcome.NO_GATE, [])


def test_too_many_errors_overrides_a_failed_gate() -> None:
    # Group a: 1 of 4 calls failed (0.25); group b: fine. Gate fails in a too.
    s = summary(
        rec("a", "m", 0.0),
        rec("a", "m", 0.0),
        rec("a", "m", 0.0),
        rec("a", "m", None, error=True),
        rec("b", "m", 1.0),
    )
    verdict = gate_verdict(s, [EXACT_90], max_error_rate=0.2)
    assert verdict.outcome is RunOutcome.TOO_MANY_ERRORS
    assert verdict.error_rate == 0.25
    assert verdict.max_error_rate == 0.2
    # The checks are still reported.
    assert [c.holds for c in verdict.checks] == [False, True]


def test_error_rate_is_the_worst_group_not_the_run_average() -> None:
    s = summary(
        rec("a", "m", 1.0),
        rec("a", "m", None, error=True),  # a: 0.5
        *(rec("b", "m", 1.0) for _ in range(8)),  # run: 1 / 10
    )
    verdict = gate_verdict(s, [], max_error_rate=0.2)
    assert s.error_rate == 0.1
    assert verdict.outcome is RunOutcome.TOO_MANY_ERRORS
    assert verdict.error_rate == 0.5


def test_error_rate_at_the_limit_still_gives_a_verdict() -> None:
    s = summary(*(rec("a", "m", 1.0) for _ in range(3)), rec("a", "m", None, error=True))
    assert gate_verdict(s, [EXACT_90], max_error_rate=0.25).outcome is RunOutcome.PASSED
    assert gate_verdict(s, [EXACT_90], max_error_rate=0.24).outcome is RunOutcome.TOO_MANY_ERRORS


def test_empty_run_is_not_too_many_errors() -> None:
    verdict = gate_verdict(Summary(), [EXACT_90], max_error_rate=0.0)
    assert (verdict.outcome, verdict.checks, verdict.error_rate) == (RunOutcome.PASSED, [], 0.0)


@pytest.mark.parametrize(
    ("op", "value", "actual", "holds"),
    [
        (">=", 0.5, 0.5, True),
        (">", 0.5, 0.5, False),
        ("<=", 0.5, 0.5, True),
        ("<", 0.5, 0.5, False),
        ("<", 0.5, 0.4, True),
        ("==", 1.0, 1.0, True),
        ("==", 1.0, 0.99, False),
    ],
)
def test_rule_operators(op: str, value: float, actual: float, holds: bool) -> None:
    assert GateRule("x", op, value, "").holds(actual) is holds


def test_verdict_to_json() -> None:
    s = summary(rec("a", "m", 1.0))
    assert gate_verdict(s, [EXACT_90], 0.1).to_json() == {
        "outcome": "passed",
        "error_rate": 0.0,
        "max_error_rate": 0.1,
        "checks": [
            {
                "rule": "exact >= 0.9",
                "metric": "exact",
                "variant": "a",
                "model": "m",
                "actual": 1.0,
                "holds": True,
            }
        ],
    }
