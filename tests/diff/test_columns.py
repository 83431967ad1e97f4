"""The columnar fold and paired statistics against the general path, on the same records.

``diff`` folds a case's first record into columns and computes each metric's pairing
with numpy (promptbench/diff/compute.py); the general path folds every record into a
:class:`CaseData` and pairs a :class:`PairedMetric` case by case in
:func:`promptbench.stats.compare.compare`. Here both read the same records, drawn by
hypothesis with what breaks pairing (repeats, a record written twice, call errors,
metric errors, metrics on some records only, cases on one side only), and must agree
to the float.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.diff.compute import _flips_and_flaky, _Matched, _pair_metric, _series_of
from promptbench.diff.pairing import CaseData, GroupData
from promptbench.stats.compare import PairedMetric, compare, compare_pairs
from promptbench.stats.moments import stdev
from promptbench.suite.regression import PASS_RATE

METRICS = ("exact", "sim")


@st.composite
def lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One group's records.jsonl lines: a few cases, some repeated, oddities included."""
    out = []
    for case in range(draw(st.integers(0, 12))):
        for repeat in draw(st.lists(st.integers(0, 2), min_size=1, max_size=3)):
            line: dict[str, Any] = {"case_id": f"c{case}", "repeat": repeat, "output": "o"}
            if draw(st.integers(0, 9)) == 0:
                line["error"] = {"kind": "timeout", "message": "slow"}
                out.append(line)
                continue
            scores = {}
            for name in METRICS:
                kind = draw(st.sampled_from(["pass", "fail", "value", "error", "absent"]))
                if kind == "absent":
                    continue
                if kind == "error":
                    scores[name] = {"value": None, "passed": None, "error": "bad", "reason": "r"}
                elif kind == "value":
                    v = draw(st.sampled_from([0.25, 0.5, 1 / 3, 0.7, 0.0, 1.0, math.inf]))
                    scores[name] = {"value": v, "passed": v >= 0.5, "reason": "why"}
                else:
                    ok = kind == "pass"
                    scores[name] = {"value": float(ok), "passed": ok, "reason": "" if ok else "no"}
            errors = any(s.get("error") for s in scores.values())
            verdicts = [bool(s.get("passed")) for s in scores.values()]
            line["scores"] = scores
            line["passed"] = None if errors or not scores else all(verdicts)
            out.append(line)
    return out


def general(records: list[dict[str, Any]]) -> tuple[GroupData, dict[str, CaseData]]:
    """The group folded by the columns, and every case folded the general way."""
    group = GroupData("v", "m")
    cases: dict[str, CaseData] = {}
    ref = GroupData("v", "m")  # only its CaseData fold is used
    for line in records:
        group.add_line(line)
        case = cases.setdefault(line["case_id"], CaseData())
        ref._add_to_case(case, line, bool(line.get("error")), line["repeat"])
    return group, cases


def reference_series(cases: dict[str, CaseData], metric: str) -> dict[str, Any]:
    out = {}
    for case_id, case in cases.items():
        series = case.series(metric)
        if series is not None:
            out[case_id] = tuple(series)
    return out


@settings(max_examples=300, deadline=None)
@given(lines())
def test_columns_hold_what_the_general_fold_holds(records: list[dict[str, Any]]) -> None:
    group, cases = general(records)
    assert group.case_ids == list(cases)
    for metric in (PASS_RATE, *METRICS):
        assert _series_of(group.case_ids, group.column(metric)) == reference_series(cases, metric)
    for slot, (case_id, case) in enumerate(cases.items()):
        assert group.case_ids[slot] == case_id
        for metric in (PASS_RATE, *METRICS):
            assert group.usable(slot, metric) == case.usable(metric)
        assert group.shown_of(slot) == case.shown or (
            # Reasons are skipped for a record whose every metric passed: never shown.
            case.shown is not None
            and group.shown_of(slot) == case.shown._replace(reasons=group.shown_of(slot).reasons)
        )


def old_diffs_sd(metric: PairedMetric) -> float | None:
    """The spread "cases needed" used, as compute._case_diffs_sd computed it."""
    diffs = []
    for case_id, va in metric.a.items():
        vb = metric.b.get(case_id, ())
        if len(va) == 1 and len(vb) == 1:
            if va[0] is not None and vb[0] is not None:
                diffs.append(vb[0] - va[0])
            continue
        ua = [v for v in va if v is not None]
        ub = [v for v in vb if v is not None]
        if ua and ub:
            diffs.append(sum(ub) / len(ub) - sum(ua) / len(ua))
    return stdev(diffs) if len(diffs) > 1 else None


@settings(max_examples=300, deadline=None)
@given(lines(), lines())
def test_paired_statistics_are_the_general_paths(
    records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]
) -> None:
    ga, cases_a = general(records_a)
    gb, cases_b = general(records_b)
    matched = _Matched(ga, gb)
    for metric in (PASS_RATE, *METRICS):
        paired = _pair_metric(metric, matched)
        va, vb = reference_series(cases_a, metric), reference_series(cases_b, metric)
        distinct = {v for side in (va, vb) for vs in side.values() for v in vs} - {None}
        kind = "binary" if distinct <= {0.0, 1.0} else "continuous"
        assert paired.kind == kind
        reference = PairedMetric(metric, kind, va, vb)
        want = compare(reference, n_resamples=200, n_permutations=200)
        got = compare_pairs(metric, kind, paired.cases, n_resamples=200, n_permutations=200)
        for f in fields(want):
            assert getattr(got, f.name) == getattr(want, f.name) or (
                getattr(want, f.name) != getattr(want, f.name)  # NaN on both
                and getattr(got, f.name) != getattr(got, f.name)
            ), f.name
        assert paired.diffs_sd == old_diffs_sd(reference)


def test_a_big_synthetic_pair_is_the_general_paths() -> None:
    # 1,500 cases a side: past VECTOR_MIN, so the resampling and the permutations take
    # their numpy branches, fed the same differences in the same order by both paths.
    import random

    from tests.helpers.synthetic_runs import synthetic_record

    def side(seed: int, p: float) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        records = (synthetic_record(rng, c, "v", "m", 0, p) for c in range(1500))
        return [r.to_json() for r in records if r.probe is None]

    ga, cases_a = general(side(1, 0.7))
    gb, cases_b = general(side(2, 0.6))
    matched = _Matched(ga, gb)
    for metric in (PASS_RATE, *METRICS):
        paired = _pair_metric(metric, matched)
        va, vb = reference_series(cases_a, metric), reference_series(cases_b, metric)
        want = compare(PairedMetric(metric, paired.kind, va, vb), n_resamples=300)
        assert compare_pairs(metric, paired.kind, paired.cases, n_resamples=300) == want


def old_flips(
    cases_a: dict[str, CaseData], cases_b: dict[str, CaseData], names: list[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Flips and flaky cases as compute._flips_and_flaky found them over CaseData."""

    def scores(case: CaseData) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in names:
            usable = case.usable(name)
            out[name] = sum(usable) / len(usable) if usable else None
        return out

    flips, flaky = [], []
    for case_id, ca in cases_a.items():
        cb = cases_b.get(case_id)
        if cb is None:
            continue
        va, vb = ca.usable(PASS_RATE), cb.usable(PASS_RATE)
        if not va or not vb:
            continue
        if len(set(va)) > 1 or len(set(vb)) > 1:
            flaky.append((case_id, int(sum(va)), len(va), int(sum(vb)), len(vb)))
            continue
        if va[0] == vb[0]:
            continue
        sa, sb = scores(ca), scores(cb)
        changes = [y - x for n in names if (x := sa[n]) is not None and (y := sb[n]) is not None]
        assert ca.shown is not None and cb.shown is not None
        flips.append(
            (
                case_id,
                "regression" if va[0] > vb[0] else "improvement",
                sum(changes) / len(changes) if changes else None,
                sa,
                sb,
                ca.shown.output,
                cb.shown.output,
                dict(ca.shown.reasons) if va[0] == 0.0 else {},
                dict(cb.shown.reasons) if vb[0] == 0.0 else {},
            )
        )
    return sorted(flips, key=lambda f: f[0]), sorted(flaky)


@settings(max_examples=300, deadline=None)
@given(lines(), lines())
def test_flips_are_the_general_paths(
    records_a: list[dict[str, Any]], records_b: list[dict[str, Any]]
) -> None:
    ga, cases_a = general(records_a)
    gb, cases_b = general(records_b)
    flips, flaky = _flips_and_flaky(_Matched(ga, gb), list(METRICS))
    fields_of = ("case_id", "direction", "score_change", "scores_a", "scores_b")
    fields_of += ("output_a", "output_b", "reasons_a", "reasons_b")
    got_flips = sorted((tuple(getattr(f, n) for n in fields_of) for f in flips), key=lambda f: f[0])
    got_flaky = sorted((c.case_id, c.passes_a, c.runs_a, c.passes_b, c.runs_b) for c in flaky)
    want_flips, want_flaky = old_flips(cases_a, cases_b, list(METRICS))
    assert got_flaky == want_flaky
    assert got_flips == want_flips
