"""Pairing records for diff, and the regression gate, on records built in memory.

The end-to-end tests (tests/cli/test_diff.py, test_baseline.py) make the records through
real runs; these pin the rules exactly: what is paired with what, what is counted apart,
and by simulation, that the regression gate ignores noise and catches a real drop.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from promptbench.diff import DiffResult, SideInfo, check_regressions
from promptbench.diff.compute import diff_indexes
from promptbench.diff.pairing import (
    RecordIndex,
    natural_key,
    pairs_of_models,
    pairs_of_runs,
    pairs_of_variants,
)
from promptbench.diff.regression import margin_p_value
from promptbench.stats.compare import holm
from promptbench.stats.power import cases_needed
from promptbench.suite.regression import PASS_RATE, RegressionRule
from promptbench.types import CallError, Record, Score


def rec(
    case: str,
    ok: bool | None,
    *,
    variant: str = "v",
    model: str = "m",
    repeat: int = 0,
    sim: float | None = None,
    output: str = "",
    error: bool = False,
    metric_error: bool = False,
) -> Record:
    """A record scored by ``exact`` (0/1) and, when ``sim`` is given, ``sim`` (continuous)."""
    if error:
        return Record(
            case, variant, model, repeat, {}, (), error=CallError("timeout", "took too long")
        )
    scores = {}
    if metric_error:
        scores["exact"] = Score("exact", None, None, error="judge unparseable")
    else:
        assert ok is not None
        scores["exact"] = Score("exact", float(ok), ok, "" if ok else f"expected {case}")
    if sim is not None:
        scores["sim"] = Score("sim", sim, sim >= 0.5)
    passed = None if metric_error else ok
    return Record(case, variant, model, repeat, {}, (), output=output, scores=scores, passed=passed)


def run_diff(a: list[Record], b: list[Record], **kw: object) -> DiffResult:
    ia, ib = RecordIndex.of(a), RecordIndex.of(b)
    return diff_indexes(
        ia,
        ib,
        pairs_of_runs(ia, ib),
        a=SideInfo("A", "a"),
        b=SideInfo("B", "b"),
        mode="runs",
        **kw,  # type: ignore[arg-type]
    )


def bernoulli(rng: random.Random, p: float, n: int, **kw: object) -> Iterator[Record]:
    for i in range(n):
        yield rec(f"c{i}", rng.random() < p, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pairing


def test_pairs_for_variants_models_and_runs() -> None:
    records = [
        rec("c1", True, variant=v, model=m) for v in ("terse", "guided") for m in ("mini", "llama")
    ]
    records.append(rec("c1", True, variant="terse", model="solo"))  # no guided × solo
    index = RecordIndex.of(records)
    assert [p.label for p in pairs_of_variants(index, "terse", "guided")] == [
        "terse × mini → guided × mini",
        "terse × llama → guided × llama",
    ]
    assert [p.label for p in pairs_of_models(index, "mini", "llama")] == [
        "terse × mini → terse × llama",
        "guided × mini → guided × llama",
    ]
    other = RecordIndex.of([rec("c1", True, variant="guided", model="mini")])
    assert [p.label for p in pairs_of_runs(index, other)] == ["guided × mini"]


def test_means_paired_difference_and_verdict_on_a_clear_drop() -> None:
    # 40 cases: A passes all, B fails 20 of them. McNemar: 20 discordant, all one way.
    a = [rec(f"c{i}", True) for i in range(40)]
    b = [rec(f"c{i}", i >= 20) for i in range(40)]
    result = run_diff(a, b)
    (pair,) = result.pairs
    row = pair.metric("exact")
    assert row is not None
    c = row.comparison
    assert (c.mean_a, c.mean_b, c.diff) == (1.0, 0.5, -0.5)
    assert c.test == "mcnemar-exact"
    assert c.p_value == pytest.approx(2 * 0.5**20)
    assert c.verdict == "worse"
    assert c.ci_low is not None and c.ci_high is not None and c.ci_low < -0.5 < c.ci_high < 0
    # pass_rate is compared too, first. With one metric it is that metric case for case:
    # the same test, counted once in Holm's family, so nothing is adjusted.
    assert [m.comparison.name for m in pair.metrics] == [PASS_RATE, "exact"]
    rate = pair.metrics[0].comparison
    assert rate.p_value == c.p_value and rate.p_adjusted == c.p_adjusted == c.p_value


def test_holm_runs_over_every_metric_of_every_pair() -> None:
    rng = random.Random(3)
    a = [
        rec(f"c{i}", rng.random() < 0.7, model=m, sim=rng.random()) for m in "xy" for i in range(30)
    ]
    b = [
        rec(f"c{i}", rng.random() < 0.5, model=m, sim=rng.random()) for m in "xy" for i in range(30)
    ]
    result = run_diff(a, b)
    rows = [m.comparison for _, m in result.comparisons()]
    assert len(rows) == 6  # 2 pairs × (pass_rate, exact, sim)
    assert rows[2].kind == "continuous" and rows[1].kind == "binary"
    # pass_rate repeats exact (a case passes when exact passes): 4 distinct tests, and
    # Holm's family is those 4, over both pairs.
    distinct = [rows[1], rows[2], rows[4], rows[5]]
    raw = [c.p_value for c in distinct]
    expected = holm([p for p in raw if p is not None])
    assert len(expected) == 4
    assert [c.p_adjusted for c in distinct] == pytest.approx(expected)
    assert rows[0].p_adjusted == rows[1].p_adjusted and rows[3].p_adjusted == rows[4].p_adjusted
    assert rows[0].name == PASS_RATE and rows[1].name == "exact"


def test_unpaired_cases_and_errors_are_counted_never_dropped_silently() -> None:
    a = [rec("c1", True), rec("c2", True), rec("c3", True), rec("only-a", True)]
    b = [
        rec("c1", True),
        rec("c2", False, error=True),  # call error: no figure, counted
        rec("c3", None, metric_error=True),  # metric error: no verdict, counted
        rec("only-b", False),
    ]
    (pair,) = run_diff(a, b).pairs
    assert pair.only_a == ["only-a"] and pair.only_b == ["only-b"]
    assert (pair.call_errors_a, pair.call_errors_b) == (0, 1)
    pr = pair.metric(PASS_RATE)
    ex = pair.metric("exact")
    assert pr is not None and ex is not None
    assert pr.comparison.n_paired == 1  # c1 only: c2 and c3 have no verdict on B
    assert pr.comparison.unpaired_a == ("c2", "c3", "only-a")
    assert pr.comparison.unpaired_b == ("only-b",)
    assert pr.comparison.n_errors_b == 2
    assert ex.comparison.n_errors_b == 2  # the call error counts against every metric


def test_a_call_error_before_any_score_still_counts_against_every_metric() -> None:
    # Order-independent: the error record comes first, before "sim" is known.
    b = [rec("c1", False, error=True, sim=0.1), rec("c2", True, sim=0.9)]
    a = [rec("c1", True, sim=0.9), rec("c2", True, sim=0.9)]
    (pair,) = run_diff(a, b).pairs
    sim = pair.metric("sim")
    assert sim is not None and sim.comparison.n_errors_b == 1


def test_runs_pair_only_the_groups_both_sides_have() -> None:
    a = [rec("c1", True, variant="x"), rec("c1", True, variant="y")]
    b = [rec("c1", True, variant="x"), rec("c1", True, variant="z")]
    ia, ib = RecordIndex.of(a), RecordIndex.of(b)
    assert [p.label for p in pairs_of_runs(ia, ib)] == ["x × m"]


# --------------------------------------------------------------------------- flips


def test_flips_are_sorted_by_score_change_with_both_outputs_and_reasons() -> None:
    a = [
        rec("c1", True, sim=0.9, output="the queue is billing"),
        rec("c2", True, sim=0.6, output="billing"),
        rec("c3", False, sim=0.2, output="refunds"),
        rec("c4", True, sim=0.8, output="same"),
    ]
    b = [
        rec("c1", False, sim=0.1, output="the queue is refunds"),  # change (−1 − 0.8)/2 = −0.9
        rec("c2", False, sim=0.5, output="refund"),  # (−1 − 0.1)/2 = −0.55
        rec("c3", True, sim=0.9, output="billing"),  # (+1 + 0.7)/2 = +0.85
        rec("c4", True, sim=0.8, output="same"),
    ]
    (pair,) = run_diff(a, b).pairs
    assert [(f.case_id, f.direction) for f in pair.flips] == [
        ("c1", "regression"),
        ("c3", "improvement"),
        ("c2", "regression"),
    ]
    c1 = pair.flips[0]
    assert c1.score_change == pytest.approx(-0.9)
    assert (c1.output_a, c1.output_b) == ("the queue is billing", "the queue is refunds")
    assert c1.reasons_b == {"exact": "expected c1"} and c1.reasons_a == {}
    assert pair.flips[1].reasons_a == {"exact": "expected c3"}
    assert [f.case_id for f in pair.regressions] == ["c1", "c2"]
    assert [f.case_id for f in pair.improvements] == ["c3"]


# --------------------------------------------------------------------------- repeats


def test_repeats_are_clustered_by_case_with_pass_at_k_and_flaky_apart() -> None:
    # 3 repeats. A: c1 3/3, c2 2/3 (flaky), c3 0/3. B: c1 0/3 (a flip), c2 3/3, c3 0/3.
    pattern_a = {"c1": [1, 1, 1], "c2": [1, 0, 1], "c3": [0, 0, 0]}
    pattern_b = {"c1": [0, 0, 0], "c2": [1, 1, 1], "c3": [0, 0, 0]}
    a = [rec(c, bool(v), repeat=r) for c, vs in pattern_a.items() for r, v in enumerate(vs)]
    b = [rec(c, bool(v), repeat=r) for c, vs in pattern_b.items() for r, v in enumerate(vs)]
    (pair,) = run_diff(a, b).pairs
    pr = pair.metric(PASS_RATE)
    assert pr is not None
    assert pr.comparison.n_paired == 3  # cases, not 9 records
    assert pr.comparison.max_repeats == 3
    assert pr.comparison.test.startswith("permutation")  # McNemar needs one repeat
    assert [f.case_id for f in pair.flips] == ["c1"]
    assert [(c.case_id, c.passes_a, c.runs_a, c.passes_b, c.runs_b) for c in pair.flaky] == [
        ("c2", 2, 3, 3, 3)
    ]
    ra = pair.repeats_a
    assert ra is not None and ra.repeats == 3
    # pass@1 = mean pass rate (1 + 2/3 + 0)/3; pass@2: c2 gives 1 − C(1,2)/C(3,2) = 1.
    assert ra.pass_at_k[1] == pytest.approx(5 / 9)
    assert ra.pass_at_k[2] == pytest.approx(2 / 3)
    # pass^2: c2 gives C(2,2)/C(3,2) = 1/3; pass^3: c2 gives 0.
    assert ra.pass_hat_k[2] == pytest.approx((1 + 1 / 3) / 3)
    assert ra.pass_hat_k[3] == pytest.approx(1 / 3)
    assert ra.flaky == ["c2"] and ra.case_pass_rates["c2"] == pytest.approx(2 / 3)


def test_single_repeat_has_no_repeat_section() -> None:
    (pair,) = run_diff([rec("c1", True)], [rec("c1", True)]).pairs
    assert pair.repeats_a is None and pair.repeats_b is None


# --------------------------------------------------------------------------- figures, JSON


def test_cases_needed_uses_the_power_module_from_a_s_pass_rate() -> None:
    a = [rec(f"c{i}", i % 5 != 0) for i in range(50)]  # 80% pass
    b = [rec(f"c{i}", i % 5 != 0) for i in range(50)]
    (pair,) = run_diff(a, b, detect=0.1).pairs
    row = pair.metric(PASS_RATE)
    assert row is not None
    assert row.cases_needed == cases_needed(-0.1, 0.8)
    assert row.detect == 0.1


def test_to_json_is_whole_and_valid_json() -> None:
    a = [rec("c1", True, output="x"), rec("c2", True), rec("c3", False, error=True)]
    b = [rec("c1", False, output="y"), rec("c2", True), rec("c4", True)]
    data = run_diff(a, b).to_json()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["mode"] == "runs" and data["correction"] == "holm"
    assert data["verdicts"]["no detectable difference"] == 2
    (pair,) = data["pairs"]
    assert set(pair) >= {"label", "metrics", "flips", "flaky", "only_a", "only_b", "repeats_a"}
    assert pair["flips"][0]["output_a"] == "x" and pair["flips"][0]["from"] == "pass"
    assert {"mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_adjusted", "mde", "verdict"} <= set(
        pair["metrics"][0]
    )
    assert pair["metrics"][0]["cases_needed"] is not None


def test_natural_key_orders_numbered_ids() -> None:
    assert sorted(["q10", "q2", "q1", "a"], key=natural_key) == ["a", "q1", "q2", "q10"]


# --------------------------------------------------------------------------- regression gate


def test_margin_p_value_reads_the_bootstrap_distribution() -> None:
    drops = [-1.0] * 30 + [0.0] * 70  # mean −0.30, se ≈ 0.046
    assert margin_p_value(drops, 0.05, 2000, 0) < 0.001  # far beyond a 5-point margin
    assert margin_p_value(drops, 0.30, 2000, 0) == pytest.approx(0.5, abs=0.1)  # at the margin
    assert margin_p_value(drops, 0.5, 2000, 0) > 0.99  # well within it


def gate_fails(pa: float, pb: float, n: int, margin: float, seed: int) -> bool:
    rng = random.Random(seed)
    result = run_diff(list(bernoulli(rng, pa, n)), list(bernoulli(rng, pb, n)), n_resamples=200)
    report = check_regressions(result, [RegressionRule(PASS_RATE, margin)], n_resamples=1000)
    return not report.passed


def test_gate_does_not_fail_on_noise() -> None:
    # A/A: both sides answer right with probability 0.8, independently given the case (the
    # hardest setting for a paired test). Margin 0 is the strictest rule. The gate's level is
    # 2.5% one-sided and it also needs diff's two-sided verdict: about 2% false alarms. 300
    # simulations: a rate at or under 5% is met with room for the simulation's own noise.
    fails = sum(gate_fails(0.8, 0.8, 200, 0.0, seed) for seed in range(300))
    assert fails / 300 <= 0.05


def test_gate_fails_on_a_real_drop() -> None:
    # 80% → 60% on 200 cases, margin 0.02: a 20-point drop, far beyond the margin.
    fails = sum(gate_fails(0.8, 0.6, 200, 0.02, seed) for seed in range(100))
    assert fails / 100 >= 0.95


def test_gate_tolerates_a_real_drop_within_the_margin() -> None:
    # 80% → 78% is a real drop, but smaller than the 5-point margin: not a regression.
    fails = sum(gate_fails(0.8, 0.78, 300, 0.05, seed) for seed in range(200))
    assert fails / 200 <= 0.025


def test_gate_needs_diffs_own_verdict_on_tiny_samples() -> None:
    # One case, A passed and B failed: every bootstrap mean is −1 (the margin test alone
    # would fail it), but one discordant pair is no evidence: McNemar's p is 1.
    result = run_diff([rec("c1", True)], [rec("c1", False)])
    report = check_regressions(result, [RegressionRule(PASS_RATE, 0.0)])
    (check,) = report.checks
    assert check.p_margin is not None and check.p_margin < 0.01
    assert check.verdict == "no detectable difference"
    assert report.passed and "no significant drop" in check.reason


def test_default_rules_check_every_metric_and_holm_spans_the_checks() -> None:
    rng = random.Random(1)
    a = [rec(f"c{i}", True, sim=0.9, model=m) for m in "xy" for i in range(60)]
    b = [rec(f"c{i}", rng.random() < 0.5, sim=0.3, model=m) for m in "xy" for i in range(60)]
    report = check_regressions(run_diff(a, b))
    assert report.default_rules
    assert [(c.rule.metric, c.rule.margin, c.pair) for c in report.checks] == [
        (metric, 0.0, pair) for pair in ("v × x", "v × y") for metric in (PASS_RATE, "exact", "sim")
    ]
    assert not report.passed and len(report.failures) == 6
    # Holm spans the distinct tests over both pairs: pass_rate is exact case for case
    # here, so 4 tests (exact, sim per pair), and pass_rate shares exact's result.
    distinct = [report.checks[i] for i in (1, 2, 4, 5)]
    raw = [c.p_margin for c in distinct]
    assert [c.p_adjusted for c in distinct] == pytest.approx(
        holm([p for p in raw if p is not None])
    )
    assert report.checks[0].p_adjusted == report.checks[1].p_adjusted
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert data["passed"] is False and data["checks"][0]["regressed"] is True


def test_cases_needed_plans_for_the_holm_level_of_the_family() -> None:
    a = [rec(f"c{i}", i % 5 != 0, sim=(i % 7) / 7) for i in range(50)]
    b = [rec(f"c{i}", i % 5 != 0, sim=(i % 3) / 3) for i in range(50)]
    result = run_diff(a, b, detect=0.1)
    (pair,) = result.pairs
    row = pair.metric(PASS_RATE)
    assert row is not None and result.family > 1
    assert row.cases_needed == cases_needed(-0.1, 0.8, alpha=0.05 / result.family)
    assert row.cases_needed > cases_needed(-0.1, 0.8)
