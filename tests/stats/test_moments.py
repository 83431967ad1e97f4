"""The fast standard deviation is statistics.stdev, bit for bit."""

from __future__ import annotations

import random
import statistics

import pytest

from promptbench.stats.moments import stdev


@pytest.mark.parametrize("seed", range(20))
def test_equals_statistics_stdev(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([2, 3, 10, 500, 5000])
    kind = seed % 4
    if kind == 0:  # binary differences
        values = [float(rng.choice([-1, 0, 0, 1])) for _ in range(n)]
    elif kind == 1:  # means over 3 repeats, rounded as the paired analysis rounds them
        values = [round(rng.randint(0, 3) / 3 - rng.randint(0, 3) / 3, 12) for _ in range(n)]
    elif kind == 2:  # continuous scores
        values = [rng.gauss(0.1, 0.3) for _ in range(n)]
    else:  # huge and tiny magnitudes together
        values = [rng.choice([1e-300, 1e300, -2.5, 3.0]) * rng.random() for _ in range(n)]
    assert stdev(values) == statistics.stdev(values)


def test_refuses_what_statistics_refuses() -> None:
    with pytest.raises(ValueError):
        stdev([1.0])
    with pytest.raises(ValueError):
        stdev([1.0, float("nan")])
