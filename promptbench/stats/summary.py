"""The summary of a run, per variant x model, computed in one pass over the records.

Fed record by record (as a runner observer, or from ``records.jsonl``), so it
never holds the records themselves: per group it keeps counts, sums and the
latencies (8 bytes each) for the percentiles.

A stored run is summarised from its raw lines (:meth:`Summary.of_lines`, the decoded
JSON of ``records.jsonl``) rather than from :class:`Record` objects: building a Record
costs several times what this fold does, and a summary reads a dozen fields of each.
``add_line`` is the one place here that reads a raw line; it reads exactly what
:meth:`Record.from_json` would give :meth:`GroupSummary.add`, defaults included, and
tests hold the two paths to the same figures on the same records.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptbench.runner import BaseObserver
from promptbench.types import Record


@dataclass
class MetricStats:
    """One metric within one group: its mean over scored records, and verdict counts."""

    total: float = 0.0
    scored: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def mean(self) -> float | None:
        """Mean score over the records it scored; errors never enter it."""
        return self.total / self.scored if self.scored else None

    @property
    def pass_rate(self) -> float | None:
        """Share of passes among records with a pass or fail verdict."""
        judged = self.passed + self.failed
        return self.passed / judged if judged else None


@dataclass
class GroupSummary:
    """The figures of one variant x model group."""

    variant: str
    model: str
    records: int = 0
    passed: int = 0
    failed: int = 0
    no_verdict: int = 0  # a metric errored, or no metric applies
    call_errors: int = 0
    cached: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_total: float = 0.0  # spent: cache hits cost nothing
    cost_unknown: int = 0
    cost_saved: float = 0.0  # what the cache saved
    metrics: dict[str, MetricStats] = field(default_factory=dict)
    latencies: array[float] = field(default_factory=lambda: array("d"))
    error_kinds: dict[str, int] = field(default_factory=dict)

    def add(self, r: Record) -> None:
        """Fold one record in."""
        self.records += 1
        self.cached += r.cached
        self.retries += r.retries
        if r.error is not None:
            self.call_errors += 1
            self.error_kinds[r.error.kind] = self.error_kinds.get(r.error.kind, 0) + 1
            return
        if r.passed is True:
            self.passed += 1
        elif r.passed is False:
            self.failed += 1
        else:
            self.no_verdict += 1
        self.prompt_tokens += r.usage.prompt_tokens
        self.completion_tokens += r.usage.completion_tokens
        if r.cost is None:
            self.cost_unknown += 1
        else:
            self.cost_total += r.cost
        self.cost_saved += r.cost_saved
        if r.latency_ms is not None:
            self.latencies.append(r.latency_ms)
        for name, s in r.scores.items():
            m = self.metrics.get(name)
            if m is None:
                m = self.metrics[name] = MetricStats()
            if s.verdict == "error":
                m.errors += 1
                continue
            if s.value is not None:
                m.total += s.value
                m.scored += 1
            if s.passed:
                m.passed += 1
            else:
                m.failed += 1

    def add_line(self, line: Mapping[str, Any]) -> None:
        """Fold one record in, as its ``records.jsonl`` line: :meth:`add` of its Record."""
        self.records += 1
        self.cached += line.get("cached", False)
        self.retries += line.get("retries", 0)
        err = line.get("error")
        if err:  # Record.from_json: a falsy error is no error
            self.call_errors += 1
            kind = err["kind"]
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
            return
        passed = line.get("passed")
        if passed is True:
            self.passed += 1
        elif passed is False:
            self.failed += 1
        else:
            self.no_verdict += 1
        usage = line.get("usage")
        if usage:
            self.prompt_tokens += usage.get("prompt_tokens", 0)
            self.completion_tokens += usage.get("completion_tokens", 0)
        cost = line.get("cost")
        if cost is None:
            self.cost_unknown += 1
        else:
            self.cost_total += cost
        self.cost_saved += line.get("cost_saved") or 0.0
        latency = line.get("latency_ms")
        if latency is not None:
            self.latencies.append(latency)
        scores = line.get("scores")
        if not scores:
            return
        metrics = self.metrics
        for name, s in scores.items():
            m = metrics.get(name)
            if m is None:
                m = metrics[name] = MetricStats()
            s_passed = s.get("passed")
            if s_passed is None or s.get("error") is not None:  # Score.verdict == "error"
                m.errors += 1
                continue
            value = s.get("value")
            if value is not None:
                m.total += value
                m.scored += 1
            if s_passed:
                m.passed += 1
            else:
                m.failed += 1

    @property
    def pass_rate(self) -> float | None:
        """Share of passing cases among those with a verdict."""
        judged = self.passed + self.failed
        return self.passed / judged if judged else None

    @property
    def error_rate(self) -> float:
        """Share of calls that ended in an error."""
        return self.call_errors / self.records if self.records else 0.0

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> float | None:
        """Total USD spent; None when no call had a known price."""
        known = self.records - self.call_errors - self.cost_unknown
        if self.cost_unknown and not known:  # not "and not cost_total": free calls are known
            return None
        return self.cost_total

    @property
    def priced_cost(self) -> float | None:
        """What the calls cost at their prices, cache hits at their original cost.

        The ``total_cost`` gate reads this, so that its verdict does not depend on
        what the cache held.
        """
        spent = self.cost
        return None if spent is None else spent + self.cost_saved

    def latency(self, q: float) -> float | None:
        """The q-quantile of latency in ms (nearest rank)."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(0, math.ceil(q * len(ordered)) - 1)
        return ordered[rank]

    def figure(self, name: str) -> float | None:
        """A figure a gate can name: a metric's mean, or pass_rate, error_rate, ..."""
        if name in self.metrics:
            return self.metrics[name].mean
        figures: dict[str, Any] = {
            "pass_rate": lambda: self.pass_rate,
            "error_rate": lambda: self.error_rate,
            "latency_p50": lambda: self.latency(0.5),
            "latency_p95": lambda: self.latency(0.95),
            "total_cost": lambda: self.priced_cost,
            "total_tokens": lambda: float(self.tokens),
        }
        fn = figures.get(name)
        return fn() if fn else None

    def to_json(self, metric_names: Iterable[str]) -> dict[str, Any]:
        """The group as JSON."""
        return {
            "variant": self.variant,
            "model": self.model,
            "records": self.records,
            "passed": self.passed,
            "failed": self.failed,
            "no_verdict": self.no_verdict,
            "pass_rate": self.pass_rate,
            "errors": self.call_errors,
            "error_rate": self.error_rate,
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "cached": self.cached,
            "retries": self.retries,
            "metrics": {
                name: {
                    "mean": m.mean,
                    "pass_rate": m.pass_rate,
                    "passed": m.passed,
                    "failed": m.failed,
                    "errors": m.errors,
                }
                for name in metric_names
                if (m := self.metrics.get(name)) is not None
            },
            "latency_ms": {"p50": self.latency(0.5), "p95": self.latency(0.95)},
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": self.tokens,
            },
            "cost": self.cost,
            "cost_saved": self.cost_saved,
        }


class Summary(BaseObserver):
    """Every group of a run; an observer, or fed from stored records."""

    def __init__(
        self,
        metric_names: Iterable[str] = (),
        variants: Iterable[str] = (),
        models: Iterable[str] = (),
    ) -> None:
        self.metric_names: list[str] = list(metric_names)
        self.groups: dict[tuple[str, str], GroupSummary] = {}
        # Groups are listed variant by variant, in the suite's order, whatever order
        # their first records arrived in.
        for v in variants:
            for m in models:
                self.groups[(v, m)] = GroupSummary(v, m)

    def add(self, record: Record) -> None:
        """Fold one record in; a probe's twin is left to the probe verdicts."""
        if record.probe is not None:
            return
        key = (record.variant, record.model)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = GroupSummary(record.variant, record.model)
        group.add(record)
        for name in record.scores:
            if name not in self.metric_names:
                self.metric_names.append(name)

    def add_line(self, line: Mapping[str, Any]) -> None:
        """:meth:`add` of a record given as its ``records.jsonl`` line (decoded JSON).

        Raises KeyError or TypeError on a line that is not a record (as reading it
        as a Record would).
        """
        if line.get("probe"):  # Record.from_json: a falsy tag is no probe
            return
        variant, model = line["variant"], line["model"]
        line["case_id"], line["repeat"]
        group = self.groups.get((variant, model))
        if group is None:
            group = self.groups[(variant, model)] = GroupSummary(variant, model)
        group.add_line(line)
        scores = line.get("scores")
        if scores:
            names = self.metric_names
            for name in scores:
                if name not in names:
                    names.append(name)

    def on_record(self, record: Record) -> None:
        """Runner observer hook."""
        self.add(record)

    @classmethod
    def of(
        cls,
        records: Iterable[Record],
        metric_names: Iterable[str] = (),
        variants: Iterable[str] = (),
        models: Iterable[str] = (),
    ) -> Summary:
        """Summarise stored records."""
        s = cls(metric_names, variants, models)
        for r in records:
            s.add(r)
        s.drop_empty()
        return s

    @classmethod
    def of_lines(
        cls,
        lines: Iterable[Mapping[str, Any]],
        metric_names: Iterable[str] = (),
        variants: Iterable[str] = (),
        models: Iterable[str] = (),
    ) -> Summary:
        """:meth:`of` on ``records.jsonl`` lines: the same summary, no Record built."""
        s = cls(metric_names, variants, models)
        add = s.add_line
        for line in lines:
            add(line)
        s.drop_empty()
        return s

    def drop_empty(self) -> None:
        """Forget groups that received no record (filtered out, or an interrupted run)."""
        self.groups = {k: g for k, g in self.groups.items() if g.records}

    @property
    def records(self) -> int:
        """All records."""
        return sum(g.records for g in self.groups.values())

    @property
    def call_errors(self) -> int:
        """All records whose call failed."""
        return sum(g.call_errors for g in self.groups.values())

    @property
    def error_rate(self) -> float:
        """Share of failed calls over the whole run."""
        return self.call_errors / self.records if self.records else 0.0

    def to_json(self) -> dict[str, Any]:
        """Every group as JSON."""
        return {
            "records": self.records,
            "errors": self.call_errors,
            "error_rate": self.error_rate,
            "metrics": self.metric_names,
            "groups": [g.to_json(self.metric_names) for g in self.groups.values()],
        }
