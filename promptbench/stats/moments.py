"""The sample standard deviation of many values, exact and fast when values repeat.

:func:`statistics.stdev` is exact (rational arithmetic) and correctly rounded, and
costs a few microseconds per value: seconds over the case differences of a
100,000-case diff. Per-case differences repeat a lot (binary verdicts give -1, 0 and
1; repeats give multiples of 1/r), so :func:`stdev` sums each distinct value once, times
its count, in the same exact arithmetic, and rounds the square root the same correct
way. A correctly rounded result is unique: it equals :func:`statistics.stdev`'s, bit
for bit, whatever the input (tests/stats/test_moments.py checks it).
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction

_SQRT_BIT_WIDTH = 2 * sys.float_info.mant_dig + 3


def stdev(values: Iterable[float]) -> float:
    """The sample standard deviation (n - 1), as :func:`statistics.stdev` gives it."""
    counts = Counter(values)
    n = sum(counts.values())
    if n < 2:
        raise ValueError("stdev requires at least two values")
    if any(not math.isfinite(v) for v in counts):
        raise ValueError("stdev of values that are not finite")
    sx: dict[int, int] = {}
    sxx: dict[int, int] = {}
    for value, count in counts.items():
        num, den = value.as_integer_ratio()
        sx[den] = sx.get(den, 0) + count * num
        sxx[den] = sxx.get(den, 0) + count * num * num
    total = sum((Fraction(num, den) for den, num in sx.items()), Fraction(0))
    squares = sum((Fraction(num, den * den) for den, num in sxx.items()), Fraction(0))
    variance = (n * squares - total * total) / n / (n - 1)
    return _sqrt_of_fraction(variance.numerator, variance.denominator)


def _sqrt_of_fraction(n: int, m: int) -> float:
    """The square root of n/m as a float, correctly rounded (round-to-odd, then to float)."""
    q = (n.bit_length() - m.bit_length() - _SQRT_BIT_WIDTH) // 2
    if q >= 0:
        return (_isqrt_of_fraction_rto(n, m << 2 * q) << q) / 1
    return _isqrt_of_fraction_rto(n << -2 * q, m) / (1 << -q)


def _isqrt_of_fraction_rto(n: int, m: int) -> int:
    """The square root of n/m rounded to an integer, to odd (the last bit says inexact)."""
    a = math.isqrt(n // m)
    return a | (a * a * m != n)
