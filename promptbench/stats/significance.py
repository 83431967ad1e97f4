"""Paired significance tests on per-case differences (B − A).

* :func:`mcnemar_exact`: binary outcomes, one per case and side; the two-sided exact
  binomial test on the discordant pairs.
* :func:`sign_flip_test`: the paired permutation test. Under "no difference" each
  per-case difference is as likely to have either sign; the p-value is the share of the
  2^m sign assignments whose |sum| is at least the observed one. Exact when few
  differences are nonzero, Monte Carlo (seeded, with the +1 correction) otherwise;
  from :data:`VECTOR_MIN` differences on, the Monte Carlo draws are made by numpy.
* :func:`wilcoxon_signed_rank`: the rank version, exact (conditional on ties) for small
  samples, normal approximation with tie and continuity corrections beyond.

Every test drops zero differences first: a zero is the same under either sign, so it
carries no information about direction (Wilcoxon's original treatment of zeros).
"""

from __future__ import annotations

import bisect
import math
import operator
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Above these sizes the exact computation gets slow in pure Python.
PERMUTATION_EXACT_MAX = 20  # meet in the middle: 2 × 2^10 subset sums
WILCOXON_EXACT_MAX = 50  # dynamic programme over m·(m+1) rank sums
_MCNEMAR_INTEGER_MAX = 5000  # exact big-integer tail up to here, log-space beyond
# From this many nonzero differences on (with many distinct magnitudes), the Monte Carlo
# permutations are drawn by numpy (_vector_extremes): the scalar loop costs about a
# second per 2,000 differences at 10,000 permutations. Smaller samples keep the scalar
# draws, and so the p-values they always had.
VECTOR_MIN = 1000
_VECTOR_BLOCK = 1 << 20  # bits per call for the random bytes, as the draws always came
_CACHE_BLOCK = 1 << 16  # random bytes gathered at once: what stays in the CPU's cache


@dataclass(frozen=True)
class Significance:
    """The outcome of one paired test."""

    p_value: float
    method: str  # e.g. "mcnemar-exact", "permutation-monte-carlo", "wilcoxon-normal"
    direction: int  # +1: B above A, -1: B below A, 0: no direction (what the test saw)
    n_nonzero: int  # the units that carried information: discordant pairs, nonzero diffs


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def binomial_half_cdf(k: int, m: int) -> float:
    """P(X ≤ k) for X ~ Binomial(m, 1/2)."""
    if k < 0:
        return 0.0
    if k >= m:
        return 1.0
    if m <= _MCNEMAR_INTEGER_MAX:
        # Exact: the running binomial coefficient stays an integer at every step.
        term = total = 1
        for i in range(k):
            term = term * (m - i) // (i + 1)
            total += term
        return total / (1 << m)  # int / int rounds correctly, even for huge ints
    logs = [
        math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2.0)
        for i in range(k + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def mcnemar_exact(b: int, c: int) -> Significance:
    """Exact two-sided McNemar test.

    ``b``: cases where A passed and B failed; ``c``: A failed and B passed. Under no
    difference each discordant pair is equally likely to go either way, so
    p = min(1, 2·P(X ≤ min(b, c))) with X ~ Binomial(b + c, 1/2). No discordant pair
    gives p = 1.
    """
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: counts must be >= 0, got b={b}, c={c}")
    m = b + c
    p = 1.0 if m == 0 else min(1.0, 2.0 * binomial_half_cdf(min(b, c), m))
    return Significance(p, "mcnemar-exact", _sign(c - b), m)


def _subset_sums(xs: Sequence[float]) -> list[float]:
    sums = [0.0]
    for x in xs:
        sums += [s + x for s in sums]
    return sums


def _byte_tables(mags: Sequence[float]) -> list[list[float]]:
    """For each run of 8 magnitudes, the sum of every subset, indexed by its bit mask."""
    tables = []
    for start in range(0, len(mags), 8):
        chunk = mags[start : start + 8]
        table = [0.0] * 256
        for mask in range(1, 256):
            low = (mask & -mask).bit_length() - 1
            table[mask] = table[mask & (mask - 1)] + (chunk[low] if low < len(chunk) else 0.0)
        tables.append(table)
    return tables


def sign_flip_test(
    diffs: Sequence[float],
    *,
    n_permutations: int = 10_000,
    rng: random.Random | None = None,
    exact_max: int = PERMUTATION_EXACT_MAX,
) -> Significance:
    """Two-sided paired permutation (sign-flip) test of the mean difference.

    The statistic is the sum of the differences. With m nonzero differences, a sign
    assignment with S+ = sum of the magnitudes given a plus sign has sum 2·S+ − total,
    so "|sum| ≥ |observed|" is "S+ ≥ hi or S+ ≤ lo"; that is what both branches count.
    A small tolerance keeps float round-off from dropping the observed assignment itself.
    """
    nonzero = [d for d in diffs if d != 0.0]
    m = len(nonzero)
    observed = math.fsum(nonzero)
    mags = sorted(abs(d) for d in nonzero)
    total = math.fsum(mags)
    tol = 1e-9 * max(1.0, total)
    if m == 0 or abs(observed) <= tol:
        return Significance(1.0, "permutation-exact", 0, m)
    hi = (total + abs(observed)) / 2.0 - tol
    lo = (total - abs(observed)) / 2.0 + tol
    if m <= exact_max:
        # Meet in the middle: 2·2^(m/2) subset sums instead of 2^m.
        left = sorted(_subset_sums(mags[: m // 2]))
        count = 0
        for r in _subset_sums(mags[m // 2 :]):
            count += len(left) - bisect.bisect_left(left, hi - r)
            count += bisect.bisect_right(left, lo - r)
        return Significance(min(1.0, count / (1 << m)), "permutation-exact", _sign(observed), m)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    rng = rng if rng is not None else random.Random(0)
    n_bytes = (m + 7) // 8
    groups = sorted(Counter(mags).items())
    extreme = 0
    if len(groups) * 4 <= n_bytes:
        # Few distinct magnitudes (binary outcomes over r repeats have at most r): the
        # number of plus signs among c equal magnitudes is the popcount of c random bits.
        for _ in range(n_permutations):
            s = 0.0
            for magnitude, count in groups:
                s += magnitude * rng.getrandbits(count).bit_count()
            if s >= hi or s <= lo:
                extreme += 1
    elif m >= VECTOR_MIN:
        extreme = _vector_extremes(mags, hi, lo, n_permutations, rng)
    else:
        # One random bit per difference; the byte tables turn 8 bits into their partial
        # sum with a single lookup, so a permutation costs m/8 lookups done in C.
        tables = _byte_tables(mags)
        getitem = operator.getitem
        for _ in range(n_permutations):
            s = sum(map(getitem, tables, rng.getrandbits(m).to_bytes(n_bytes, "little")))
            if s >= hi or s <= lo:
                extreme += 1
    # The +1 counts the observed assignment, so that p is never 0 and stays valid.
    p = (extreme + 1) / (n_permutations + 1)
    return Significance(p, "permutation-monte-carlo", _sign(observed), m)


def _vector_extremes(
    mags: Sequence[float], hi: float, lo: float, n_permutations: int, rng: random.Random
) -> int:
    """How many of ``n_permutations`` random sign assignments are as extreme: in numpy.

    The same draw as the scalar branch (one fair random bit per difference, S+ the sum
    of the magnitudes whose bit is set), a block of permutations at a time, and the
    scalar branch's byte tables: each random byte looks up the sum of its 8 magnitudes,
    so a permutation is m/8 lookups, not m multiply-adds over the unpacked bits (a
    quarter of the work, and no BLAS threads). The bits are those the matrix product
    over unpacked bits used before: the same seed counts the same extremes, unless a
    sum lies within float round-off (~1e-13 of the total) of the tolerance-widened
    bounds (tests/stats/test_vectorised.py puts it beside that product).
    numpy's generator is seeded from ``rng``.
    """
    import numpy as np

    gen = np.random.default_rng(rng.getrandbits(128))
    m = len(mags)
    n_bytes = (m + 7) // 8
    padded = np.zeros(n_bytes * 8, dtype=np.float64)
    padded[:m] = mags
    chunks = padded.reshape(n_bytes, 8)
    # tables[j, byte]: the sum of the magnitudes 8j..8j+7 whose bit is set, each mask
    # from the one without its lowest bit, as _byte_tables makes them (and no BLAS
    # call, whose threads would spin on a machine that has no core to spare).
    by_mask = np.zeros((n_bytes, 256), dtype=np.float64)
    for mask in range(1, 256):
        low = (mask & -mask).bit_length() - 1
        by_mask[:, mask] = by_mask[:, mask & (mask - 1)] + chunks[:, low]
    tables = by_mask.ravel()
    # intp: the indices below (bytes + offsets) are then intp too, which np.take gathers
    # by ten times faster than by int32 ones (it converts those first).
    offsets = np.arange(n_bytes, dtype=np.intp) * 256
    # Blocks as before: numpy draws a call's bytes from whole 32-bit words, so the
    # block size is part of which bits come out.
    block = max(1, _VECTOR_BLOCK // m)
    # Each block drawn a few rows at a time, so that what is gathered stays in the CPU's
    # cache. A call makes its bytes from whole 32-bit draws and drops what is left over:
    # every call but a block's last asks for a multiple of 4 bytes, so the bytes are
    # those of one call per block.
    rows = max(4, (_CACHE_BLOCK // n_bytes) // 4 * 4)
    extreme = 0
    for start in range(0, n_permutations, block):
        stop = min(n_permutations, start + block)
        for first in range(start, stop, rows):
            k = min(stop, first + rows) - first
            packed = gen.integers(0, 256, size=(k, n_bytes), dtype=np.uint8)
            s = np.take(tables, packed + offsets).sum(axis=1)
            extreme += int(np.count_nonzero((s >= hi) | (s <= lo)))
    return extreme


def _vector_extremes_unpacked(
    mags: Sequence[float], hi: float, lo: float, n_permutations: int, rng: random.Random
) -> int:
    """:func:`_vector_extremes` as it was: the bits unpacked, S+ a matrix product.

    Kept as the reference the byte tables are tested against (the same draws).
    """
    import numpy as np

    gen = np.random.default_rng(rng.getrandbits(128))
    x = np.asarray(mags, dtype=np.float64)
    m = len(x)
    n_bytes = (m + 7) // 8
    block = max(1, _VECTOR_BLOCK // m)
    extreme = 0
    for start in range(0, n_permutations, block):
        k = min(n_permutations, start + block) - start
        packed = gen.integers(0, 256, size=(k, n_bytes), dtype=np.uint8)
        bits = np.unpackbits(packed, axis=1, count=m, bitorder="little")
        s = bits.astype(np.float64) @ x
        extreme += int(np.count_nonzero((s >= hi) | (s <= lo)))
    return extreme


def signed_ranks(diffs: Sequence[float]) -> tuple[list[int], int]:
    """Doubled average ranks of |d| over nonzero differences, and the doubled W+.

    Ranks are doubled so that average ranks of ties (halves) stay integers. Magnitudes
    are compared rounded to 12 decimals so that float round-off does not break ties.
    """
    nonzero = [d for d in diffs if d != 0.0]
    order = sorted(range(len(nonzero)), key=lambda i: abs(nonzero[i]))
    doubled = [0] * len(nonzero)
    i = 0
    while i < len(order):
        key = round(abs(nonzero[order[i]]), 12)
        j = i
        while j + 1 < len(order) and round(abs(nonzero[order[j + 1]]), 12) == key:
            j += 1
        for pos in range(i, j + 1):
            doubled[order[pos]] = (i + 1) + (j + 1)  # 2 × the average of ranks i+1..j+1
        i = j + 1
    w2_plus = sum(r for r, d in zip(doubled, nonzero, strict=True) if d > 0)
    return doubled, w2_plus


def wilcoxon_signed_rank(
    diffs: Sequence[float], *, exact_max: int = WILCOXON_EXACT_MAX
) -> Significance:
    """Two-sided Wilcoxon signed-rank test; zeros dropped, ties given average ranks.

    Exact for up to ``exact_max`` nonzero differences: the distribution of W+ over the
    2^m sign assignments of the (tied) ranks, so it stays exact with ties. Beyond that,
    the normal approximation with the tie correction to the variance and a continuity
    correction of 1/2.
    """
    doubled, w2 = signed_ranks(diffs)
    m = len(doubled)
    total2 = sum(doubled)  # = m(m+1)
    direction = _sign(2 * w2 - total2)
    if m == 0:
        return Significance(1.0, "wilcoxon-exact", 0, 0)
    if m <= exact_max:
        dist = [1] + [0] * total2  # dist[k]: sign assignments with doubled W+ = k
        for r in doubled:
            dist = dist[:r] + [x + y for x, y in zip(dist[r:], dist, strict=False)]
        dev = abs(2 * w2 - total2)
        extreme = sum(cnt for k, cnt in enumerate(dist) if abs(2 * k - total2) >= dev)
        return Significance(min(1.0, extreme / (1 << m)), "wilcoxon-exact", direction, m)
    mean = m * (m + 1) / 4.0
    ties: dict[int, int] = {}
    for r in doubled:
        ties[r] = ties.get(r, 0) + 1
    var = m * (m + 1) * (2 * m + 1) / 24.0 - sum(t**3 - t for t in ties.values()) / 48.0
    if var <= 0.0:
        return Significance(1.0, "wilcoxon-normal", direction, m)
    z = max(abs(w2 / 2.0 - mean) - 0.5, 0.0) / math.sqrt(var)
    return Significance(min(1.0, math.erfc(z / math.sqrt(2.0))), "wilcoxon-normal", direction, m)
