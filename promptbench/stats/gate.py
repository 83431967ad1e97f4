"""The run's verdict for CI: whether the gates hold, or too many calls failed to say."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from promptbench.stats.summary import Summary
from promptbench.suite.metricspec import GateRule


class Outcome(Enum):
    """What the run says to CI."""

    PASSED = "passed"  # every gate holds (or there is none)
    GATE_FAILED = "gate_failed"
    TOO_MANY_ERRORS = "too_many_errors"
    BUDGET_EXCEEDED = "budget_exceeded"  # --max-cost stopped the run before the end
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class GateCheck:
    """One rule checked against one group."""

    rule: GateRule
    variant: str
    model: str
    actual: float | None
    holds: bool

    def to_json(self) -> dict[str, Any]:
        """The check as JSON."""
        return {
            "rule": str(self.rule),
            "metric": self.rule.metric,
            "variant": self.variant,
            "model": self.model,
            "actual": self.actual,
            "holds": self.holds,
        }


@dataclass
class Verdict:
    """The outcome and the checks behind it."""

    outcome: Outcome
    checks: list[GateCheck] = field(default_factory=list)
    error_rate: float = 0.0
    max_error_rate: float = 0.0

    @property
    def failures(self) -> list[GateCheck]:
        """The checks that did not hold."""
        return [c for c in self.checks if not c.holds]

    def to_json(self) -> dict[str, Any]:
        """The verdict as JSON."""
        return {
            "outcome": self.outcome.value,
            "error_rate": self.error_rate,
            "max_error_rate": self.max_error_rate,
            "checks": [c.to_json() for c in self.checks],
        }


def judge(
    summary: Summary, rules: tuple[GateRule, ...] | list[GateRule], max_error_rate: float
) -> Verdict:
    """Check every rule against every group; too many call errors overrides the gates."""
    checks = [
        GateCheck(rule, g.variant, g.model, actual := g.figure(rule.metric), rule.holds(actual))
        for g in summary.groups.values()
        for rule in rules
    ]
    worst = max((g.error_rate for g in summary.groups.values()), default=0.0)
    if summary.records and worst > max_error_rate:
        outcome = Outcome.TOO_MANY_ERRORS
    elif any(not c.holds for c in checks):
        outcome = Outcome.GATE_FAILED
    else:
        outcome = Outcome.PASSED
    return Verdict(outcome, checks, worst, max_error_rate)
