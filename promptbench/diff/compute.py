"""Pair two sets of records and say, metric by metric, whether B differs from A.

What is compared (a :class:`Pair` of variant × model groups, one on each side):

* two variants of one run: ``terse × mini`` against ``guided × mini``, for each model;
* two models of one run: ``guided × mini`` against ``guided × llama``, for each variant;
* two runs (or a run and a baseline file): each variant × model group present in both.

Records are paired by case id (and repeat); the statistics cluster by case, through
:func:`promptbench.stats.compare.compare_all`: repeats of a case are averaged before
cases are compared, and Holm's correction runs over every metric of every pair compared
at once. Besides each metric's score, the case-level verdict (a record passes when every
metric passes) is compared as ``pass_rate``. A call error drops the record from every
figure, a metric error drops that score; both are counted, never taken as a fail.

Per pair, beyond the numbers: the cases that flipped (a stable pass on one side, a
stable fail on the other), the flaky ones (the verdict changes across repeats) apart,
pass@k and pass^k with repeats, and the cases only one side has.

Pure computation over :class:`~promptbench.types.Record`; nothing here reads files or
prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from promptbench.diff.pairing import (
    CaseData,
    GroupData,
    Pair,
    RecordIndex,
    natural_key,
)
from promptbench.diff.result import (
    POWER,
    DiffResult,
    FlakyCase,
    Flip,
    MetricResult,
    Mode,
    PairResult,
    RepeatStats,
    SideInfo,
)
from promptbench.stats.compare import MetricComparison, PairedMetric, compare_all, family_alpha
from promptbench.stats.moments import stdev
from promptbench.stats.power import cases_needed, cases_needed_continuous
from promptbench.stats.repeats import pass_at_k, pass_hat_k
from promptbench.suite.regression import PASS_RATE

DEFAULT_DETECT = 0.05  # the difference "cases needed" plans for: 5 points


# --------------------------------------------------------------------------- computing


def _values(group: GroupData, metric: str) -> dict[str, Sequence[float | None]]:
    out: dict[str, Sequence[float | None]] = {}
    for case_id, case in group.cases.items():
        series = case.series(metric)
        if series is not None:  # None: the metric does not apply to this case
            out[case_id] = series
    return out


def _paired_metric(name: str, a: GroupData, b: GroupData) -> PairedMetric:
    va, vb = _values(a, name), _values(b, name)
    # Over the distinct values: a big run has few (0 and 1 above all), many cases.
    distinct = {v for side in (va, vb) for vs in side.values() for v in vs}
    distinct.discard(None)
    if distinct <= {0.0, 1.0}:
        return PairedMetric(name, "binary", va, vb)
    return PairedMetric(name, "continuous", va, vb)


def _metric_order(
    index_a: RecordIndex, index_b: RecordIndex, a: GroupData, b: GroupData
) -> list[str]:
    names = dict.fromkeys(index_b.metric_names + index_a.metric_names)
    names.update(b.metric_names)
    names.update(a.metric_names)
    present = set(a.metric_names) | set(b.metric_names)
    return [PASS_RATE, *(n for n in names if n in present)]


def _cases_needed(
    c: MetricComparison, diffs_sd: float | None, detect: float, alpha: float
) -> int | None:
    """Paired cases needed to see a change of ``detect``, from what this sample shows."""
    if c.kind == "binary" and c.max_repeats <= 1:
        if c.mean_a is None:
            return None
        # A drop when there is room for one, else a rise. Outcomes are taken as
        # independent given the case, the conservative assumption the validity
        # benchmark (bench/bench_stats.py, part e) checks this figure under.
        for delta in (-detect, detect):
            try:
                return cases_needed(delta, c.mean_a, alpha=alpha, power=POWER)
            except ValueError:
                continue
        return None
    if diffs_sd is None or not diffs_sd > 0.0:
        return None
    return cases_needed_continuous(detect, diffs_sd, alpha=alpha, power=POWER)


def _case_diffs_sd(metric: PairedMetric) -> float | None:
    diffs = []
    b_of = metric.b.get
    for case_id, va in metric.a.items():
        vb = b_of(case_id, ())
        if len(va) == 1 and len(vb) == 1:  # one repeat a side, most cases: no lists
            a0, b0 = va[0], vb[0]
            if a0 is not None and b0 is not None:
                diffs.append(b0 - a0)
            continue
        ua = [v for v in va if v is not None]
        ub = [v for v in vb if v is not None]
        if ua and ub:
            diffs.append(sum(ub) / len(ub) - sum(ua) / len(ua))
    return stdev(diffs) if len(diffs) > 1 else None


def _scores(case: CaseData, names: Sequence[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in names:
        usable = case.usable(name)
        out[name] = sum(usable) / len(usable) if usable else None
    return out


def _flips_and_flaky(
    a: GroupData, b: GroupData, metric_names: Sequence[str]
) -> tuple[list[Flip], list[FlakyCase]]:
    flips: list[Flip] = []
    flaky: list[FlakyCase] = []
    for case_id, ca in a.cases.items():
        cb = b.cases.get(case_id)
        if cb is None:
            continue
        va = ca.usable(PASS_RATE)
        vb = cb.usable(PASS_RATE)
        if not va or not vb:
            continue
        if len(set(va)) > 1 or len(set(vb)) > 1:
            flaky.append(FlakyCase(case_id, int(sum(va)), len(va), int(sum(vb)), len(vb)))
            continue
        if va[0] == vb[0]:
            continue
        scores_a, scores_b = _scores(ca, metric_names), _scores(cb, metric_names)
        changes = [
            sb - sa
            for n in metric_names
            if (sa := scores_a[n]) is not None and (sb := scores_b[n]) is not None
        ]
        flips.append(
            Flip(
                case_id=case_id,
                direction="regression" if va[0] > vb[0] else "improvement",
                score_change=sum(changes) / len(changes) if changes else None,
                scores_a=scores_a,
                scores_b=scores_b,
                output_a=ca.shown.output if ca.shown else None,
                output_b=cb.shown.output if cb.shown else None,
                reasons_a=dict(ca.shown.reasons) if ca.shown and va[0] == 0.0 else {},
                reasons_b=dict(cb.shown.reasons) if cb.shown and vb[0] == 0.0 else {},
            )
        )
    # Largest score change first; a flip without scores to compare goes last.
    flips.sort(
        key=lambda f: (
            -abs(f.score_change) if f.score_change is not None else 1.0,
            natural_key(f.case_id),
        )
    )
    flaky.sort(key=lambda c: (-abs((c.rate_b or 0.0) - (c.rate_a or 0.0)), natural_key(c.case_id)))
    return flips, flaky


def _most_repeats(group: GroupData) -> int:
    """The most usable verdicts behind one case of the group (what RepeatStats.repeats says)."""
    return max((len(case.usable(PASS_RATE)) for case in group.cases.values()), default=0)


def repeat_stats(group: GroupData) -> RepeatStats:
    """pass@k and pass^k for k up to the most repeats, per-case pass rates, flaky cases."""
    counts: dict[str, tuple[int, int]] = {}
    for case_id, case in group.cases.items():
        usable = case.usable(PASS_RATE)
        counts[case_id] = (len(usable), int(sum(usable)))
    repeats = max((n for n, _ in counts.values()), default=0)
    at_k: dict[int, float] = {}
    hat_k: dict[int, float] = {}
    # Few distinct (tries, passes) among many cases: each estimate computed once, then
    # summed case by case in the same order as before, so the sums are the same floats.
    at_memo: dict[tuple[int, int, int], float] = {}
    hat_memo: dict[tuple[int, int, int], float] = {}
    for k in range(1, repeats + 1):
        cases = [(n, c) for n, c in counts.values() if n >= k]
        for n, c in set(cases):
            at_memo[n, c, k] = pass_at_k(n, c, k)
            hat_memo[n, c, k] = pass_hat_k(n, c, k)
        at_k[k] = sum(at_memo[n, c, k] for n, c in cases) / len(cases)
        hat_k[k] = sum(hat_memo[n, c, k] for n, c in cases) / len(cases)
    ids = sorted(counts, key=natural_key)
    return RepeatStats(
        repeats=repeats,
        pass_at_k=at_k,
        pass_hat_k=hat_k,
        case_pass_rates={i: counts[i][1] / counts[i][0] if counts[i][0] else None for i in ids},
        flaky=[i for i in ids if 0 < counts[i][1] < counts[i][0]],
    )


def signature(pair: Pair, metric: PairedMetric) -> tuple[Any, ...]:
    """What a comparison tests: the pair and the per-case values on both sides.

    Sets of (case, values): equal exactly when the per-case values are, whatever the
    order, and hashed without sorting 100,000 case ids.
    """
    return (
        pair,
        metric.kind,
        frozenset((c, tuple(v)) for c, v in metric.a.items()),
        frozenset((c, tuple(v)) for c, v in metric.b.items()),
    )


def _compare_distinct(
    metrics: list[tuple[Pair, PairedMetric]], **options: Any
) -> tuple[list[MetricComparison], int]:
    """compare_all, with each distinct test counted once in Holm's family.

    With one metric and no threshold, ``pass_rate`` is that metric case for case: the
    same test on the same data. Counting it twice would halve the level the smallest
    p-value is held to for no reason; a duplicate gets its original's result instead.
    """
    distinct: list[PairedMetric] = []
    index: list[int] = []
    # A duplicate is the same pair and kind with equal per-case values on both sides
    # (what signature() tells apart). Only metrics alike in pair, kind and case counts
    # can be one; those are compared value for value, which costs no memory, where
    # signatures of 100,000 cases each would be held until the end.
    alike: dict[tuple[Any, ...], list[int]] = {}
    for pair, m in metrics:
        seen = alike.setdefault((pair, m.kind, len(m.a), len(m.b)), [])
        same = next((j for j in seen if distinct[j].a == m.a and distinct[j].b == m.b), None)
        if same is None:
            same = len(distinct)
            seen.append(same)
            distinct.append(m)
        index.append(same)
    results = compare_all(distinct, **options)
    tested = sum(1 for r in results if r.p_value is not None)
    return [
        replace(results[i], name=m.name, higher_is_better=m.higher_is_better)
        for i, (_, m) in zip(index, metrics, strict=True)
    ], tested


def diff_indexes(
    index_a: RecordIndex,
    index_b: RecordIndex,
    pairs: Sequence[Pair],
    *,
    a: SideInfo,
    b: SideInfo,
    mode: Mode,
    alpha: float = 0.05,
    detect: float = DEFAULT_DETECT,
    seed: int = 0,
    n_resamples: int | None = None,
) -> DiffResult:
    """Compare every pair: each metric and ``pass_rate``, Holm over all of them together.

    ``detect`` is the difference the "cases needed" figure plans for (0.05: 5 points);
    ``alpha`` and ``detect`` are checked once, by :class:`~promptbench.diff.options.DiffOptions`.
    """
    metrics: list[tuple[Pair, PairedMetric]] = []
    layout: list[tuple[Pair, GroupData, GroupData, list[str]]] = []
    for pair in pairs:
        ga = index_a.groups[(pair.variant_a, pair.model_a)]
        gb = index_b.groups[(pair.variant_b, pair.model_b)]
        names = _metric_order(index_a, index_b, ga, gb)
        layout.append((pair, ga, gb, names))
        metrics += [(pair, _paired_metric(n, ga, gb)) for n in names]
    extra: dict[str, Any] = {} if n_resamples is None else {"n_resamples": n_resamples}
    comparisons, family = _compare_distinct(metrics, alpha=alpha, seed=seed, **extra)
    compared = iter(comparisons)
    paired = iter(m for _, m in metrics)
    results: list[PairResult] = []
    for pair, ga, gb, names in layout:
        rows: list[MetricResult] = []
        by_name: dict[str, PairedMetric] = {}
        for _ in names:
            c, m = next(compared), next(paired)
            by_name[m.name] = m
            needed = _cases_needed(c, _case_diffs_sd(m), detect, family_alpha(alpha, family))
            rows.append(MetricResult(c, detect, needed))
        flips, flaky = _flips_and_flaky(ga, gb, [n for n in names if n != PASS_RATE])
        with_repeats = max(_most_repeats(ga), _most_repeats(gb)) > 1
        rep_a = repeat_stats(ga) if with_repeats else None
        rep_b = repeat_stats(gb) if with_repeats else None
        results.append(
            PairResult(
                pair=pair,
                metrics=rows,
                cases_a=len(ga.cases),
                cases_b=len(gb.cases),
                only_a=sorted((c for c in ga.cases if c not in gb.cases), key=natural_key),
                only_b=sorted((c for c in gb.cases if c not in ga.cases), key=natural_key),
                call_errors_a=ga.call_errors,
                call_errors_b=gb.call_errors,
                flips=flips,
                flaky=flaky,
                repeats_a=rep_a,
                repeats_b=rep_b,
                paired=by_name,
            )
        )
    return DiffResult(a=a, b=b, mode=mode, alpha=alpha, detect=detect, pairs=results, family=family)
