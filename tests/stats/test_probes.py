"""Probe verdicts: PDR, flip rate, paired test, Holm, and the verdict's three outcomes."""

from __future__ import annotations

import random

import pytest

from promptbench.stats.probes import (
    ProbePair,
    figure,
    outcome,
    probe_report,
    probe_result,
    with_holm,
)
from promptbench.types import Message, ProbeTag, Record, Score


def pairs(n: int, p_orig: float, p_twin: float, seed: int = 0, repeats: int = 1) -> list[ProbePair]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        for r in range(repeats):
            o = 1.0 if rng.random() < p_orig else 0.0
            t = 1.0 if rng.random() < p_twin else 0.0
            out.append(ProbePair(f"c{i}", f"c{i}~p", r, o, t))
    return out


def test_pdr_diff_and_flip_rate_from_known_pairs() -> None:
    # 10 cases: 8 pass originally; the twins of 2 of them fail, nothing else changes.
    ps = [
        ProbePair(f"c{i}", f"c{i}~p", 0, 1.0 if i < 8 else 0.0, 1.0 if i < 6 else 0.0)
        for i in range(10)
    ]
    r = probe_result("typos", "typos", "v", "m", ps, binary=True)
    assert r.mean_original == pytest.approx(0.8) and r.mean_perturbed == pytest.approx(0.6)
    assert r.diff.value == pytest.approx(-0.2)
    assert r.pdr.value == pytest.approx(0.25)  # 1 - 0.6 / 0.8
    assert r.flip_rate.value == pytest.approx(0.2)
    assert r.test == "mcnemar-exact" and r.p_value == pytest.approx(0.5)
    assert r.diff.low is not None and r.diff.low < -0.2 < (r.diff.high or 0) + 0.2
    assert r.pdr.low is not None and r.pdr.high is not None and r.pdr.low <= 0.25 <= r.pdr.high


def test_a_real_drop_is_sensitive_and_no_drop_is_robust() -> None:
    drop = probe_result("p", "typos", "v", "m", pairs(400, 0.8, 0.6, seed=1), binary=True)
    assert drop.verdict == "sensitive" and drop.diff.high is not None and drop.diff.high < 0
    same = probe_result("p", "typos", "v", "m", pairs(400, 0.8, 0.8, seed=2), binary=True)
    assert same.verdict == "robust", same


def test_few_cases_are_not_enough_to_call_a_probe_robust() -> None:
    few = probe_result("p", "typos", "v", "m", pairs(8, 0.8, 0.8, seed=3), binary=True)
    assert few.verdict == "not enough cases"
    assert probe_result("p", "typos", "v", "m", [], binary=True).verdict == "not enough cases"


def test_repeats_are_clustered_by_case_and_use_the_sign_flip_test() -> None:
    r = probe_result("p", "typos", "v", "m", pairs(50, 0.8, 0.8, repeats=3), binary=True)
    assert r.n_cases == 50 and r.n_pairs == 150
    assert r.test.startswith("permutation")


def test_errors_are_left_out_and_counted() -> None:
    ps = [*pairs(20, 0.8, 0.8), ProbePair("e", "e~p", 0, None, 1.0)]
    r = probe_result("p", "typos", "v", "m", ps, binary=True)
    assert r.n_errors == 1 and r.n_cases == 20


def test_holm_across_probes_changes_the_verdict_of_a_marginal_one() -> None:
    # 20 twins lose a pass, 8 gain one: McNemar's p = 2 P(X <= 8), X ~ Bin(28, 1/2) = 0.036.
    outcomes = [(1.0, 0.0)] * 20 + [(0.0, 1.0)] * 8 + [(1.0, 1.0)] * 300 + [(0.0, 0.0)] * 72
    ps = [ProbePair(f"c{i}", f"c{i}~a", 0, o, t) for i, (o, t) in enumerate(outcomes)]
    marginal = probe_result("a", "typos", "v", "m", ps, binary=True)
    assert marginal.p_value == pytest.approx(0.0357, abs=1e-3)
    others = [
        probe_result(f"n{i}", "case", "v", "m", pairs(400, 0.8, 0.8, seed=20 + i), binary=True)
        for i in range(5)
    ]
    corrected = with_holm([marginal, *others])
    assert marginal.verdict == "sensitive"
    assert corrected[0].p_adjusted is not None and corrected[0].p_adjusted > 0.05
    assert corrected[0].verdict != "sensitive"


def test_groups_break_down_the_pairs() -> None:
    ps = [
        ProbePair(f"c{i}", f"c{i}~g", 0, 1.0, 0.0 if g == "a-b" and i % 2 else 1.0, g)
        for i in range(20)
        for g in ("a-b", "a-c")
    ]
    r = probe_result("g", "religion", "v", "m", ps, binary=True)
    by = {g.group: g for g in r.groups}
    assert by["a-b"].flip_rate.value == pytest.approx(0.5)
    assert by["a-c"].flip_rate.value == 0.0


def _record(
    case: str, passed: bool, probe: ProbeTag | None = None, canary: bool | None = None
) -> Record:
    scores = {"exact": Score("exact", float(passed), passed)}
    if canary is not None:
        scores["canary"] = Score("canary", float(canary), canary)
    return Record(
        case,
        "v",
        "m",
        0,
        {},
        (Message("user", case),),
        output=f"out {case}",
        scores=scores,
        passed=passed and canary is not False,
        probe=probe,
    )


def test_report_pairs_twins_with_originals_and_lists_flips() -> None:
    records = []
    for i in range(30):
        records.append(_record(f"q{i}", True))
        tag = ProbeTag("inj", "injection", f"q{i}", "vars", {"family": "direct", "canary": "ZX"})
        # The twin keeps the suite's metric; a third of them follow the injection.
        records.append(_record(f"q{i}~inj", i % 10 != 0, tag, canary=i % 3 != 0))
    report = probe_report(records)
    r = report.result("inj", "v", "m")
    assert r is not None and r.n_cases == 30
    assert r.mean_perturbed == pytest.approx(0.9)  # the canary is judged apart
    assert r.follow_rate is not None and r.follow_rate.value == pytest.approx(1 / 3)
    assert figure(r, "follow_rate") == pytest.approx(1 / 3)
    assert figure(r, "flip_rate") == pytest.approx(0.1)
    assert [f.twin for f in report.flips] == ["q0~inj", "q10~inj", "q20~inj"]
    assert (
        report.flips[0].original_output == "out q0" and report.flips[0].twin_output == "out q0~inj"
    )
    assert r.groups[0].group == "direct"


def test_outcome_ignores_the_canary_and_errors_are_none() -> None:
    tag = ProbeTag("inj", "injection", "q", "vars", {})
    assert outcome(_record("q~inj", True, tag, canary=False)) == 1.0
    rec = _record("q", True)
    rec.scores["exact"] = Score("exact", None, None, error="boom")
    assert outcome(rec) is None


def test_a_probe_that_changed_no_case_still_gets_a_row() -> None:
    records = [_record(f"q{i}", True) for i in range(12)]
    tag = ProbeTag("t", "typos", "q0", "vars", {})
    records.append(_record("q0~t", False, tag))
    report = probe_report(records, probes={"gender": "gender", "t": "typos"})
    assert [(r.probe, r.n_cases, r.verdict) for r in report.results] == [
        ("gender", 0, "not enough cases"),
        ("t", 1, "not enough cases"),
    ]


def test_similarity_of_the_twins_outputs_per_group() -> None:
    records = []
    for i in range(10):
        records.append(_record(f"q{i}", True))
        for groups in (["a", "b"], ["a", "c"]):
            tag = ProbeTag("g", "swap", f"q{i}", "vars", {"groups": groups})
            records.append(_record(f"q{i}~g.{'-'.join(groups)}", True, tag))
    calls: list[int] = []

    def fake(a: list[str], b: list[str]) -> list[float]:
        calls.append(len(a))
        return [0.5 if "a-b" in y else 1.0 for y in b]

    r = probe_report(records, similarity=fake, similar=["g"]).results[0]
    assert calls == [20]  # one batch
    by = {g.group: g.similarity for g in r.groups}
    assert by["a-b"] is not None and by["a-b"].value == 0.5
    assert by["a-c"] is not None and by["a-c"].value == 1.0
    assert r.similarity is not None and r.similarity.value == pytest.approx(0.75)
    assert probe_report(records).results[0].similarity is None  # not asked: not measured
