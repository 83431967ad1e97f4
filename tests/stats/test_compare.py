"""The paired-comparison engine behind `promptbench diff`: exact values, clustering, edge cases.

Every expected number here is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.stats.compare import PairedMetric, compare, compare_all, holm
from promptbench.stats.power import cases_needed, cases_needed_continuous, mde_binary
from promptbench.stats.repeats import flaky_cases, pass_at_k, pass_hat_k, pass_rates
from promptbench.stats.resample import binomial, bootstrap_ci, bootstrap_means
from promptbench.stats.significance import (
    mcnemar_exact,
    sign_flip_test,
    wilcoxon_signed_rank,
)

Values = Mapping[str, Sequence[float | None]]


def binary(a: Values, b: Values, name: str = "exact", **kw: bool) -> PairedMetric:
    return PairedMetric(name, "binary", a, b, **kw)


def table(both: int, a_only: int, b_only: int, neither: int, repeats: int = 1) -> PairedMetric:
    """Binary cases from a 2×2 table; ``a_only``: A passed and B failed."""
    cells = [(1.0, 1.0)] * both + [(1.0, 0.0)] * a_only + [(0.0, 1.0)] * b_only
    cells += [(0.0, 0.0)] * neither
    a = {f"c{i}": [va] * repeats for i, (va, _) in enumerate(cells)}
    b = {f"c{i}": [vb] * repeats for i, (_, vb) in enumerate(cells)}
    return binary(a, b)


def no_nan(obj: object) -> None:
    json.dumps(obj, allow_nan=False)  # raises on NaN or infinity


# --- exact tests --------------------------------------------------------------------------


def test_mcnemar_exact_small_table() -> None:
    # b=1 (A won), c=7 (B won): m=8, P(X <= 1) = (1 + 8)/256, two-sided p = 18/256.
    sig = mcnemar_exact(1, 7)
    assert sig.p_value == pytest.approx(18 / 256, abs=1e-15)
    assert sig.direction == 1
    assert mcnemar_exact(7, 1).p_value == sig.p_value
    assert mcnemar_exact(7, 1).direction == -1
    assert mcnemar_exact(0, 0).p_value == 1.0
    assert mcnemar_exact(5, 5).p_value == 1.0  # 2·P(X <= 5 | 10) > 1, capped


def test_compare_uses_mcnemar_for_single_binary_repeats() -> None:
    r = compare(table(both=10, a_only=1, b_only=7, neither=2))
    assert r.test == "mcnemar-exact"
    assert r.n_paired == 20
    assert r.p_value == pytest.approx(18 / 256)
    assert r.mean_a == pytest.approx(11 / 20)
    assert r.mean_b == pytest.approx(17 / 20)
    assert r.diff == pytest.approx(6 / 20)
    assert (r.n_b_higher, r.n_b_lower, r.n_tied) == (7, 1, 12)
    assert r.verdict == "no detectable difference"  # 0.07 > 0.05
    assert r.ci_low is not None and r.ci_high is not None and r.diff is not None
    assert r.ci_low < r.diff < r.ci_high


def test_clear_gain_and_drop_and_lower_is_better() -> None:
    # b=0, c=8: p = 2/256.
    gain = table(both=10, a_only=0, b_only=8, neither=2)
    assert compare(gain).p_value == pytest.approx(2 / 256)
    assert compare(gain).verdict == "better"
    drop = table(both=10, a_only=8, b_only=0, neither=2)
    assert compare(drop).verdict == "worse"
    flipped = PairedMetric("latency_ok", "binary", gain.a, gain.b, higher_is_better=False)
    assert compare(flipped).verdict == "worse"


def test_permutation_exact_by_hand() -> None:
    # Magnitudes 1,2,3,4 (total 10), observed sum 1+2+3-4 = 2. A sign assignment with
    # plus-set sum S has sum 2S-10, so |sum| >= 2 unless S = 5: {1,4} and {2,3}. p = 14/16.
    sig = sign_flip_test([1.0, 2.0, 3.0, -4.0])
    assert sig.method == "permutation-exact"
    assert sig.p_value == pytest.approx(14 / 16)
    # All three positive: only all-plus and all-minus reach |sum| = 3: p = 2/8. Zeros
    # change nothing.
    assert sign_flip_test([0.5, 1.0, 1.5]).p_value == pytest.approx(0.25)
    assert sign_flip_test([0.0, 0.5, 0.0, 1.0, 1.5]).p_value == pytest.approx(0.25)
    assert sign_flip_test([0.0, 0.0]).p_value == 1.0
    assert sign_flip_test([]).p_value == 1.0


def test_permutation_equals_mcnemar_on_single_binary_repeats() -> None:
    # Sign flips of ±1 differences are the sign test, i.e. exact McNemar.
    diffs = [1.0] * 7 + [-1.0] + [0.0] * 12
    assert sign_flip_test(diffs).p_value == pytest.approx(mcnemar_exact(1, 7).p_value)


def test_permutation_monte_carlo_is_close_to_exact_and_never_zero() -> None:
    rng = random.Random(3)
    diffs = [rng.gauss(0.4, 1.0) for _ in range(18)]
    exact = sign_flip_test(diffs).p_value
    mc = sign_flip_test(diffs, exact_max=0, n_permutations=20_000, rng=random.Random(1))
    assert mc.method == "permutation-monte-carlo"
    assert mc.p_value == pytest.approx(exact, abs=0.01)
    # Every difference positive: no random assignment is as extreme, p = 1/(B+1).
    extreme = sign_flip_test([1.0] * 40, n_permutations=999, rng=random.Random(0))
    assert extreme.p_value == pytest.approx(1 / 1000)


def test_wilcoxon_exact_by_hand() -> None:
    # Ranks 1..5, W+ = 1+3+4+5 = 13, W- = 2. Subsets of {1..5} with sum <= 2: {}, {1},
    # {2}; by symmetry three with sum >= 13. p = 6/32.
    sig = wilcoxon_signed_rank([1.0, -2.0, 3.0, 4.0, 5.0])
    assert sig.method == "wilcoxon-exact"
    assert sig.p_value == pytest.approx(6 / 32)
    assert sig.direction == 1


def test_wilcoxon_exact_with_ties() -> None:
    # |d| = 1,1,1,2: ranks 2,2,2,4, W+ = 2+2+4 = 8 of 10. Over the 16 sign assignments
    # W+ takes 0 (1), 2 (3), 4 (4), 6 (4), 8 (3), 10 (1); |W+ - 5| >= 3 in 8 of them.
    assert wilcoxon_signed_rank([1.0, 1.0, -1.0, 2.0]).p_value == pytest.approx(0.5)


def test_wilcoxon_normal_approximation() -> None:
    # Same data as the exact case: mean 7.5, variance 5·6·11/24 = 13.75, continuity 1/2.
    sig = wilcoxon_signed_rank([1.0, -2.0, 3.0, 4.0, 5.0], exact_max=0)
    z = (13 - 7.5 - 0.5) / math.sqrt(13.75)
    assert sig.method == "wilcoxon-normal"
    assert sig.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))


def test_compare_offers_wilcoxon() -> None:
    a = {f"c{i}": [0.5] for i in range(5)}
    b = {f"c{i}": [0.5 + d] for i, d in enumerate([0.1, -0.2, 0.3, 0.4, 0.45])}
    r = compare(PairedMetric("judge", "continuous", a, b), test="wilcoxon")
    assert r.test == "wilcoxon-exact"
    assert r.p_value == pytest.approx(6 / 32)


def test_holm_known_vector() -> None:
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 -> max(0.06, 0.04).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.2]) == [0.2]
    assert holm([]) == []
    with pytest.raises(ValueError):
        holm([float("nan")])


def test_compare_all_applies_holm_to_verdicts() -> None:
    # Alone, b=0/c=6 gives p = 2/64 ≈ 0.031: "better". Among three tests, Holm makes it
    # 3 × 0.031 = 0.094: no longer a detectable difference.
    strong = table(both=4, a_only=0, b_only=6, neither=0)
    null = table(both=5, a_only=2, b_only=2, neither=1)
    empty = binary({}, {})
    assert compare(strong).verdict == "better"
    results = compare_all([strong, null, null, empty])
    assert results[0].p_value == pytest.approx(2 / 64)
    assert results[0].p_adjusted == pytest.approx(3 * 2 / 64)
    assert results[0].verdict == "no detectable difference"
    assert results[3].verdict == "no data"
    assert results[3].p_adjusted is None


# --- clustering ---------------------------------------------------------------------------


def test_repeats_are_clustered_by_case() -> None:
    # 10 cases × 20 identical repeats: B wins 6 cases outright, loses 4. That is 10
    # observations, whose sign test gives p = 1 - C(10,5)/2^10 ≈ 0.75. Taken as 200
    # independent cases (120 against 80) it would look like p ≈ 0.006.
    clustered = compare(table(both=0, a_only=4, b_only=6, neither=0, repeats=20))
    once = compare(table(both=0, a_only=4, b_only=6, neither=0, repeats=1))
    naive = compare(table(both=0, a_only=80, b_only=120, neither=0, repeats=1))
    assert clustered.n_paired == 10
    assert clustered.max_repeats == 20
    assert clustered.test == "permutation-exact"
    assert clustered.p_value == pytest.approx(1 - 252 / 1024)
    assert clustered.p_value == pytest.approx(once.p_value)
    assert naive.p_value is not None and naive.p_value < 0.01
    assert clustered.verdict == "no detectable difference"
    assert naive.verdict == "better"
    # The interval is the ten cases' interval, about √20 times the naive one.
    assert (clustered.ci_low, clustered.ci_high) == (once.ci_low, once.ci_high)
    assert clustered.ci_low is not None and clustered.ci_high is not None
    assert naive.ci_low is not None and naive.ci_high is not None
    assert clustered.ci_high - clustered.ci_low > 3 * (naive.ci_high - naive.ci_low)


def test_case_mean_over_repeats_is_the_unit() -> None:
    a = {"x": [1.0, 1.0, 0.0], "y": [0.0, 0.0]}
    b = {"x": [1.0, 1.0, 1.0], "y": [1.0, 0.0]}
    r = compare(binary(a, b))
    assert r.test.startswith("permutation")
    assert r.mean_a == pytest.approx((2 / 3 + 0) / 2)
    assert r.mean_b == pytest.approx((1 + 0.5) / 2)
    assert r.diff == pytest.approx(((1 - 2 / 3) + 0.5) / 2)
    with pytest.raises(ValueError, match="McNemar"):
        compare(binary(a, b), test="mcnemar")


# --- pairing, errors, degenerate inputs -------------------------------------------------


def test_unpaired_cases_are_counted_and_named() -> None:
    a: Values = {"c1": [1.0], "c2": [1.0], "c3": [0.0], "c5": [None], "c6": [1.0]}
    b: Values = {"c2": [0.0], "c3": [1.0], "c4": [1.0], "c5": [None, None], "c6": [None]}
    r = compare(binary(a, b))
    assert r.n_paired == 2
    assert r.unpaired_a == ("c1", "c6")  # c6: B only has errors
    assert r.unpaired_b == ("c4",)
    assert (r.n_unpaired_a, r.n_unpaired_b) == (2, 1)
    assert r.no_data == ("c5",)
    assert (r.n_errors_a, r.n_errors_b) == (1, 3)
    out = r.to_json()
    assert out["n_unpaired_a"] == 2
    assert out["unpaired_b"] == ["c4"]


def test_errors_are_dropped_not_counted_as_failures() -> None:
    clean_a = {"c1": [1.0, 1.0], "c2": [0.0], "c3": [1.0]}
    clean_b = {"c1": [1.0], "c2": [1.0, 1.0], "c3": [0.0]}
    noisy_a: Values = {"c1": [1.0, None, 1.0], "c2": [None, 0.0], "c3": [1.0]}
    noisy_b: Values = {"c1": [None, 1.0], "c2": [1.0, 1.0, None], "c3": [0.0, None]}
    clean, noisy = compare(binary(clean_a, clean_b)), compare(binary(noisy_a, noisy_b))
    assert (noisy.n_errors_a, noisy.n_errors_b) == (2, 3)
    for key in ("mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "n_paired"):
        assert getattr(noisy, key) == getattr(clean, key)


def test_identical_sides_give_p_one_and_a_zero_interval() -> None:
    r = compare(table(both=30, a_only=0, b_only=0, neither=10))
    assert r.p_value == 1.0
    assert (r.ci_low, r.ci_high) == (0.0, 0.0)
    assert r.diff == 0.0
    assert r.mde is None  # no discordant pair to estimate the noise from
    assert r.verdict == "no detectable difference"
    no_nan(r.to_json())
    flat = PairedMetric(
        "judge", "continuous", {"c1": [0.7], "c2": [0.7]}, {"c1": [0.7], "c2": [0.7]}
    )
    rf = compare(flat)
    assert (rf.p_value, rf.ci_low, rf.ci_high, rf.mde) == (1.0, 0.0, 0.0, None)
    no_nan(rf.to_json())


def test_no_paired_data_gives_none_fields_and_no_data_verdict() -> None:
    for metric in (binary({}, {}), binary({"c1": [1.0]}, {"c2": [0.0]}), binary({"c": [None]}, {})):
        r = compare(metric)
        assert r.n_paired == 0
        assert r.verdict == "no data"
        for key in (
            "mean_a",
            "mean_b",
            "diff",
            "ci_low",
            "ci_high",
            "p_value",
            "p_adjusted",
            "mde",
        ):
            assert getattr(r, key) is None
        no_nan(r.to_json())


def test_single_case() -> None:
    r = compare(PairedMetric("judge", "continuous", {"c": [0.2]}, {"c": [0.9]}))
    assert r.p_value == 1.0  # one sign flip each way: nothing can be significant
    assert r.ci_low == r.ci_high == pytest.approx(0.7)
    assert r.mde is None
    no_nan(r.to_json())


def test_invalid_values_are_rejected_with_the_case_named() -> None:
    with pytest.raises(ValueError, match=r"'c2'.*not a finite number"):
        PairedMetric("m", "continuous", {"c1": [0.5], "c2": [float("nan")]}, {})
    with pytest.raises(ValueError, match=r"binary value 0\.5"):
        binary({"c1": [0.5]}, {})
    with pytest.raises(ValueError, match="kind"):
        PairedMetric("m", "ordinal", {}, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown test"):
        compare(table(1, 1, 1, 1), test="t-test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        compare(table(1, 1, 1, 1), alpha=0.0)


def test_to_json_is_plain_json() -> None:
    out = compare(table(both=10, a_only=2, b_only=5, neither=3)).to_json()
    no_nan(out)
    assert json.loads(json.dumps(out)) == out
    assert {
        "n_paired",
        "diff",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "mde",
        "verdict",
    } <= set(out)


def test_seeded_results_are_reproducible() -> None:
    rng = random.Random(11)
    a = {f"c{i}": [rng.random()] for i in range(60)}
    b = {f"c{i}": [rng.random()] for i in range(60)}
    metric = PairedMetric("judge", "continuous", a, b)
    assert compare(metric, seed=4) == compare(metric, seed=4)
    assert compare(metric, seed=4).ci_low != compare(metric, seed=5).ci_low


scores = st.lists(
    st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1)), max_size=4
)
sides = st.dictionaries(st.sampled_from([f"c{i}" for i in range(12)]), scores, max_size=12)


@settings(max_examples=60, deadline=None)
@given(a=sides, b=sides, test=st.sampled_from(["auto", "permutation", "wilcoxon"]))
def test_any_input_accounts_for_every_case_and_never_yields_nan(
    a: dict[str, list[float | None]], b: dict[str, list[float | None]], test: str
) -> None:
    r = compare(PairedMetric("judge", "continuous", a, b), test=test, n_resamples=200)  # type: ignore[arg-type]
    ids = set(a) | set(b)
    assert r.n_paired + r.n_unpaired_a + r.n_unpaired_b + len(r.no_data) == len(ids)
    assert r.n_errors_a == sum(v is None for vs in a.values() for v in vs)
    no_nan(r.to_json())
    if r.n_paired:
        assert r.p_value is not None and 0.0 < r.p_value <= 1.0
        assert r.ci_low is not None and r.ci_high is not None and r.ci_low <= r.ci_high
        assert r.n_b_higher + r.n_b_lower + r.n_tied == r.n_paired


# --- repeats helpers ----------------------------------------------------------------------


def test_pass_at_k_and_pass_hat_k() -> None:
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(10, 5, 3) == pytest.approx(11 / 12)  # 1 - C(5,3)/C(10,3) = 1 - 10/120
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)  # pass@1 is the pass rate
    assert pass_at_k(5, 0, 3) == 0.0
    assert pass_at_k(5, 3, 3) == 1.0  # fewer than k failures: some try always passes
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)  # C(2,2)/C(5,2)
    assert pass_hat_k(10, 5, 3) == pytest.approx(1 / 12)  # C(5,3)/C(10,3) = 10/120
    assert pass_hat_k(5, 5, 5) == 1.0
    assert pass_hat_k(5, 4, 5) == 0.0
    for bad in ((0, 0, 1), (5, 6, 1), (5, 2, 0), (5, 2, 6)):
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_rates_and_flaky_cases() -> None:
    runs: Values = {
        "x": [1.0, 1.0, 1.0],
        "y": [1.0, 0.0, None],
        "z": [None, None],
        "w": [0.0, None, 0.0],
    }
    assert pass_rates(runs) == {"x": 1.0, "y": 0.5, "z": None, "w": 0.0}
    assert flaky_cases(runs) == ["y"]
    with pytest.raises(ValueError, match="'q'"):
        flaky_cases({"q": [0.5]})


# --- power and sample size ----------------------------------------------------------------


def test_cases_needed_by_hand() -> None:
    # 0.80 -> 0.70, independent given the case: p_d = 0.8·0.3 + 0.2·0.7 = 0.38.
    # n = (1.95996·√0.38 + 0.84162·√(0.38 - 0.01))² / 0.01 = 295.9 -> 296.
    assert cases_needed(-0.10, 0.80) == 296
    # Given discordance 0.2 for a gain of 0.1: (1.95996·√0.2 + 0.84162·√0.19)² / 0.01 -> 155.
    assert cases_needed(0.10, 0.70, discordance=0.2) == 155
    assert cases_needed(-0.20, 0.80) < cases_needed(-0.10, 0.80) < cases_needed(-0.05, 0.80)
    with pytest.raises(ValueError, match="discordance"):
        cases_needed(0.1, 0.5, discordance=0.05)
    with pytest.raises(ValueError, match="rate"):
        cases_needed(0.3, 0.8)
    assert cases_needed_continuous(0.1, 0.3) == math.ceil((2.8016 * 3) ** 2)  # (z·sd/δ)² = 70.6


def test_mde_inverts_cases_needed() -> None:
    n = cases_needed(-0.10, 0.80)
    mde = mde_binary(n, 0.38)
    assert mde is not None and mde == pytest.approx(0.10, abs=0.002)
    assert mde_binary(0, 0.38) is None
    assert mde_binary(100, 0.0) is None


def test_reported_mde_follows_the_test() -> None:
    r = compare(table(both=300, a_only=60, b_only=40, neither=0))
    assert r.mde == pytest.approx(mde_binary(400, 100 / 400))
    rng = random.Random(2)
    a = {f"c{i}": [rng.random(), rng.random()] for i in range(50)}
    b = {f"c{i}": [rng.random(), rng.random()] for i in range(50)}
    rc = compare(PairedMetric("judge", "continuous", a, b))
    sd = statistics.stdev(statistics.fmean(b[c]) - statistics.fmean(a[c]) for c in a)
    assert rc.mde == pytest.approx((1.959964 + 0.841621) * sd / math.sqrt(50), rel=1e-4)


# --- resampling internals -----------------------------------------------------------------


def test_binomial_sampler_matches_its_distribution() -> None:
    rng = random.Random(7)
    for n, p in ((400, 0.3), (60, 0.05), (1000, 0.93), (1, 0.5)):
        draws = [binomial(rng, n, p) for _ in range(20_000)]
        mean = statistics.fmean(draws)
        assert abs(mean - n * p) < 5 * math.sqrt(n * p * (1 - p) / 20_000) + 1e-9
        assert statistics.pvariance(draws) == pytest.approx(n * p * (1 - p), rel=0.05)
        assert all(0 <= d <= n for d in draws)
    assert binomial(rng, 10, 0.0) == 0
    assert binomial(rng, 10, 1.0) == 10


def test_multinomial_and_index_resampling_agree() -> None:
    # Few distinct values take the multinomial path; jittered copies take random.choices.
    rng = random.Random(5)
    values = [rng.choice([-1.0, 0.0, 0.0, 1.0]) for _ in range(400)]
    jittered = [v + rng.uniform(-1e-9, 1e-9) for v in values]
    fast = bootstrap_means(values, 4000, random.Random(1))
    slow = bootstrap_means(jittered, 4000, random.Random(1))
    assert statistics.fmean(fast) == pytest.approx(statistics.fmean(values), abs=0.003)
    assert statistics.stdev(fast) == pytest.approx(statistics.stdev(slow), rel=0.06)


def test_bca_interval_is_available_and_sane() -> None:
    rng = random.Random(9)
    values = [rng.expovariate(1.0) for _ in range(80)]
    lo, hi = bootstrap_ci(
        values, confidence=0.95, n_resamples=2000, rng=random.Random(0), method="bca"
    )
    assert lo < statistics.fmean(values) < hi
    a = {f"c{i}": [0.0] for i in range(30)}
    b = {f"c{i}": [v / 10] for i, v in enumerate(values[:30])}
    r = compare(PairedMetric("m", "continuous", a, b), ci_method="bca")
    assert r.ci_method == "bca"
    assert r.ci_low is not None and r.ci_high is not None and r.ci_low < r.ci_high


# --- validity, small: the full-size simulations live in bench/bench_stats.py ---------------


def aa_metric(rng: random.Random, n: int, p: float, repeats: int) -> PairedMetric:
    def case() -> list[float]:
        q = rng.betavariate(2 * p, 2 * (1 - p)) if repeats > 1 else p
        return [float(rng.random() < q) for _ in range(repeats)]

    return binary({f"c{i}": case() for i in range(n)}, {f"c{i}": case() for i in range(n)})


@pytest.mark.parametrize(("n", "repeats"), [(200, 1), (100, 3)])
def test_aa_false_alarms_stay_near_alpha(n: int, repeats: int) -> None:
    # 200 A/A comparisons with outcomes independent given the case. The verdict does not
    # use the interval, so few resamples keep this fast.
    false_alarms = 0
    for i in range(200):
        metric = aa_metric(random.Random(f"aa/{n}/{repeats}/{i}"), n, 0.8, repeats)
        r = compare(metric, seed=i, n_resamples=100, n_permutations=2000)
        false_alarms += r.verdict != "no detectable difference"
    assert false_alarms / 200 <= 0.08


def test_mde_in_a_family_plans_for_holms_strictest_level() -> None:
    one = table(both=300, a_only=60, b_only=40, neither=0)
    rc = PairedMetric(
        "judge",
        "continuous",
        {"c1": [0.1], "c2": [0.9], "c3": [0.4]},
        {"c1": [0.3], "c2": [0.2], "c3": [0.8]},
    )
    alone = compare_all([one])[0]
    first, _, cont = compare_all([one, one, rc])
    assert alone.mde == pytest.approx(mde_binary(400, 100 / 400))
    assert first.mde == pytest.approx(mde_binary(400, 100 / 400, alpha=0.05 / 3))
    assert first.mde is not None and alone.mde is not None and first.mde > alone.mde
    sd = statistics.stdev([0.2, -0.7, 0.4])
    z = statistics.NormalDist().inv_cdf
    assert cont.mde == pytest.approx((z(1 - 0.05 / 6) + z(0.8)) * sd / math.sqrt(3))
