"""A run's verdict for CI: whether its gates hold, or why the run gives none.

:func:`run_verdict` is the one function that decides a run's outcome, from its
metadata and its summary: ``run`` and its exit code, ``show``, ``merge``, the
reports and the Python API all call it, so that they cannot disagree. An
unfinished run (stopped at its budget, interrupted) gives no verdict on its gates;
too many call errors give none either; otherwise the gates decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from promptbench.runner.runmeta import RunMeta
from promptbench.stats.probes import ProbeReport, figure
from promptbench.stats.summary import Summary
from promptbench.suite.metricspec import PROBE_GATE_PREFIX, GateRule


class RunOutcome(Enum):
    """What a run says to CI."""

    PASSED = "passed"  # every gate holds
    NO_GATE = "no_gate"  # the suite has no gate: nothing was checked (exit code 0, never "passed")
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
class GateVerdict:
    """A run's outcome and the gate checks behind it."""

    outcome: RunOutcome
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


def probe_checks(
    summary: Summary, rules: list[GateRule], probes: ProbeReport | None
) -> list[GateCheck]:
    """The probe rules checked per variant × model of the run."""
    out = []
    for g in summary.groups.values():
        for rule in rules:
            _, name, fig = rule.metric.split(".", 2)
            result = probes.result(name, g.variant, g.model) if probes is not None else None
            actual = figure(result, fig) if result is not None else None
            out.append(GateCheck(rule, g.variant, g.model, actual, rule.holds(actual)))
    return out


def gate_verdict(
    summary: Summary,
    rules: tuple[GateRule, ...] | list[GateRule],
    max_error_rate: float,
    probes: ProbeReport | None = None,
) -> GateVerdict:
    """Check every rule against every group; too many call errors overrides the gates.

    A probe's rule (``probe.typos.pdr``) is checked against that probe's result for each
    variant × model; with no result (the probe did not run) it does not hold.
    """
    checks = [
        GateCheck(rule, g.variant, g.model, actual := g.figure(rule.metric), rule.holds(actual))
        for g in summary.groups.values()
        for rule in rules
        if not rule.metric.startswith(PROBE_GATE_PREFIX)
    ]
    probe_rules = [r for r in rules if r.metric.startswith(PROBE_GATE_PREFIX)]
    checks += probe_checks(summary, probe_rules, probes)
    worst = max((g.error_rate for g in summary.groups.values()), default=0.0)
    if summary.records and worst > max_error_rate:
        outcome = RunOutcome.TOO_MANY_ERRORS
    elif any(not c.holds for c in checks):
        outcome = RunOutcome.GATE_FAILED
    elif not rules:
        # A report must not read as a green light when nothing was checked.
        outcome = RunOutcome.NO_GATE
    else:
        outcome = RunOutcome.PASSED
    return GateVerdict(outcome, checks, worst, max_error_rate)


def run_verdict(meta: RunMeta, summary: Summary, probes: ProbeReport | None = None) -> GateVerdict:
    """The run's outcome: its gates as it recorded them, unless it did not finish.

    The checks are made in every case, so that a report can show how far an
    unfinished run had got; only the outcome says that they do not count. A run made
    with ``--probes-only`` is judged by its probes' rules only.
    """
    rules = meta.suite.gate_rules()
    if meta.options.probes_only:
        rules = [r for r in rules if r.metric.startswith(PROBE_GATE_PREFIX)]
    verdict = gate_verdict(summary, rules, meta.max_error_rate, probes)
    if meta.status == "stopped_at_budget":
        verdict.outcome = RunOutcome.BUDGET_EXCEEDED
    elif meta.status == "interrupted":
        verdict.outcome = RunOutcome.INTERRUPTED
    return verdict
