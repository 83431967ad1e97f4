"""``promptbench rank``: every variant × model of a run on one metric, best first.

Folds a run's records into each setting's per-case values (repeats kept apart, for
:func:`promptbench.stats.rank.rank` to average), its cost and latency, and the grid
parameters its name carries; the ranking itself, and the set as good as the best,
are :mod:`promptbench.stats.rank`'s. Beside the ranking: the cheapest setting of that
set, by cost per call (known prices only). Pure computation; nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptbench.errors import UsageError
from promptbench.stats.rank import DEFAULT_RESAMPLES, RankedSetting, Ranking, rank
from promptbench.suite.grid import parse_name
from promptbench.types import Record

PASS_RATE = "pass_rate"  # the case-level verdict, ranked like a metric
SEP = " × "


@dataclass
class _Setting:
    variant: str
    model: str
    values: dict[str, list[float | None]] = field(default_factory=dict)  # case -> repeats
    calls: int = 0
    cost: float = 0.0
    priced: int = 0
    latencies: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class RankRow:
    """A ranked setting with what it costs and how fast it answers."""

    ranked: RankedSetting
    variant: str
    model: str
    calls: int
    cost: float | None  # USD for all its calls; None when no call had a known price
    latency_p50_ms: float | None
    params: dict[str, Any]  # the grid parameters of its variant and model

    @property
    def cost_per_call(self) -> float | None:
        """Mean USD per call, over all calls; None when unpriced."""
        return None if self.cost is None or not self.calls else self.cost / self.calls

    def to_json(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            **self.ranked.to_json(),
            "variant": self.variant,
            "model": self.model,
            "calls": self.calls,
            "cost": self.cost,
            "cost_per_call": self.cost_per_call,
            "latency_p50_ms": self.latency_p50_ms,
            "params": self.params,
        }


@dataclass(frozen=True)
class RankReport:
    """The ranking of one run on one metric."""

    ranking: Ranking
    rows: tuple[RankRow, ...]
    run_id: str | None = None

    @property
    def cheapest_best(self) -> RankRow | None:
        """The setting of the best set that costs least per call (ties: the better ranked)."""
        priced = [r for r in self.rows if r.ranked.in_best_set and r.cost_per_call is not None]
        return min(priced, key=lambda r: (r.cost_per_call, r.ranked.rank), default=None)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        data = self.ranking.to_json()
        data["rows"] = [r.to_json() for r in self.rows]
        cheapest = self.cheapest_best
        data["cheapest_in_best_set"] = cheapest.ranked.setting if cheapest else None
        data["run_id"] = self.run_id
        return data


def record_value(r: Record, metric: str) -> tuple[bool, float | None]:
    """(whether the metric applies to the record, its value: None for an error)."""
    if metric == PASS_RATE:
        verdict = r.verdict
        if verdict is None:
            return False, None
        return True, None if verdict == "error" else float(verdict == "pass")
    if r.error is not None:
        return True, None  # the call failed: an error for every metric, never a fail
    s = r.scores.get(metric)
    if s is None:
        return False, None
    if s.error is not None:
        return True, None
    if s.value is not None:
        return True, float(s.value) if math.isfinite(s.value) else None
    return (True, None) if s.passed is None else (True, float(s.passed))


def line_value(line: Mapping[str, Any], metric: str) -> tuple[bool, float | None]:
    """:func:`record_value` of the record whose ``records.jsonl`` line is ``line``."""
    err = line.get("error")
    if metric == PASS_RATE:
        if err:
            return True, None
        passed = line.get("passed")
        if passed is None:
            return (True, None) if line.get("scores") else (False, None)
        return True, 1.0 if passed else 0.0
    if err:
        return True, None
    s = (line.get("scores") or {}).get(metric)
    if s is None:
        return False, None
    if s.get("error") is not None:
        return True, None
    value = s.get("value")
    if value is not None:
        return True, float(value) if math.isfinite(value) else None
    passed = s.get("passed")
    return (True, None) if passed is None else (True, float(passed))


class RankFold:
    """What a ranking needs of a run, folded record by record (or line by line)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.settings: dict[str, _Setting] = {}
        self.seen_metrics: dict[str, None] = {PASS_RATE: None}

    def _setting(self, variant: str, model: str) -> _Setting:
        name = f"{variant}{SEP}{model}"
        s = self.settings.get(name)
        if s is None:
            s = self.settings[name] = _Setting(variant, model)
        return s

    def add(self, r: Record) -> None:
        """Fold one record in."""
        self.seen_metrics.update(dict.fromkeys(r.scores))
        applies, value = record_value(r, self.metric)
        latency = r.latency_ms if r.error is None else None
        self.add_call(r.variant, r.model, r.case_id, r.cost, latency, applies, value)

    def add_line(self, line: Mapping[str, Any]) -> None:
        """:meth:`add` of the record whose ``records.jsonl`` line is ``line``."""
        scores = line.get("scores")
        if scores:
            self.seen_metrics.update(dict.fromkeys(scores))
        applies, value = line_value(line, self.metric)
        latency = None if line.get("error") else line.get("latency_ms")
        self.add_call(
            line["variant"],
            line["model"],
            line["case_id"],
            line.get("cost"),
            latency,
            applies,
            value,
        )

    def add_call(
        self,
        variant: str,
        model: str,
        case_id: str,
        cost: float | None,
        latency_ms: float | None,
        applies: bool,
        value: float | None,
    ) -> None:
        """Fold in one record given by what the ranking reads of it.

        ``latency_ms``: None for a failed call; ``applies`` and ``value`` as
        :func:`record_value` gives them for the fold's metric.
        """
        s = self._setting(variant, model)
        s.calls += 1
        if cost is not None:
            s.cost += cost
            s.priced += 1
        if latency_ms is not None:
            s.latencies.append(latency_ms)
        if applies:
            s.values.setdefault(case_id, []).append(value)

    def report(
        self,
        *,
        alpha: float = 0.05,
        n_resamples: int = DEFAULT_RESAMPLES,
        seed: int = 0,
        run_id: str | None = None,
    ) -> RankReport:
        """Rank what was folded in (:func:`rank_records`)."""
        return _report(self, alpha, n_resamples, seed, run_id)


def rank_records(
    records: Iterable[Record],
    metric: str,
    *,
    alpha: float = 0.05,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    run_id: str | None = None,
) -> RankReport:
    """Rank every variant × model of ``records`` on ``metric`` (or ``pass_rate``)."""
    fold = RankFold(metric)
    for r in records:
        fold.add(r)
    return fold.report(alpha=alpha, n_resamples=n_resamples, seed=seed, run_id=run_id)


def _report(
    fold: RankFold, alpha: float, n_resamples: int, seed: int, run_id: str | None
) -> RankReport:
    metric, settings = fold.metric, fold.settings
    if metric not in fold.seen_metrics:
        known = ", ".join(fold.seen_metrics)
        raise UsageError(f"no metric '{metric}' in the run; it has: {known}")
    scored = {name: s.values for name, s in settings.items() if s.values}
    if not scored:
        raise UsageError(f"no record has a value for '{metric}'")
    try:
        ranking = rank(scored, metric=metric, alpha=alpha, n_resamples=n_resamples, seed=seed)
    except ValueError as exc:
        raise UsageError(f"cannot rank on '{metric}': {exc}") from None
    rows = []
    for ranked in ranking.rows:
        s = settings[ranked.setting]
        params: dict[str, Any] = {}
        for part in (s.model, s.variant):
            point = parse_name(part)
            if point is not None:
                params.update(point.as_dict())
        ordered = sorted(s.latencies)
        rows.append(
            RankRow(
                ranked=ranked,
                variant=s.variant,
                model=s.model,
                calls=s.calls,
                cost=s.cost if s.priced else None,
                latency_p50_ms=ordered[max(0, math.ceil(0.5 * len(ordered)) - 1)]
                if ordered
                else None,
                params=params,
            )
        )
    return RankReport(ranking, tuple(rows), run_id)


__all__ = [
    "PASS_RATE",
    "RankFold",
    "RankReport",
    "RankRow",
    "line_value",
    "rank_records",
    "record_value",
]
