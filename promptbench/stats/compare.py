"""Is B really better or worse than A on a metric? Paired, case by case.

The unit of analysis is the case. Repeats of a case are averaged first, because repeats
share the case's difficulty: 10 cases run 20 times are 10 observations of how A and B
differ, not 200, and treating them as 200 would shrink intervals and p-values that
have no right to shrink. So the interval resamples cases and the tests permute cases.

Errors (None values) never enter a figure: they are dropped and counted. A case with
usable values on only one side is unpaired: it is listed in the result, not compared.

Pure computation (numpy only where a big sample is resampled); nothing here prints.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import Any, Literal

from promptbench.stats.moments import stdev
from promptbench.stats.power import mde_binary, mde_continuous
from promptbench.stats.resample import CiMethod, bootstrap_ci
from promptbench.stats.significance import (
    Significance,
    mcnemar_exact,
    sign_flip_test,
    wilcoxon_signed_rank,
)

Kind = Literal["binary", "continuous"]
TestName = Literal["auto", "mcnemar", "permutation", "wilcoxon"]
ComparisonVerdict = Literal["better", "worse", "no detectable difference", "no data"]

# Percentile, not BCa, from the coverage simulations (bench/bench_stats.py, part f):
# the two agree from ~50 cases on, and below that BCa covers less, most with few
# discordant pairs (0.95 -> 0.90 at 30 cases, 2,000 simulations: 91.1% against 87.9%).
DEFAULT_CI_METHOD: CiMethod = "percentile"
DEFAULT_RESAMPLES = 2000
DEFAULT_PERMUTATIONS = 10_000


@dataclass(frozen=True)
class PairedMetric:
    """One metric measured on A and on B, per case, per repeat.

    ``a`` and ``b`` map a case id to its values over repeats; None is an error.
    Binary values are 0.0 (fail) or 1.0 (pass). ``higher_is_better`` says which
    direction the verdict calls "better".
    """

    name: str
    kind: Kind
    a: Mapping[str, Sequence[float | None]]
    b: Mapping[str, Sequence[float | None]]
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("binary", "continuous"):
            raise ValueError(f"metric {self.name!r}: kind must be 'binary' or 'continuous'")
        for side, values_by_case in (("A", self.a), ("B", self.b)):
            try:
                # A big run has few distinct values and many cases: check each value once,
                # and only when one is bad, find the case that holds it for the message.
                distinct = {v for values in values_by_case.values() for v in values}
            except TypeError:  # an unhashable value: look at every one
                distinct = None
            if distinct is not None:
                distinct.discard(None)
                good = (0.0, 1.0) if self.kind == "binary" else None
                if all(
                    isinstance(v, int | float) and math.isfinite(v) and (good is None or v in good)
                    for v in distinct
                ):
                    continue
            for case_id, values in values_by_case.items():
                for v in values:
                    if v is None:
                        continue
                    if not isinstance(v, int | float) or not math.isfinite(v):
                        raise ValueError(
                            f"metric {self.name!r}, {side}, case {case_id!r}: {v!r} is not a "
                            "finite number (record a failed score as None, an error)"
                        )
                    if self.kind == "binary" and v not in (0.0, 1.0):
                        raise ValueError(
                            f"metric {self.name!r}, {side}, case {case_id!r}: binary value "
                            f"{v!r} is not 0.0 or 1.0"
                        )


@dataclass(frozen=True, kw_only=True)
class MetricComparison:
    """The comparison of one metric, B against A. Means are over paired cases only.

    ``diff`` is mean_b − mean_a, ``ci_low``/``ci_high`` its bootstrap interval,
    ``p_value`` the paired test's, ``p_adjusted`` after Holm across the family compared
    together (equal to ``p_value`` for a single comparison), ``mde`` the smallest
    absolute difference this sample detects with 80% power at the level Holm holds
    each test of the family to at worst (alpha/m, see :func:`family_alpha`). Figures are None when
    there is nothing to compute them from, never NaN.
    """

    name: str
    kind: Kind
    test: str  # the method that produced p_value, e.g. "mcnemar-exact"
    ci_method: CiMethod
    alpha: float
    confidence: float
    higher_is_better: bool
    n_paired: int
    unpaired_a: tuple[str, ...]  # usable values on A only
    unpaired_b: tuple[str, ...]
    no_data: tuple[str, ...]  # present, but only errors on both sides
    n_errors_a: int  # None values dropped
    n_errors_b: int
    max_repeats: int  # most usable repeats behind one case mean, either side
    n_b_higher: int  # paired cases where B's case mean is above A's
    n_b_lower: int
    n_tied: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    direction: int  # the sign of B − A that the test saw (Wilcoxon: of the rank sum)
    mde: float | None
    verdict: ComparisonVerdict

    @property
    def n_unpaired_a(self) -> int:
        """Cases with usable values on A only."""
        return len(self.unpaired_a)

    @property
    def n_unpaired_b(self) -> int:
        """Cases with usable values on B only."""
        return len(self.unpaired_b)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types; a figure that cannot be computed is None (null), never NaN."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "test": self.test,
            "ci_method": self.ci_method,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "higher_is_better": self.higher_is_better,
            "n_paired": self.n_paired,
            "n_unpaired_a": self.n_unpaired_a,
            "n_unpaired_b": self.n_unpaired_b,
            "unpaired_a": list(self.unpaired_a),
            "unpaired_b": list(self.unpaired_b),
            "no_data": list(self.no_data),
            "n_errors_a": self.n_errors_a,
            "n_errors_b": self.n_errors_b,
            "max_repeats": self.max_repeats,
            "n_b_higher": self.n_b_higher,
            "n_b_lower": self.n_b_lower,
            "n_tied": self.n_tied,
            "direction": self.direction,
            "verdict": self.verdict,
        }
        figures = ("mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "mde")
        for key in figures:
            value = getattr(self, key)
            out[key] = value if value is not None and math.isfinite(value) else None
        return out


@dataclass
class CasePairs:
    """One metric's cases as a comparison uses them: the paired differences, the rest counted.

    :func:`compare` makes one from a :class:`PairedMetric`; a caller that holds its
    values in columns (``promptbench diff``) can make the same figures itself and hand
    them to :func:`compare_pairs`.
    """

    diffs: list[float] = field(default_factory=list)  # per case: mean(B) − mean(A)
    sum_a: float = 0.0
    sum_b: float = 0.0
    single: bool = True  # every paired case has exactly one usable value per side
    max_repeats: int = 0
    unpaired_a: list[str] = field(default_factory=list)
    unpaired_b: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    errors_a: int = 0
    errors_b: int = 0


def _pair(metric: PairedMetric) -> CasePairs:
    pairs = CasePairs()
    ids = list(metric.a) + [c for c in metric.b if c not in metric.a]
    for case_id in ids:
        raw_a, raw_b = metric.a.get(case_id, ()), metric.b.get(case_id, ())
        if len(raw_a) == 1 and len(raw_b) == 1 and raw_a[0] is not None and raw_b[0] is not None:
            # One usable value a side (most cases of most runs): the general branch
            # below, without its lists; fsum of one value is that value.
            mean_a, mean_b = float(raw_a[0]), float(raw_b[0])
            pairs.sum_a += mean_a
            pairs.sum_b += mean_b
            pairs.diffs.append(round(mean_b - mean_a, 12))
            pairs.max_repeats = max(pairs.max_repeats, 1)
            continue
        va = [float(v) for v in raw_a if v is not None]
        vb = [float(v) for v in raw_b if v is not None]
        pairs.errors_a += len(raw_a) - len(va)
        pairs.errors_b += len(raw_b) - len(vb)
        if va and vb:
            mean_a, mean_b = math.fsum(va) / len(va), math.fsum(vb) / len(vb)
            pairs.sum_a += mean_a
            pairs.sum_b += mean_b
            # Rounded so that equal differences reached by different float paths
            # (2/3 − 1/3 and 1 − 2/3) tie exactly: ranks, counts and grouping rely on it.
            pairs.diffs.append(round(mean_b - mean_a, 12))
            pairs.single = pairs.single and len(va) == len(vb) == 1
            pairs.max_repeats = max(pairs.max_repeats, len(va), len(vb))
        elif va:
            pairs.unpaired_a.append(case_id)
        elif vb:
            pairs.unpaired_b.append(case_id)
        else:
            pairs.no_data.append(case_id)
    return pairs


def case_differences(metric: PairedMetric) -> list[float]:
    """Per case with usable values on both sides: mean(B) − mean(A) over its repeats."""
    return _pair(metric).diffs


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order.

    The i-th smallest p is multiplied by (m − i + 1), then made monotone (an adjusted p
    is never below the one before it in sorted order) and capped at 1. Rejecting where
    the adjusted p ≤ α controls the family-wise error rate at α.
    """
    for p in p_values:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"holm: p-values must be in [0, 1], got {p}")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _verdict(p: float, direction: int, alpha: float, higher_is_better: bool) -> ComparisonVerdict:
    if p > alpha or direction == 0:
        return "no detectable difference"
    return "better" if (direction > 0) == higher_is_better else "worse"


def _run_test(
    test: TestName, pairs: CasePairs, kind: Kind, n_permutations: int, seed: int
) -> Significance:
    if test == "auto":
        test = "mcnemar" if kind == "binary" and pairs.single else "permutation"
    if test == "mcnemar":
        if kind != "binary" or not pairs.single:
            raise ValueError(
                "McNemar's test needs binary values with one repeat per case on each side; "
                "use test='permutation' (the default) for repeats or continuous scores"
            )
        # With one 0/1 value a side, a difference is -1 (B lost the case), 0 or +1.
        return mcnemar_exact(pairs.diffs.count(-1.0), pairs.diffs.count(1.0))
    if test == "permutation":
        # Its own stream, so the p-value does not depend on the interval's settings.
        rng = random.Random(f"{seed}/permutation")
        return sign_flip_test(pairs.diffs, n_permutations=n_permutations, rng=rng)
    if test == "wilcoxon":
        return wilcoxon_signed_rank(pairs.diffs)
    raise ValueError(f"unknown test {test!r}; use auto, mcnemar, permutation or wilcoxon")


def compare(
    metric: PairedMetric,
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    test: TestName = "auto",
    ci_method: CiMethod = DEFAULT_CI_METHOD,
    power: float = 0.8,
) -> MetricComparison:
    """Compare B against A on one metric over the cases both have.

    ``test="auto"`` uses exact McNemar for binary values with one repeat per case, and
    the paired permutation test on per-case means otherwise; ``"wilcoxon"`` is offered.
    The interval is a bootstrap over cases (``n_resamples`` resamples, seeded by
    ``seed``). The verdict is "better" or "worse" when p ≤ ``alpha``, in the direction
    the test saw; use :func:`compare_all` to compare several metrics or pairs with a
    Holm correction.
    """
    _check_settings(alpha, confidence, n_resamples, n_permutations)
    return compare_pairs(
        metric.name,
        metric.kind,
        _pair(metric),
        higher_is_better=metric.higher_is_better,
        alpha=alpha,
        confidence=confidence,
        n_resamples=n_resamples,
        n_permutations=n_permutations,
        seed=seed,
        test=test,
        ci_method=ci_method,
        power=power,
    )


def _check_settings(alpha: float, confidence: float, n_resamples: int, n_permutations: int) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1 or n_permutations < 1:
        raise ValueError("n_resamples and n_permutations must be >= 1")


def compare_pairs(
    name: str,
    kind: Kind,
    pairs: CasePairs,
    *,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    test: TestName = "auto",
    ci_method: CiMethod = DEFAULT_CI_METHOD,
    power: float = 0.8,
) -> MetricComparison:
    """:func:`compare` on cases already paired (``pairs`` as :func:`compare` would pair them)."""
    _check_settings(alpha, confidence, n_resamples, n_permutations)
    n = len(pairs.diffs)
    sig: Significance | None = None
    ci: tuple[float, float] | None = None
    mde: float | None = None
    if n:
        sig = _run_test(test, pairs, kind, n_permutations, seed)
        ci = bootstrap_ci(
            pairs.diffs,
            confidence=confidence,
            n_resamples=n_resamples,
            rng=random.Random(f"{seed}/bootstrap"),
            method=ci_method,
        )
        if sig.method == "mcnemar-exact":
            mde = mde_binary(n, sig.n_nonzero / n, alpha=alpha, power=power)
        elif n > 1:
            # The permutation test is a test of the mean difference: its power follows
            # the spread of the per-case differences (Wilcoxon's is within a few
            # percent of it for such data).
            mde = mde_continuous(n, stdev(pairs.diffs), alpha=alpha, power=power)
    return MetricComparison(
        name=name,
        kind=kind,
        test=sig.method if sig else "none",
        ci_method=ci_method,
        alpha=alpha,
        confidence=confidence,
        higher_is_better=higher_is_better,
        n_paired=n,
        unpaired_a=tuple(pairs.unpaired_a),
        unpaired_b=tuple(pairs.unpaired_b),
        no_data=tuple(pairs.no_data),
        n_errors_a=pairs.errors_a,
        n_errors_b=pairs.errors_b,
        max_repeats=pairs.max_repeats,
        n_b_higher=sum(1 for d in pairs.diffs if d > 0.0),
        n_b_lower=sum(1 for d in pairs.diffs if d < 0.0),
        n_tied=pairs.diffs.count(0.0),
        mean_a=pairs.sum_a / n if n else None,
        mean_b=pairs.sum_b / n if n else None,
        diff=math.fsum(pairs.diffs) / n if n else None,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        p_value=sig.p_value if sig else None,
        p_adjusted=sig.p_value if sig else None,
        direction=sig.direction if sig else 0,
        mde=mde,
        verdict=(
            _verdict(sig.p_value, sig.direction, alpha, higher_is_better) if sig else "no data"
        ),
    )


def compare_all(
    metrics: Iterable[PairedMetric],
    *,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = DEFAULT_RESAMPLES,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
    test: TestName = "auto",
    ci_method: CiMethod = DEFAULT_CI_METHOD,
    power: float = 0.8,
) -> list[MetricComparison]:
    """Compare every metric (or variant pair) and correct for comparing several at once.

    Holm's correction runs over every comparison that has a p-value (those with no data
    are not tests); each verdict then comes from its adjusted p-value, so the chance of
    any false "better"/"worse" across the whole family stays at ``alpha``.
    """
    results = [
        compare(
            m,
            alpha=alpha,
            confidence=confidence,
            n_resamples=n_resamples,
            n_permutations=n_permutations,
            seed=seed,
            test=test,
            ci_method=ci_method,
            power=power,
        )
        for m in metrics
    ]
    return holm_family(results, alpha=alpha, power=power)


def holm_family(
    results: list[MetricComparison], *, alpha: float = 0.05, power: float = 0.8
) -> list[MetricComparison]:
    """The comparisons with Holm's correction over those with a p-value: compare_all's end."""
    results = list(results)
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    adjusted = holm([p for i in tested if (p := results[i].p_value) is not None])
    level = family_alpha(alpha, len(tested))
    for i, p_adj in zip(tested, adjusted, strict=True):
        r = results[i]
        results[i] = replace(
            r,
            p_adjusted=p_adj,
            verdict=_verdict(p_adj, r.direction, alpha, r.higher_is_better),
            mde=_mde_at(r, level, alpha, power),
        )
    return results


def family_alpha(alpha: float, family: int) -> float:
    """The level one comparison of ``family`` is sure to be held to under Holm: alpha/m.

    Holm tests the smallest p-value at alpha/m and relaxes from there; a difference that
    is to be detected whatever the others do must clear alpha/m, so the MDE and "cases
    needed" plan for that level, not for the raw alpha the verdicts never use.
    """
    return alpha / max(family, 1)


def _mde_at(r: MetricComparison, level: float, alpha: float, power: float) -> float | None:
    """``r.mde`` (computed at ``alpha``) recomputed at ``level``."""
    if r.mde is None or level == alpha:
        return r.mde
    if r.test == "mcnemar-exact":
        return mde_binary(
            r.n_paired, (r.n_b_higher + r.n_b_lower) / r.n_paired, alpha=level, power=power
        )
    # mde_continuous is (z_level + z_power) * sd / sqrt(n): rescale the z sum.
    za, zp = (NormalDist().inv_cdf(1.0 - a / 2.0) for a in (alpha, level))
    zb = NormalDist().inv_cdf(power)
    return r.mde * (zp + zb) / (za + zb)
