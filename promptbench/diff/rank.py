"""``promptbench rank``: every variant × model of a run on one metric, best first.

Folds a run's records into each setting's per-case values (repeats kept apart, for
:func:`promptbench.stats.rank.rank` to average), its cost and latency, and the grid
parameters its name carries; the ranking itself, and the set as good as the best,
are :mod:`promptbench.stats.rank`'s. Beside the ranking: the cheapest setting of that
set, by cost per call (known prices only). Pure computation; nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
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
    settings: dict[str, _Setting] = {}
    seen_metrics: dict[str, None] = {PASS_RATE: None}
    for r in records:
        name = f"{r.variant}{SEP}{r.model}"
        s = settings.get(name)
        if s is None:
            s = settings[name] = _Setting(r.variant, r.model)
        s.calls += 1
        if r.cost is not None:
            s.cost += r.cost
            s.priced += 1
        if r.latency_ms is not None and r.error is None:
            s.latencies.append(r.latency_ms)
        seen_metrics.update(dict.fromkeys(r.scores))
        applies, value = record_value(r, metric)
        if applies:
            s.values.setdefault(r.case_id, []).append(value)
    if metric not in seen_metrics:
        raise UsageError(f"no metric '{metric}' in the run; it has: {', '.join(seen_metrics)}")
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


__all__ = ["PASS_RATE", "RankReport", "RankRow", "rank_records", "record_value"]
