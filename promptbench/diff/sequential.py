"""``run --baseline B --sequential``: decide the regression verdict as the cases come in.

A :class:`SequentialMonitor` watches the run's records (it is an observer). When
every repeat of a case has been recorded for a variant × model, it takes the case's
mean score on each checked metric, the baseline's mean for the same case, and feeds
the difference to an anytime-valid test (:class:`promptbench.stats.sequential.SequentialTest`)
per rule × group. The verdict is settled when a test finds a regression, or when every
test has ruled one out; the monitor then asks the runner to stop starting calls.
The runner calls the cases in a seeded random order (``RunOptions.order_seed``), so
that the cases seen first are a fair sample of the rest.

Several checks share α by Bonferroni's rule (α/k each), which e-values allow at any
stopping time. Pure logic; nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptbench.diff.rank import PASS_RATE, record_value
from promptbench.runner.observer import BaseObserver
from promptbench.stats.sequential import SequentialTest
from promptbench.suite.regression import RegressionRule
from promptbench.types import Record

Group = tuple[str, str]  # (variant, model)


def _mean(values: Sequence[float | None]) -> float | None:
    usable = [v for v in values if v is not None]
    return math.fsum(usable) / len(usable) if usable else None


@dataclass
class _Check:
    group: Group
    rule: RegressionRule
    test: SequentialTest

    def to_json(self) -> dict[str, Any]:
        return {
            "variant": self.group[0],
            "model": self.group[1],
            "metric": self.rule.metric,
            **self.test.to_json(),
        }


@dataclass
class _Pending:
    seen: int = 0
    values: dict[str, list[float | None]] = field(default_factory=dict)


class SequentialMonitor(BaseObserver):
    """The sequential regression verdict of a run against a baseline, updated per case."""

    def __init__(
        self,
        baseline: Iterable[Record],
        rules: Sequence[RegressionRule],
        groups: Sequence[Group],
        repeat: int,
        *,
        alpha: float = 0.05,
        on_settled: Callable[[str], None] | None = None,
    ) -> None:
        metrics = {r.metric for r in rules}
        base: dict[Group, dict[str, dict[str, list[float | None]]]] = {}
        for r in baseline:
            group = (r.variant, r.model)
            if group not in groups:
                continue
            per_case = base.setdefault(group, {}).setdefault(r.case_id, {})
            for metric in metrics:
                applies, value = record_value(r, metric)
                if applies:
                    per_case.setdefault(metric, []).append(value)
        self.baseline = {
            g: {c: {m: _mean(v) for m, v in ms.items()} for c, ms in cases.items()}
            for g, cases in base.items()
        }
        self.repeat = repeat
        checked = [g for g in groups if g in self.baseline]
        k = max(1, len(checked) * len(rules))
        self.alpha = alpha
        self.checks = {
            (g, rule.metric): _Check(g, rule, SequentialTest(rule.margin, alpha / k))
            for g in checked
            for rule in rules
        }
        self._pending: dict[tuple[Group, str], _Pending] = {}
        self.cases_done: set[str] = set()  # cases complete in every checked group
        self._per_case: dict[str, int] = {}
        self._groups = len(checked)
        self.verdict: str | None = None  # "regression" or "no regression" once settled
        self.settled_at: int | None = None  # cases complete when it was settled
        self._on_settled = on_settled

    def on_record(self, record: Record) -> None:
        """Fold one record in; once a case is complete, update the tests."""
        group = (record.variant, record.model)
        if group not in self.baseline:
            return
        key = (group, record.case_id)
        pending = self._pending.setdefault(key, _Pending())
        pending.seen += 1
        for check in self._checks_of(group):
            applies, value = record_value(record, check.rule.metric)
            if applies:
                pending.values.setdefault(check.rule.metric, []).append(value)
        if pending.seen < self.repeat:
            return
        del self._pending[key]
        a_case = self.baseline[group].get(record.case_id, {})
        for check in self._checks_of(group):
            a = a_case.get(check.rule.metric)
            b = _mean(pending.values.get(check.rule.metric, []))
            if a is not None and b is not None:
                check.test.update(max(-1.0, min(1.0, b - a)))
        done = self._per_case[record.case_id] = self._per_case.get(record.case_id, 0) + 1
        if done == self._groups:
            self.cases_done.add(record.case_id)
        self._settle()

    def _checks_of(self, group: Group) -> list[_Check]:
        return [c for (g, _), c in self.checks.items() if g == group]

    def _settle(self) -> None:
        if self.verdict is not None or not self.checks:
            return
        verdicts = [c.test.verdict for c in self.checks.values()]
        if "regression" in verdicts:
            self.verdict = "regression"
        elif all(v == "no regression" for v in verdicts):
            self.verdict = "no regression"
        else:
            return
        self.settled_at = len(self.cases_done)
        if self._on_settled is not None:
            self._on_settled(self.verdict)

    @property
    def regressed(self) -> bool:
        """A test found a regression."""
        return self.verdict == "regression"

    def to_json(self, cases_available: int | None = None) -> dict[str, Any]:
        """What the run records: how many cases were needed, and why it stopped."""
        if self.verdict is None:
            why = "the cases ran out before the verdict was settled: no regression was shown"
        elif self.verdict == "regression":
            why = "a check found a regression"
        else:
            why = "every check ruled a regression out"
        return {
            "method": "anytime-valid test by betting (Waudby-Smith & Ramdas 2024); "
            "alpha split over the checks (Bonferroni)",
            "alpha": self.alpha,
            "verdict": self.verdict or "no regression shown",
            "settled": self.verdict is not None,
            "cases_needed": self.settled_at,
            "cases_run": len(self.cases_done),
            "cases_available": cases_available,
            "stopped_because": why,
            "checks": [c.to_json() for c in self.checks.values()],
        }


def default_rules(metric_names: Iterable[str]) -> list[RegressionRule]:
    """Without rules in the suite: ``pass_rate`` and every metric, at margin 0."""
    return [RegressionRule(m, 0.0) for m in dict.fromkeys([PASS_RATE, *metric_names])]


__all__ = ["SequentialMonitor", "default_rules"]
