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

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from promptbench.diff.pairing import Column, GroupData, Pair, RecordIndex, natural_key
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
from promptbench.stats.compare import (
    CasePairs,
    Kind,
    MetricComparison,
    PairedMetric,
    compare_pairs,
    family_alpha,
    holm_family,
)
from promptbench.stats.moments import stdev
from promptbench.stats.power import cases_needed, cases_needed_continuous
from promptbench.stats.repeats import pass_at_k, pass_hat_k
from promptbench.suite.regression import PASS_RATE

if TYPE_CHECKING:
    import numpy as np

DEFAULT_DETECT = 0.05  # the difference "cases needed" plans for: 5 points


# --------------------------------------------------------------------------- pairing cases


class _Matched:
    """Two groups' cases matched by id: for each case of one, the other's place or -1."""

    def __init__(self, a: GroupData, b: GroupData) -> None:
        import numpy as np

        slot_b = b.slot_of.get
        slot_a = a.slot_of.get
        self.a, self.b = a, b
        self.b_of_a = np.fromiter((slot_b(c, -1) for c in a.case_ids), np.intp, len(a.case_ids))
        self.a_of_b = np.fromiter((slot_a(c, -1) for c in b.case_ids), np.intp, len(b.case_ids))


class _Side:
    """One side's cases in a comparison's order: raw, usable, and the two kinds of mean."""

    def __init__(self, n: int) -> None:
        import numpy as np

        self.raw = np.zeros(n, np.intp)  # values, errors included
        self.usable = np.zeros(n, np.intp)
        self.mean = np.zeros(n)  # fsum / count: the paired comparison's
        self.sum_mean = np.zeros(n)  # sum / count: the spread "cases needed" uses

    def fill(self, at: np.ndarray, column: Column, slots: np.ndarray) -> None:
        """The cases ``slots`` of ``column`` at positions ``at`` (their metric applies)."""
        import numpy as np

        v = column.value[slots]
        self.raw[at] = 1
        self.usable[at] = ~np.isnan(v)
        self.mean[at] = self.sum_mean[at] = np.where(np.isnan(v), 0.0, v)
        if column.multi:
            where = dict(zip(slots.tolist(), at.tolist(), strict=True))
            for slot, series in column.multi.items():
                i = where.get(slot)
                if i is None:
                    continue
                values = [float(x) for x in series if x is not None]
                self.raw[i], self.usable[i] = len(series), len(values)
                if values:
                    self.mean[i] = math.fsum(values) / len(values)
                    self.sum_mean[i] = sum(values) / len(values)


def _round12(x: np.ndarray) -> list[float]:
    """``[round(v, 12) for v in x]``, each distinct value rounded once (Python's rounding)."""
    import numpy as np

    if len(x) == 0:
        return []
    distinct, inverse = np.unique(x, return_inverse=True)
    rounded = np.array([round(v, 12) for v in distinct.tolist()])
    out: list[float] = rounded[inverse].tolist()
    return out


def _sequential_sum(x: np.ndarray) -> float:
    """0.0 + x[0] + x[1] + ..., left to right, as a running ``+=`` adds them."""
    import numpy as np

    if len(x) == 0:
        return 0.0
    return float(np.add.accumulate(np.concatenate(([0.0], x)))[-1])


@dataclass
class _Paired:
    """One metric of one pair: both columns, and the cases compared, in order."""

    name: str
    kind: Kind
    a: Column
    b: Column
    cases: CasePairs
    diffs_sd: float | None  # the spread of the per-case differences, for "cases needed"


def _pair_metric(name: str, m: _Matched) -> _Paired:
    """What stats.compare's pairing makes of the metric's cases, computed on the columns.

    The order is the general path's (PairedMetric's ``a`` then the cases of ``b`` not
    in it), so that the differences, their sums and the resamples are the same floats.
    """
    import numpy as np

    ca, cb = m.a.column(name), m.b.column(name)
    a_slots = np.flatnonzero(ca.present)
    b_at = m.b_of_a[a_slots]
    b_found = b_at >= 0
    b_has = np.zeros(len(a_slots), bool)
    b_has[b_found] = cb.present[b_at[b_found]]
    in_a = m.a_of_b >= 0
    a_present = np.zeros(len(m.a_of_b), bool)
    a_present[in_a] = ca.present[m.a_of_b[in_a]]
    tail = np.flatnonzero(cb.present & ~a_present)  # B's cases that A has no value for
    n_head = len(a_slots)
    n = n_head + len(tail)
    side_a, side_b = _Side(n), _Side(n)
    side_a.fill(np.arange(n_head), ca, a_slots)
    side_b.fill(np.flatnonzero(b_has), cb, b_at[b_has])
    side_b.fill(np.arange(n_head, n), cb, tail)
    paired = (side_a.usable > 0) & (side_b.usable > 0)
    only_a = (side_a.usable > 0) & (side_b.usable == 0)
    only_b = (side_a.usable == 0) & (side_b.usable > 0)
    neither = (side_a.usable == 0) & (side_b.usable == 0)
    ids = [m.a.case_ids[i] for i in a_slots.tolist()] + [m.b.case_ids[i] for i in tail.tolist()]
    mean_a, mean_b = side_a.mean[paired], side_b.mean[paired]
    cases = CasePairs(
        diffs=_round12(mean_b - mean_a),
        sum_a=_sequential_sum(mean_a),
        sum_b=_sequential_sum(mean_b),
        single=bool(np.all((side_a.usable[paired] == 1) & (side_b.usable[paired] == 1))),
        max_repeats=int(
            max(side_a.usable[paired].max(initial=0), side_b.usable[paired].max(initial=0))
        ),
        unpaired_a=[ids[i] for i in np.flatnonzero(only_a).tolist()],
        unpaired_b=[ids[i] for i in np.flatnonzero(only_b).tolist()],
        no_data=[ids[i] for i in np.flatnonzero(neither).tolist()],
        errors_a=int((side_a.raw - side_a.usable).sum()),
        errors_b=int((side_b.raw - side_b.usable).sum()),
    )
    spread = (side_b.sum_mean - side_a.sum_mean)[paired].tolist()
    kind: Kind = "binary" if _binary(ca) and _binary(cb) else "continuous"
    return _Paired(name, kind, ca, cb, cases, stdev(spread) if len(spread) > 1 else None)


def _binary(column: Column) -> bool:
    """Whether every value of the column is 0 or 1 (errors aside)."""
    import numpy as np

    v = column.value[column.present]
    v = v[~np.isnan(v)]
    if not bool(np.all((v == 0.0) | (v == 1.0))):
        return False
    return all(x in (0.0, 1.0) for s in column.multi.values() for x in s if x is not None)


def _series_of(ids: list[str], column: Column) -> dict[str, Sequence[float | None]]:
    """The column as PairedMetric holds it: case id → values by repeat (errors as None)."""
    out: dict[str, Sequence[float | None]] = {}
    for slot in column.present.nonzero()[0].tolist():
        series = column.multi.get(slot)
        if series is None:
            v = float(column.value[slot])
            series = (None,) if math.isnan(v) else (v,)
        out[ids[slot]] = series
    return out


class _PairedMetrics(Mapping[str, PairedMetric]):
    """A pair's metrics as PairedMetric, made when asked for (the regression gate asks).

    It holds the columns and the case ids, not the groups: a result kept after the
    comparison does not keep the folded runs (their outputs and reasons) alive.
    """

    def __init__(self, m: _Matched, paired: list[_Paired]) -> None:
        self._ids = (m.a.case_ids, m.b.case_ids)
        self._paired = {p.name: (p.kind, p.a, p.b) for p in paired}
        self._made: dict[str, PairedMetric] = {}

    def __getitem__(self, name: str) -> PairedMetric:
        made = self._made.get(name)
        if made is None:
            kind, column_a, column_b = self._paired[name]
            a, b = _series_of(self._ids[0], column_a), _series_of(self._ids[1], column_b)
            made = self._made[name] = PairedMetric(name, kind, a, b)
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._paired)

    def __len__(self) -> int:
        return len(self._paired)


# --------------------------------------------------------------------------- computing


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


def _scores(group: GroupData, slot: int, names: Sequence[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in names:
        usable = group.usable(slot, name)
        out[name] = sum(usable) / len(usable) if usable else None
    return out


def _flips_and_flaky(
    m: _Matched, metric_names: Sequence[str]
) -> tuple[list[Flip], list[FlakyCase]]:
    import numpy as np

    a, b = m.a, m.b
    flips: list[Flip] = []
    flaky: list[FlakyCase] = []
    # One record a side (most cases): a flip is two verdicts that differ, found at once;
    # a case with several records on either side goes the way of the verdicts by repeat.
    ra, rb = a.column(PASS_RATE), b.column(PASS_RATE)
    both = np.flatnonzero(m.b_of_a >= 0)
    other = m.b_of_a[both]
    va, vb = ra.value[both], rb.value[other]
    differ = ~np.isnan(va) & ~np.isnan(vb) & (va != vb)
    several = np.zeros(len(both), bool)
    for side, slots in ((a, both), (b, other)):
        if side.extra:
            several |= np.isin(slots, np.fromiter(side.extra, np.intp, len(side.extra)))
    candidates = np.flatnonzero(differ | several)
    simple = candidates[~several[candidates]]
    flips += _simple_flips(m, both[simple], other[simple], metric_names)
    for i in candidates[several[candidates]].tolist():
        sa, sb = int(both[i]), int(other[i])
        ua, ub = a.usable(sa, PASS_RATE), b.usable(sb, PASS_RATE)
        if not ua or not ub:
            continue
        if len(set(ua)) > 1 or len(set(ub)) > 1:
            flaky.append(FlakyCase(a.case_ids[sa], int(sum(ua)), len(ua), int(sum(ub)), len(ub)))
            continue
        if ua[0] == ub[0]:
            continue
        scores_a, scores_b = _scores(a, sa, metric_names), _scores(b, sb, metric_names)
        changes = [
            y - x
            for n in metric_names
            if (x := scores_a[n]) is not None and (y := scores_b[n]) is not None
        ]
        shown_a, shown_b = a.shown_of(sa), b.shown_of(sb)
        flips.append(
            Flip(
                case_id=a.case_ids[sa],
                direction="regression" if ua[0] > ub[0] else "improvement",
                score_change=sum(changes) / len(changes) if changes else None,
                scores_a=scores_a,
                scores_b=scores_b,
                output_a=shown_a.output if shown_a else None,
                output_b=shown_b.output if shown_b else None,
                reasons_a=dict(shown_a.reasons) if shown_a and ua[0] == 0.0 else {},
                reasons_b=dict(shown_b.reasons) if shown_b and ub[0] == 0.0 else {},
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


def _simple_flips(
    m: _Matched, slots_a: np.ndarray, slots_b: np.ndarray, metric_names: Sequence[str]
) -> list[Flip]:
    """The flips of cases with one record a side, whose verdicts differ: read off columns.

    What the general loop makes of such a case (usable values are the column's value,
    an error or a missing score none), made metric by metric over all of them at once.
    """
    a, b = m.a, m.b
    verdicts_a = a.column(PASS_RATE).value[slots_a].tolist()
    columns = [
        (n, a.column(n).value[slots_a].tolist(), b.column(n).value[slots_b].tolist())
        for n in metric_names
    ]
    out: list[Flip] = []
    for k, (sa, sb) in enumerate(zip(slots_a.tolist(), slots_b.tolist(), strict=True)):
        scores_a: dict[str, float | None] = {}
        scores_b: dict[str, float | None] = {}
        changes = []
        for name, values_a, values_b in columns:
            x, y = values_a[k], values_b[k]
            x = None if math.isnan(x) else x
            y = None if math.isnan(y) else y
            scores_a[name], scores_b[name] = x, y
            if x is not None and y is not None:
                changes.append(y - x)
        shown_a, shown_b = a.shown[sa], b.shown[sb]
        passed_a = verdicts_a[k] == 1.0  # the verdicts differ: B's is the other one
        out.append(
            Flip(
                case_id=a.case_ids[sa],
                direction="regression" if passed_a else "improvement",
                score_change=sum(changes) / len(changes) if changes else None,
                scores_a=scores_a,
                scores_b=scores_b,
                output_a=shown_a.output,
                output_b=shown_b.output,
                reasons_a={} if passed_a else dict(shown_a.reasons),
                reasons_b=dict(shown_b.reasons) if passed_a else {},
            )
        )
    return out


def _most_repeats(group: GroupData) -> int:
    """The most usable verdicts behind one case of the group (what RepeatStats.repeats says)."""
    import numpy as np

    column = group.column(PASS_RATE)
    one = int(bool(np.any(column.present & ~np.isnan(column.value))))
    return max([one, *(len(group.usable(s, PASS_RATE)) for s in group.extra)])


def repeat_stats(group: GroupData) -> RepeatStats:
    """pass@k and pass^k for k up to the most repeats, per-case pass rates, flaky cases."""
    counts: dict[str, tuple[int, int]] = {}
    for slot, case_id in enumerate(group.case_ids):
        usable = group.usable(slot, PASS_RATE)
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


# Below this many paired cases in all, a second thread costs more than it saves.
_THREADED_FROM = 20_000


def _compare_each(distinct: list[_Paired], options: dict[str, Any]) -> list[MetricComparison]:
    """compare_pairs on each, in order; on two threads when the work is big.

    Each comparison seeds its own generators, so the results do not depend on the
    order or the thread they are computed in; numpy's resampling and sign flips
    release the GIL, so two threads use two cores (a 100,000-record diff's statistics,
    1.8 s on one, take about 1.2 s on two).
    """

    def one(m: _Paired) -> MetricComparison:
        return compare_pairs(m.name, m.kind, m.cases, **options)

    if len(distinct) < 2 or sum(len(m.cases.diffs) for m in distinct) < _THREADED_FROM:
        return [one(m) for m in distinct]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="promptbench-diff") as pool:
        return list(pool.map(one, distinct))


def _compare_distinct(
    metrics: list[tuple[Pair, _Paired]], **options: Any
) -> tuple[list[MetricComparison], int]:
    """Each metric compared, with each distinct test counted once in Holm's family.

    With one metric and no threshold, ``pass_rate`` is that metric case for case: the
    same test on the same data. Counting it twice would halve the level the smallest
    p-value is held to for no reason; a duplicate gets its original's result instead.
    A duplicate is the same pair and kind with equal per-case values on both sides
    (what signature() tells apart), found by comparing the columns.
    """
    distinct: list[_Paired] = []
    index: list[int] = []
    alike: dict[tuple[Any, ...], list[int]] = {}
    for pair, m in metrics:
        key = (pair, m.kind, int(m.a.present.sum()), int(m.b.present.sum()))
        seen = alike.setdefault(key, [])
        same = next(
            (j for j in seen if distinct[j].a.same_as(m.a) and distinct[j].b.same_as(m.b)), None
        )
        if same is None:
            same = len(distinct)
            seen.append(same)
            distinct.append(m)
        index.append(same)
    alpha, power = options.get("alpha", 0.05), options.get("power", 0.8)
    results = holm_family(_compare_each(distinct, options), alpha=alpha, power=power)
    tested = sum(1 for r in results if r.p_value is not None)
    return [
        replace(results[i], name=m.name, higher_is_better=True)
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
    metrics: list[tuple[Pair, _Paired]] = []
    layout: list[tuple[Pair, _Matched, list[_Paired]]] = []
    for pair in pairs:
        ga = index_a.groups[(pair.variant_a, pair.model_a)]
        gb = index_b.groups[(pair.variant_b, pair.model_b)]
        matched = _Matched(ga, gb)
        paired = [_pair_metric(n, matched) for n in _metric_order(index_a, index_b, ga, gb)]
        layout.append((pair, matched, paired))
        metrics += [(pair, m) for m in paired]
    extra: dict[str, Any] = {} if n_resamples is None else {"n_resamples": n_resamples}
    comparisons, family = _compare_distinct(metrics, alpha=alpha, seed=seed, **extra)
    compared = iter(comparisons)
    results: list[PairResult] = []
    for pair, matched, paired in layout:
        ga, gb = matched.a, matched.b
        rows: list[MetricResult] = []
        for m in paired:
            c = next(compared)
            needed = _cases_needed(c, m.diffs_sd, detect, family_alpha(alpha, family))
            rows.append(MetricResult(c, detect, needed))
        names = [m.name for m in paired if m.name != PASS_RATE]
        flips, flaky = _flips_and_flaky(matched, names)
        with_repeats = max(_most_repeats(ga), _most_repeats(gb)) > 1
        rep_a = repeat_stats(ga) if with_repeats else None
        rep_b = repeat_stats(gb) if with_repeats else None
        results.append(
            PairResult(
                pair=pair,
                metrics=rows,
                cases_a=len(ga.case_ids),
                cases_b=len(gb.case_ids),
                only_a=sorted((c for c in ga.case_ids if c not in gb.slot_of), key=natural_key),
                only_b=sorted((c for c in gb.case_ids if c not in ga.slot_of), key=natural_key),
                call_errors_a=ga.call_errors,
                call_errors_b=gb.call_errors,
                flips=flips,
                flaky=flaky,
                repeats_a=rep_a,
                repeats_b=rep_b,
                paired=_PairedMetrics(matched, paired),
            )
        )
    return DiffResult(a=a, b=b, mode=mode, alpha=alpha, detect=detect, pairs=results, family=family)
