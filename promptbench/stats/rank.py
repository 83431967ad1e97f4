"""Rank K settings (variant × model) on one metric, and the set as good as the best.

Given each setting's score per case, :func:`rank` orders the settings best first, each
with a bootstrap interval of its mean and of its gap to the best, and finds the
settings *not significantly worse than the best*.

The procedure: Hansen, Lunde & Nason's model confidence set (MCS; "The Model
Confidence Set", Econometrica 79(2), 2011, 453-497), with their range statistic
T_R and a bootstrap by case. Start with every setting. While more than one is left:
T_R = max over pairs i, j left of |mean_i − mean_j| / se_ij; its null distribution is
that of the same maximum over the bootstrap replicates, centred on the observed
means (so the replicates describe noise around any configuration of true means).
If the p-value is below α, drop the setting most significantly worse than another
left (the largest (mean_j − mean_i)/se_ij) and test again; otherwise stop. The settings
left are the set. Each setting's MCS p-value is the largest p-value seen up to its
removal (the survivors': the last test's), so the set at level α is {p ≥ α}.

Why this procedure:

* Its guarantee is the one asked for: the set contains *every* truly best setting
  (ties included) with probability at least 1 − α (asymptotically). Holm's tests of
  each setting against the empirical best, or Hsu's MCB, cover one best setting;
  with three tied at the top, the winner's curse (the empirical best is the luckiest
  of them) pushes its tied peers out more often than α.
* It is paired: a replicate resamples cases, keeping every setting's score on a
  case together, so case difficulty shared by all settings cancels in the gaps.
* Multiplicity is paid only over the settings still in play, and through the
  maximum of correlated statistics, not a Bonferroni bound: clearly worse settings
  are dropped first, and the last tests are among a few close contenders.

The standard errors se_ij are the bootstrap standard deviations of the paired mean
differences. Repeats are averaged per case first (cases are the unit, as in
:mod:`promptbench.stats.compare`); a case missing a usable value for some setting is
left out of the ranking (counted in ``dropped``), so that every gap is paired on the
same cases. ``python bench/bench_rank.py`` checks the set's coverage and power by
simulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DEFAULT_RESAMPLES = 2000
_BLOCK_CELLS = 4_000_000  # resampling weights held at once: replicates x cases

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RankedSetting:
    """One setting's place: its mean with an interval, its gap to the best, its MCS p-value."""

    setting: str
    rank: int  # 1 = best
    mean: float
    ci_low: float
    ci_high: float
    gap: float  # how far below the best (above, for a metric where lower is better); >= 0
    gap_low: float
    gap_high: float
    p_value: float  # the MCS p-value: in the set at level alpha iff p_value >= alpha
    in_best_set: bool

    def to_json(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "setting": self.setting,
            "rank": self.rank,
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "gap": self.gap,
            "gap_low": self.gap_low,
            "gap_high": self.gap_high,
            "p_value": self.p_value,
            "in_best_set": self.in_best_set,
        }


@dataclass(frozen=True)
class Ranking:
    """Every setting, best first, and which are as good as the best."""

    metric: str
    higher_is_better: bool
    alpha: float
    confidence: float
    n_cases: int  # cases with a value for every setting: what the ranking uses
    dropped: tuple[str, ...]  # cases left out: no usable value for some setting
    rows: tuple[RankedSetting, ...]
    method: str = "model confidence set (Hansen, Lunde & Nason 2011), T_R, bootstrap by case"

    @property
    def best_set(self) -> list[str]:
        """The settings not significantly worse than the best, best first."""
        return [r.setting for r in self.rows if r.in_best_set]

    def to_json(self) -> dict[str, Any]:
        """The ranking as JSON."""
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "method": self.method,
            "n_cases": self.n_cases,
            "n_dropped": len(self.dropped),
            "dropped": list(self.dropped),
            "best_set": self.best_set,
            "rows": [r.to_json() for r in self.rows],
        }


def case_matrix(
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
) -> tuple[list[str], list[str], FloatArray, list[str]]:
    """Settings, the cases every setting has a value on, their case means (cases × settings).

    ``scores[setting][case]`` holds a case's values over repeats, None for an error.
    Returns the settings, the complete cases, the matrix, and the cases dropped.
    """
    settings = list(scores)
    ids: dict[str, None] = {}
    for per_case in scores.values():
        ids.update(dict.fromkeys(per_case))
    kept: list[str] = []
    dropped: list[str] = []
    rows: list[list[float]] = []
    per_setting = [scores[s] for s in settings]
    isfinite = math.isfinite
    for case_id in ids:
        row = []
        for per_case in per_setting:
            got = per_case.get(case_id, ())
            if len(got) == 1:  # one repeat, as most are: its value is its mean, exactly
                v = got[0]
                if v is None or not isfinite(v := float(v)):
                    break
                row.append(v)
                continue
            values = [float(v) for v in got if v is not None]
            if not values or not all(isfinite(v) for v in values):
                break
            row.append(math.fsum(values) / len(values))
        if len(row) == len(settings):
            kept.append(case_id)
            rows.append(row)
        else:
            dropped.append(case_id)
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(settings))
    return settings, kept, matrix, dropped


def bootstrap_case_means(x: FloatArray, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Column means of ``n_resamples`` resamples of the rows (cases) of ``x``, with replacement.

    A resample is drawn as counts over the cases, and the means as one matrix
    product, in blocks that keep the counts to a few million cells.

    When the cases have few distinct rows of values (pass rates: every setting passes
    or fails a case, 2**K kinds of case at most), a resample's means depend only on how
    many cases of each kind it drew, and those counts are multinomial over the kinds'
    shares: they are drawn as such, K-by-kinds numbers per resample instead of one per
    case. The same distribution as drawing cases (the sum of multinomial counts over a
    kind's cases is multinomial with the kind's share), other numbers from the same
    seed than drawing every case: a 50,000-case ranking's bootstrap went from most of
    a second to a few milliseconds.
    """
    n = x.shape[0]
    kinds = _kinds(x)
    if kinds is not None:
        shares, distinct = kinds
        counts = rng.multinomial(n, shares, size=n_resamples)
        out: FloatArray = counts.astype(np.float64) @ distinct / n
        return out
    out = np.empty((n_resamples, x.shape[1]))
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n_resamples, block):
        rows = min(start + block, n_resamples) - start
        # Counts from drawn indices (bincount with a row offset): the same distribution
        # as numpy's multinomial, which is several times slower.
        drawn = rng.integers(0, n, size=(rows, n))
        drawn += (np.arange(rows) * n)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n)
        out[start : start + rows] = counts.astype(np.float64) @ x / n
    return out


def _kinds(x: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """The share of the cases of each distinct row of ``x``, and those rows.

    None unless the rows are few: at most one per eight cases (else drawing the cases
    costs no more), and 1,024 at most.
    """
    n = x.shape[0]
    if n < 64 or not np.isfinite(x).all():
        return None
    distinct, counts = np.unique(x, axis=0, return_counts=True)
    if distinct.shape[0] * 8 > n or distinct.shape[0] > 1024:
        return None
    return counts / n, np.ascontiguousarray(distinct)


def model_confidence_set(means: FloatArray, replicates: FloatArray, alpha: float) -> FloatArray:
    """Each setting's MCS p-value (higher means are better), from bootstrap replicates.

    ``means``: the K observed means; ``replicates``: B × K bootstrap means. The set at
    level alpha is the settings whose p-value is at least alpha.
    """
    k = means.shape[0]
    p_values = np.ones(k)
    if k == 1:
        return p_values
    dev = replicates - means  # centred: noise around the observed configuration
    cov = np.atleast_2d(np.cov(replicates, rowvar=False, ddof=0))
    var = np.diag(cov)
    # K × K bootstrap standard errors of the paired gaps: var(a − b) = var a + var b − 2 cov.
    se = np.sqrt(np.maximum(var[:, None] + var[None, :] - 2.0 * cov, 0.0))
    gap = means[:, None] - means[None, :]  # gap[i, j] = mean_i − mean_j
    tiny = 1e-9  # below this a gap has no noise (two settings that agree on every case)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > tiny, gap / se, np.where(np.abs(gap) > tiny, np.inf * np.sign(gap), 0.0))
    safe_se = np.where(se > tiny, se, np.inf)  # a gap with no noise adds nothing to T*
    # Each replicate's |centred gap| / se for every pair, when it fits in memory; else per row.
    whole = replicates.shape[0] * k * k <= _BLOCK_CELLS
    scaled = np.abs(dev[:, :, None] - dev[:, None, :]) / safe_se if whole else None
    alive = list(range(k))
    running = 0.0
    b = replicates.shape[0]
    while len(alive) > 1:
        idx = np.array(alive)
        observed = float(np.abs(t[np.ix_(idx, idx)]).max())
        if scaled is not None:
            stat = scaled[:, idx[:, None], idx].max(axis=(1, 2))
        else:
            stat = np.zeros(b)
            for i in idx:
                ti = np.abs(dev[:, [i]] - dev[:, idx]) / safe_se[i, idx]
                np.maximum(stat, ti.max(axis=1), out=stat)
        p = (1.0 + float(np.count_nonzero(stat >= observed - 1e-12))) / (b + 1.0)
        running = max(running, p)
        if p >= alpha:
            break
        # The one most significantly worse than another still in: largest t[j, i].
        worse_by = t[np.ix_(idx, idx)].max(axis=0)
        out = int(idx[int(np.argmax(worse_by))])
        p_values[out] = running
        alive.remove(out)
    for i in alive:
        p_values[i] = running if len(alive) > 1 else 1.0
    return p_values


def rank(
    scores: Mapping[str, Mapping[str, Sequence[float | None]]],
    *,
    metric: str = "",
    higher_is_better: bool = True,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Ranking:
    """Rank the settings of ``scores`` (``scores[setting][case]``: values over repeats)."""
    if not 0.0 < alpha < 1.0 or not 0.0 < confidence < 1.0:
        raise ValueError("alpha and confidence must be in (0, 1)")
    settings, kept, x, dropped = case_matrix(scores)
    if not settings:
        raise ValueError("rank: no settings")
    if not kept:
        raise ValueError("rank: no case has a usable value for every setting")
    sign = 1.0 if higher_is_better else -1.0
    rng = np.random.default_rng(seed)
    reps = bootstrap_case_means(x, n_resamples, rng)
    means = x.mean(axis=0)
    p_values = model_confidence_set(sign * means, sign * reps, alpha)
    order = sorted(range(len(settings)), key=lambda i: (-sign * means[i], settings[i]))
    best = order[0]
    tail = (1.0 - confidence) / 2.0
    rows = []
    for place, i in enumerate(order, start=1):
        low, high = np.quantile(reps[:, i], [tail, 1.0 - tail])
        gaps = sign * (reps[:, best] - reps[:, i])
        g_low, g_high = np.quantile(gaps, [tail, 1.0 - tail])
        rows.append(
            RankedSetting(
                setting=settings[i],
                rank=place,
                mean=float(means[i]),
                ci_low=float(low),
                ci_high=float(high),
                gap=float(sign * (means[best] - means[i])),
                gap_low=float(g_low),
                gap_high=float(g_high),
                p_value=float(p_values[i]),
                in_best_set=bool(p_values[i] >= alpha),
            )
        )
    return Ranking(
        metric=metric,
        higher_is_better=higher_is_better,
        alpha=alpha,
        confidence=confidence,
        n_cases=len(kept),
        dropped=tuple(dropped),
        rows=tuple(rows),
    )


__all__ = ["RankedSetting", "Ranking", "bootstrap_case_means", "model_confidence_set", "rank"]
