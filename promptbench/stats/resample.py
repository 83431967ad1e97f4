"""Bootstrap confidence intervals for a mean, resampling units (cases) with replacement.

Two things keep it fast:

* When the values take few distinct values (binary verdicts: per-case differences in
  {-1, 0, 1}, or multiples of 1/r with r repeats), a resample is drawn as multinomial
  counts over the distinct values, with one binomial draw per distinct value, instead of
  one draw per case. That is the same distribution as drawing n cases with replacement,
  so the interval is unchanged; it only costs O(distinct values) instead of O(n).
* Otherwise it draws indices with ``random.choices``, or, from :data:`VECTOR_MIN`
  values on, with numpy (a dependency of pandas, so always there), seeded from the
  same generator: the same resampling, in C.

Binomial variates come from our own sampler rather than ``random.binomialvariate``
(Python 3.12+ only), so that seeded results are the same on every supported Python.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

CiMethod = Literal["percentile", "bca"]

_STD_NORMAL = NormalDist()

# Multinomial sampling costs roughly 16 index draws per distinct value (measured on
# CPython 3.11); below that ratio, plain index draws are as fast and simpler.
_MULTINOMIAL_RATIO = 16
# From this many values on, index draws are made by numpy (_vector_means): the scalar
# loop costs about a second per 1,000 values at 2,000 resamples. Smaller samples keep
# the scalar draws, and so the intervals they always had.
VECTOR_MIN = 1000
_CACHE_BLOCK = 1 << 16  # index draws held at once: 512 KB of indices, 512 KB of values


def binomial(rng: random.Random, n: int, p: float) -> int:
    """One Binomial(n, p) variate.

    Devroye's geometric method when n·p < 10 (O(n·p)), otherwise Hörmann's BTRS
    transformed rejection with squeeze (W. Hörmann, "The generation of binomial random
    variates", 1993), which takes O(1) expected time. The same algorithms back
    ``random.binomialvariate`` in Python 3.12.
    """
    if n < 0:
        raise ValueError(f"binomial: n must be >= 0, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"binomial: p must be in [0, 1], got {p}")
    if n == 0 or p == 0.0:
        return 0
    if p == 1.0:
        return n
    if p > 0.5:  # both methods assume p <= 0.5
        return n - binomial(rng, n, 1.0 - p)
    if n * p < 10.0:
        # Count successes by jumping over runs of failures (geometric waiting times).
        log_q = math.log1p(-p)
        x = y = 0
        while True:
            # 1 - random() lies in (0, 1], so the log is finite.
            y += math.floor(math.log(1.0 - rng.random()) / log_q) + 1
            if y > n:
                return x
            x += 1
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    setup: tuple[float, float, int, float] | None = None  # only needed past the squeeze
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:  # the squeeze: accept without evaluating the pmf
            return k
        if setup is None:
            mode = math.floor((n + 1) * p)
            setup = (
                (2.83 + 5.1 / b) * spq,
                math.log(p / (1.0 - p)),
                mode,
                math.lgamma(mode + 1) + math.lgamma(n - mode + 1),
            )
        alpha, lpq, mode, h = setup
        v *= alpha / (a / (us * us) + b)
        if v > 0.0 and math.log(v) <= (
            h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - mode) * lpq
        ):
            return k


def bootstrap_means(values: Sequence[float], n_resamples: int, rng: random.Random) -> list[float]:
    """The means of ``n_resamples`` resamples of ``values`` drawn with replacement, sorted."""
    n = len(values)
    if n == 0:
        raise ValueError("bootstrap_means: no values to resample")
    if n_resamples < 1:
        raise ValueError(f"bootstrap_means: n_resamples must be >= 1, got {n_resamples}")
    counts = Counter(values)
    if len(counts) * _MULTINOMIAL_RATIO < n:
        # Deterministic order, so that a seed gives the same draws on every run.
        groups = sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))
        means = [_multinomial_mean(groups, n, rng) for _ in range(n_resamples)]
    elif n >= VECTOR_MIN:
        means = _vector_means(values, n_resamples, rng)
    else:
        means = [sum(rng.choices(values, k=n)) / n for _ in range(n_resamples)]
    means.sort()
    return means


def _vector_means(values: Sequence[float], n_resamples: int, rng: random.Random) -> list[float]:
    """The same resampling as ``rng.choices``, drawn by numpy, a block of resamples at a time.

    Index draws with replacement, as the scalar branch makes, but in C: 2,000 resamples of
    25,000 cases are 50 million draws, a minute in pure Python. numpy's generator is
    seeded from ``rng``, so a seed still gives the same interval.
    """
    import numpy as np

    gen = np.random.default_rng(rng.getrandbits(128))
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = np.empty(n_resamples, dtype=np.float64)
    # A few resamples at a time, so that the indices and the values gathered stay in the
    # CPU's cache: half the time of a megabyte-sized block. Bounded 32- and 64-bit draws
    # come from the generator's state whatever the size of a call, so the draws (and the
    # interval) are those of the megabyte-sized calls made before (a test holds them).
    # The indices are drawn as np.intp: below 2**32 numpy draws 64-bit integers as it
    # draws 32-bit ones (Lemire's method on 32-bit words), so they are the int32 draws
    # made before, and np.take gathers by intp indices ten times faster than by int32
    # ones (which it converts first, element by element).
    block = max(1, _CACHE_BLOCK // n)
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        picks = gen.integers(0, n, size=(stop - start, n), dtype=np.intp)
        # take: the same gather as x[picks], without fancy indexing's general machinery.
        out[start:stop] = np.take(x, picks).sum(axis=1) / n
    means: list[float] = out.tolist()
    return means


def _multinomial_mean(groups: Sequence[tuple[float, int]], n: int, rng: random.Random) -> float:
    """Mean of one resample drawn as counts over distinct values (conditional binomials)."""
    remaining = n  # draws still to place
    rest = n  # original count of the groups not yet visited
    total = 0.0
    for value, count in groups[:-1]:
        if remaining == 0:
            break
        k = binomial(rng, remaining, count / rest)
        total += k * value
        remaining -= k
        rest -= count
    total += remaining * groups[-1][0]
    return total / n


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values, interpolating linearly (Hyndman & Fan type 7)."""
    if not sorted_values:
        raise ValueError("quantile: no values")
    h = (len(sorted_values) - 1) * min(max(q, 0.0), 1.0)
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def percentile_interval(replicates: Sequence[float], confidence: float) -> tuple[float, float]:
    """The percentile bootstrap interval from sorted replicates."""
    tail = (1.0 - confidence) / 2.0
    return quantile(replicates, tail), quantile(replicates, 1.0 - tail)


def bca_interval(
    values: Sequence[float], replicates: Sequence[float], confidence: float
) -> tuple[float, float]:
    """The bias-corrected and accelerated (BCa) interval of the mean, from sorted replicates.

    The bias correction z0 counts replicates below the estimate (ties count half, since
    discrete data puts many replicates exactly on it). The acceleration comes from the
    jackknife, which for a mean has the closed form skewness / 6 used here.
    """
    n = len(values)
    estimate = math.fsum(values) / n
    dev = [v - estimate for v in values]
    ss = math.fsum(d * d for d in dev)
    if ss == 0.0:
        return estimate, estimate
    tol = 1e-12 * max(1.0, abs(estimate))
    below = sum(1 for r in replicates if r < estimate - tol)
    ties = sum(1 for r in replicates if abs(r - estimate) <= tol)
    b = len(replicates)
    share = (below + 0.5 * ties) / b
    # Keep z0 finite when every replicate falls on one side (tiny samples).
    share = min(max(share, 0.5 / b), 1.0 - 0.5 / b)
    z0 = _STD_NORMAL.inv_cdf(share)
    accel = math.fsum(d * d * d for d in dev) / (6.0 * ss**1.5)
    tail = (1.0 - confidence) / 2.0

    def adjusted(q: float) -> float:
        z = z0 + _STD_NORMAL.inv_cdf(q)
        denom = 1.0 - accel * z
        if denom <= 0.0:  # acceleration too large for this tail: fall to the extreme
            return 1.0 if z > 0 else 0.0
        return _STD_NORMAL.cdf(z0 + z / denom)

    return quantile(replicates, adjusted(tail)), quantile(replicates, adjusted(1.0 - tail))


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float,
    n_resamples: int,
    rng: random.Random,
    method: CiMethod,
) -> tuple[float, float]:
    """Bootstrap interval for the mean of ``values`` (one value per resampling unit)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not values:
        raise ValueError("bootstrap_ci: no values")
    first = values[0]
    if all(v == first for v in values):  # no variation: every resample is the same
        return first, first
    replicates = bootstrap_means(values, n_resamples, rng)
    if method == "percentile":
        return percentile_interval(replicates, confidence)
    if method == "bca":
        return bca_interval(values, replicates, confidence)
    raise ValueError(f"unknown CI method {method!r}; use 'percentile' or 'bca'")
