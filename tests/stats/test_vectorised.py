"""The numpy draws of big samples resample as the scalar draws do: same distribution.

From VECTOR_MIN values on, bootstrap indices and sign flips are drawn by numpy. These
put both branches on the same data: the replicates' mean and spread, the interval and
the permutation p-value agree within Monte Carlo error, and a seed gives one answer.
"""

from __future__ import annotations

import random
import statistics

import pytest

from promptbench.stats import resample, significance
from promptbench.stats.resample import bootstrap_means
from promptbench.stats.significance import sign_flip_test


def sample(n: int, shift: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.gauss(shift, 0.3), 6) for _ in range(n)]


def test_bootstrap_replicates_match_the_scalar_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    values = sample(1500, 0.05, 1)
    vector = bootstrap_means(values, 2000, random.Random(7))
    assert vector == bootstrap_means(values, 2000, random.Random(7))  # seeded
    monkeypatch.setattr(resample, "VECTOR_MIN", 10**9)  # the scalar branch, same data
    scalar = bootstrap_means(values, 2000, random.Random(7))
    se = statistics.stdev(values) / len(values) ** 0.5
    assert statistics.fmean(vector) == pytest.approx(statistics.fmean(values), abs=0.2 * se)
    assert statistics.stdev(vector) == pytest.approx(se, rel=0.06)
    assert statistics.stdev(vector) == pytest.approx(statistics.stdev(scalar), rel=0.08)
    for q in (0.025, 0.975):
        want = resample.quantile(scalar, q)
        assert resample.quantile(vector, q) == pytest.approx(want, abs=0.25 * se)


@pytest.mark.parametrize("shift", [0.0, 0.02])
def test_permutation_p_matches_the_scalar_draws(
    monkeypatch: pytest.MonkeyPatch, shift: float
) -> None:
    diffs = sample(1200, shift, 2)
    vector = sign_flip_test(diffs, n_permutations=4000, rng=random.Random(3))
    assert vector.method == "permutation-monte-carlo"
    monkeypatch.setattr(significance, "VECTOR_MIN", 10**9)
    scalar = sign_flip_test(diffs, n_permutations=4000, rng=random.Random(3))
    assert vector.p_value == pytest.approx(scalar.p_value, abs=0.03)
    assert vector.direction == scalar.direction
    again = sign_flip_test(diffs, n_permutations=4000, rng=random.Random(3))
    monkeypatch.undo()
    assert sign_flip_test(diffs, n_permutations=4000, rng=random.Random(3)) == vector
    assert again == scalar


@pytest.mark.parametrize(("m", "share"), [(1000, 0.0), (1237, 0.02), (3001, 0.05), (9000, 0.01)])
def test_byte_tables_count_what_the_unpacked_bits_count(m: int, share: float) -> None:
    # The byte-table lookups against the matrix product over unpacked bits that they
    # replaced: the same draws, so the same count of extremes (m not a multiple of 8
    # included: the last byte's padding bits weigh nothing in either).
    rng = random.Random(m)
    mags = sorted(abs(round(rng.gauss(0.0, 0.3), 4)) or 0.5 for _ in range(m))
    total = sum(mags)
    tol = 1e-9 * total
    hi = (total + share * total) / 2 - tol
    lo = (total - share * total) / 2 + tol
    tables = significance._vector_extremes(mags, hi, lo, 3000, random.Random(5))
    unpacked = significance._vector_extremes_unpacked(mags, hi, lo, 3000, random.Random(5))
    assert tables == unpacked
    assert 0 < tables < 3000 or share == 0.0  # a count that says something


def _means_in_megabyte_calls(values: list[float], n_resamples: int, seed: int) -> list[float]:
    """The numpy bootstrap as it was first written: one call per 2**20 index draws."""
    import numpy as np

    gen = np.random.default_rng(random.Random(seed).getrandbits(128))
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    out = np.empty(n_resamples)
    block = max(1, (1 << 20) // n)
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        picks = gen.integers(0, n, size=(stop - start, n), dtype=np.int32)
        out[start:stop] = x[picks].sum(axis=1) / n
    return sorted(out.tolist())


@pytest.mark.parametrize("n", [1000, 1537, 25_001])
def test_cache_sized_calls_draw_what_megabyte_calls_drew(n: int) -> None:
    values = sample(n, 0.01, n)
    got = resample._vector_means(values, 300, random.Random(11))
    assert sorted(got) == _means_in_megabyte_calls(values, 300, 11)
