"""Which records are compared with which: one side's records folded per group and case.

A side's records (a run, or a baseline file) are folded into a :class:`RecordIndex`:
per variant × model group, per case, each metric's value per repeat (None for an
error), the case-level verdict as ``pass_rate``, and one representative record per case
for the report (its output and reasons). A :class:`Pair` names the group on each side
that :mod:`promptbench.diff.compute` compares. Pure computation; nothing here prints.
"""

from __future__ import annotations

import functools
import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from promptbench.suite.regression import PASS_RATE  # the case-level verdict, as a metric
from promptbench.types import Record

if TYPE_CHECKING:
    import numpy as np

_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=1 << 18)
def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``q2`` before ``q10``."""
    # Cached: a big diff sorts the same case ids several times (flips, only-A, repeats).
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part
    )


# --------------------------------------------------------------------------- one side

NO_REASONS: Mapping[str, str] = MappingProxyType({})  # shared: most cases have none
_NO_SCORES: Mapping[str, Any] = MappingProxyType({})


class Shown(NamedTuple):
    """What the report shows of a case: its representative record's output and reasons."""

    call_error: bool  # the record's call failed
    repeat: int
    output: str | None
    reasons: Mapping[str, str]  # the failing metrics' reasons; a failed call's kind and message


@dataclass(slots=True)
class CaseData:
    """One case of one group: values per metric per repeat, and a representative record.

    Compact, because a big run has 100,000 of them: while the case has one repeat, its
    values are one dict, metric → value (``single``, the repeat in ``repeat``); a second
    repeat turns it into metric → {repeat: value} (``multi``), in the order repeats came.
    """

    repeat: int = -1
    single: dict[str, float | None] | None = None
    multi: dict[str, dict[int, float | None]] | None = None
    call_errors: set[int] | None = None  # repeats whose call failed (None: none failed)
    # The lowest repeat without a call error (else with one), reduced to what is shown:
    # an index of 100,000 cases should not hold 100,000 prompts.
    shown: Shown | None = None

    def values_of(self, repeat: int) -> dict[str, float | None] | _RepeatValues:
        """Where the values of ``repeat`` go: the single dict, or a view into ``multi``."""
        if self.single is None and self.multi is None:
            self.repeat, self.single = repeat, {}
        if self.single is not None:
            if repeat == self.repeat:
                return self.single
            self.multi = {name: {self.repeat: v} for name, v in self.single.items()}
            self.single = None
        assert self.multi is not None
        return _RepeatValues(self.multi, repeat)

    def add_call_error(self, repeat: int) -> None:
        """Mark ``repeat`` as a failed call."""
        if self.call_errors is None:
            self.call_errors = {repeat}
        else:
            self.call_errors.add(repeat)

    def usable(self, metric: str) -> list[float]:
        """The metric's values that are not errors, in the order the repeats came."""
        if self.single is not None:
            v = self.single.get(metric)
            return [] if v is None else [v]
        values = self.multi.get(metric) if self.multi is not None else None
        return [] if values is None else [v for v in values.values() if v is not None]

    def series(self, metric: str) -> Sequence[float | None] | None:
        """The metric's values by repeat order, a failed call's repeat as None.

        None when the metric does not apply to the case (never scored, no failed call).
        One value is a tuple, shared for a pass, a fail and an error: a comparison holds
        a sequence per case and metric for every pair, and most are one of these three.
        """
        if self.single is not None:
            if metric in self.single:
                return _one(self.single[metric])
            return _ERROR if self.call_errors else None
        by_repeat = self.multi.get(metric) if self.multi is not None else None
        if by_repeat is None and not self.call_errors:
            return None
        merged = dict.fromkeys(self.call_errors or ()) | (by_repeat or {})
        return tuple(merged[r] for r in sorted(merged))


_PASS: tuple[float | None] = (1.0,)
_FAIL: tuple[float | None] = (0.0,)
_ERROR: tuple[float | None] = (None,)


def _one(v: float | None) -> tuple[float | None]:
    if v is None:
        return _ERROR
    if v == 1.0:
        return _PASS
    if v == 0.0 and math.copysign(1.0, v) > 0:  # -0.0 keeps its sign
        return _FAIL
    return (v,)


class _RepeatValues:
    """``multi`` seen as metric → value for one repeat: what the fold writes into."""

    __slots__ = ("multi", "repeat")

    def __init__(self, multi: dict[str, dict[int, float | None]], repeat: int) -> None:
        self.multi, self.repeat = multi, repeat

    def __setitem__(self, metric: str, value: float | None) -> None:
        by_repeat = self.multi.get(metric)
        if by_repeat is None:
            self.multi[metric] = {self.repeat: value}
        else:
            by_repeat[self.repeat] = value


def _shown(line: Mapping[str, Any], failed_call: bool, repeat: int) -> Shown:
    err = line.get("error")
    if err:
        call = {"call": f"{err['kind']}: {err['message']}"}
        return Shown(failed_call, repeat, line.get("output"), call)
    if line.get("passed") is True:
        # Every metric passed: no reason to show (and reasons are only shown for a fail).
        return Shown(failed_call, repeat, line.get("output"), NO_REASONS)
    reasons = {
        name: reason
        for name, s in (line.get("scores") or {}).items()
        if (s.get("error") is not None or not s.get("passed")) and (reason := s.get("reason", ""))
    }
    return Shown(failed_call, repeat, line.get("output"), reasons or NO_REASONS)


# The first record of a case is held in columns (one float per case and metric); the
# rare case with a second record (repeats, a record written twice) moves to a CaseData.
ABSENT = -math.inf  # no score for this metric: values are finite, or NaN for an error
_NAN = math.nan
_isfinite = math.isfinite


@dataclass
class Column:
    """One metric of one group, per case (in the group's order): what a comparison reads.

    ``present``: the metric applies (a value or an error; a failed call counts as an error
    for every metric). ``value``: a one-record case's value, NaN for an error (and for
    the cases in ``multi``); ``multi``: the series of each case with more than one record.
    """

    present: np.ndarray
    value: np.ndarray
    multi: dict[int, tuple[float | None, ...]]

    def same_as(self, other: Column) -> bool:
        """Equal per-case values: what makes two comparisons of one pair the same test."""
        import numpy as np

        return (
            bool(np.array_equal(self.present, other.present))
            and bool(
                np.array_equal(self.value[self.present], other.value[other.present], equal_nan=True)
            )
            and self.multi == other.multi
        )


@dataclass
class GroupData:
    """The records of one variant × model group, folded per case.

    A case's first record goes into ``columns`` (metric → one float per case, ``ABSENT``
    or NaN for an error), its call error into ``first_failed`` and what the report
    shows of it into ``shown``: a fold of 100,000 records builds no object per case
    beyond that. A second record of a case moves it to ``extra`` (a :class:`CaseData`),
    which takes its first record along; from then on the case is read from there.
    """

    variant: str
    model: str
    records: int = 0
    call_errors: int = 0
    metric_names: dict[str, None] = field(default_factory=dict)  # in order of appearance
    case_ids: list[str] = field(default_factory=list)
    slot_of: dict[str, int] = field(default_factory=dict)  # case id → its place
    first_repeat: list[int] = field(default_factory=list)
    first_failed: array[int] = field(default_factory=lambda: array("b"))
    shown: list[Shown] = field(default_factory=list)
    columns: dict[str, array[float]] = field(default_factory=dict)
    extra: dict[int, CaseData] = field(default_factory=dict)  # cases with several records
    _columns: dict[str, Column] = field(default_factory=dict, repr=False)

    def add(self, r: Record) -> None:
        """Fold one record in."""
        self.add_line(record_line(r))

    def add_line(self, line: Mapping[str, Any]) -> None:
        """Fold one record in, as its ``records.jsonl`` line (what Record.from_json reads)."""
        # Run once per record of a big run: what _score_value and _shown do is written
        # out here for the common record (scored, one per case), with names held locally.
        self.records += 1
        case_id, repeat = line["case_id"], line["repeat"]
        failed_call = bool(line.get("error"))
        slot_of = self.slot_of
        slot = slot_of.get(case_id)
        if slot is not None:
            self._add_to_case(self._case(slot), line, failed_call, repeat)
            return
        case_ids = self.case_ids
        slot = len(case_ids)
        slot_of[case_id] = slot
        case_ids.append(case_id)
        self.first_repeat.append(repeat)
        self.first_failed.append(failed_call)
        columns = self.columns
        for column in columns.values():
            column.append(ABSENT)
        if failed_call:
            # The call failed: no figure at all for this record, counted as an error.
            # Every metric gets an error for it when values are read (column()),
            # whichever metrics later records reveal.
            self.shown.append(_shown(line, failed_call, repeat))
            self.call_errors += 1
            self._set(PASS_RATE, slot, _NAN)
            return
        passed = line.get("passed")
        if passed is True:  # every metric passed: no reason to show
            self.shown.append(Shown(False, repeat, line.get("output"), NO_REASONS))
        else:
            self.shown.append(_shown(line, False, repeat))
        scores: Mapping[str, Any] = line.get("scores") or _NO_SCORES
        if passed is not None:
            self._set(PASS_RATE, slot, 1.0 if passed else 0.0)
        elif scores:  # the verdict is an error; no score at all: nothing to judge
            self._set(PASS_RATE, slot, _NAN)
        names = self.metric_names
        for name, sc in scores.items():
            if name not in names:
                names[name] = None
            # _score_value, as a float: NaN for None.
            if sc.get("error") is not None:
                v = _NAN
            else:
                value = sc.get("value")
                if value is None:
                    verdict = sc.get("passed")
                    v = _NAN if verdict is None else float(verdict)
                else:
                    v = float(value)
                    if not _isfinite(v):
                        v = _NAN
            held = columns.get(name)
            if held is None:
                held = columns[name] = array("d", [ABSENT]) * (slot + 1)
            held[slot] = v

    def _set(self, name: str, slot: int, value: float) -> None:
        column = self.columns.get(name)
        if column is None:
            column = self.columns[name] = array("d", [ABSENT]) * (slot + 1)
        column[slot] = value

    def _case(self, slot: int) -> CaseData:
        """The case in ``slot`` as a CaseData, made from its first record when it is not one."""
        case = self.extra.get(slot)
        if case is None:
            single = {
                name: None if math.isnan(v) else v
                for name, column in self.columns.items()
                if (v := column[slot]) != ABSENT
            }
            repeat = self.first_repeat[slot]
            failed = {repeat} if self.first_failed[slot] else None
            case = CaseData(repeat, single, None, failed, self.shown[slot])
            self.extra[slot] = case
        return case

    def _add_to_case(
        self, case: CaseData, line: Mapping[str, Any], failed_call: bool, repeat: int
    ) -> None:
        f = case.shown
        if f is None or (f.call_error, f.repeat) > (failed_call, repeat):
            case.shown = _shown(line, failed_call, repeat)
        values = case.values_of(repeat)
        if failed_call:
            self.call_errors += 1
            case.add_call_error(repeat)
            values[PASS_RATE] = None
            return
        scores = line.get("scores") or {}
        passed = line.get("passed")
        if passed is not None:
            values[PASS_RATE] = 1.0 if passed else 0.0
        elif scores:
            values[PASS_RATE] = None
        names = self.metric_names
        for name, sc in scores.items():
            if name not in names:
                names[name] = None
            values[name] = _score_value(sc.get("value"), sc.get("passed"), sc.get("error"))

    # ----------------------------------------------------------------- reading

    def column(self, metric: str) -> Column:
        """The metric per case (computed once; read after the fold)."""
        import numpy as np  # here: the package is imported by pages that never compare

        hit = self._columns.get(metric)
        if hit is not None:
            return hit
        n = len(self.case_ids)
        held = self.columns.get(metric)
        raw = np.array(held, dtype=np.float64) if held is not None else np.full(n, ABSENT)
        failed = np.array(self.first_failed, dtype=bool)
        present = (raw != ABSENT) | failed
        value = np.where(raw == ABSENT, _NAN, raw)
        multi: dict[int, tuple[float | None, ...]] = {}
        for slot, case in self.extra.items():
            series = case.series(metric)
            present[slot] = series is not None
            value[slot] = _NAN
            if series is not None:
                multi[slot] = tuple(series)
        column = self._columns[metric] = Column(present, value, multi)
        return column

    def usable(self, slot: int, metric: str) -> list[float]:
        """The case's values of ``metric`` that are not errors, in the order repeats came."""
        case = self.extra.get(slot)
        if case is not None:
            return case.usable(metric)
        column = self.columns.get(metric)
        v = column[slot] if column is not None else ABSENT
        return [] if v == ABSENT or math.isnan(v) else [v]

    def shown_of(self, slot: int) -> Shown | None:
        """What the report shows of the case."""
        case = self.extra.get(slot)
        return case.shown if case is not None else self.shown[slot]


def record_line(r: Record) -> dict[str, Any]:
    """What :meth:`GroupData.add_line` reads of a record, as in its ``records.jsonl`` line."""
    return {
        "case_id": r.case_id,
        "variant": r.variant,
        "model": r.model,
        "repeat": r.repeat,
        "output": r.output,
        "scores": {
            name: {"value": s.value, "passed": s.passed, "reason": s.reason, "error": s.error}
            for name, s in r.scores.items()
        },
        "passed": r.passed,
        "error": r.error.to_json() if r.error is not None else None,
        "probe": r.probe.to_json() if r.probe is not None else None,
    }


def _score_value(value: float | None, passed: bool | None, error: str | None) -> float | None:
    if error is not None:
        return None
    if value is None:  # a verdict without a score: pass 1, fail 0
        return None if passed is None else float(passed)
    v = float(value)
    return v if math.isfinite(v) else None


class RecordIndex:
    """One side's records, grouped by variant × model, then by case."""

    def __init__(self, metric_names: Iterable[str] = ()) -> None:
        self.groups: dict[tuple[str, str], GroupData] = {}
        self.metric_names: list[str] = list(metric_names)  # the suite's order, when known

    def add(self, r: Record) -> None:
        """Fold one record in; a probe's twin is left out (it is compared with its original)."""
        if r.probe is None:
            self.add_line(record_line(r))

    def add_line(self, line: Mapping[str, Any]) -> None:
        """Fold one ``records.jsonl`` line in; a probe's twin is left out."""
        if line.get("probe"):
            return
        key = (line["variant"], line["model"])
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = GroupData(*key)
        group.add_line(line)

    @classmethod
    def of(cls, records: Iterable[Record], metric_names: Iterable[str] = ()) -> RecordIndex:
        """Index ``records`` (streamed; only per-case figures and one record per case kept)."""
        index = cls(metric_names)
        for r in records:
            index.add(r)
        return index

    @classmethod
    def of_lines(
        cls, lines: Iterable[Mapping[str, Any]], metric_names: Iterable[str] = ()
    ) -> RecordIndex:
        """:meth:`of` on ``records.jsonl`` lines: no Record built, the way big runs are read."""
        index = cls(metric_names)
        add = index.add_line
        for line in lines:
            add(line)
        return index

    @property
    def variants(self) -> list[str]:
        """The variants present, in order of appearance."""
        return list(dict.fromkeys(v for v, _ in self.groups))

    @property
    def models(self) -> list[str]:
        """The models present, in order of appearance."""
        return list(dict.fromkeys(m for _, m in self.groups))


# --------------------------------------------------------------------------- what to pair


@dataclass(frozen=True)
class Pair:
    """A group on side A and the group on side B it is compared with."""

    variant_a: str
    model_a: str
    variant_b: str
    model_b: str

    @property
    def label(self) -> str:
        """``guided × mini`` when both sides are the same group, else ``A → B``."""
        a, b = f"{self.variant_a} × {self.model_a}", f"{self.variant_b} × {self.model_b}"
        return a if a == b else f"{a} → {b}"

    def to_json(self) -> dict[str, Any]:
        """The pair as JSON."""
        return {
            "label": self.label,
            "a": {"variant": self.variant_a, "model": self.model_a},
            "b": {"variant": self.variant_b, "model": self.model_b},
        }


def pairs_of_variants(index: RecordIndex, variant_a: str, variant_b: str) -> list[Pair]:
    """Variant A against variant B, for every model that ran both."""
    return [
        Pair(variant_a, m, variant_b, m)
        for m in index.models
        if (variant_a, m) in index.groups and (variant_b, m) in index.groups
    ]


def pairs_of_models(index: RecordIndex, model_a: str, model_b: str) -> list[Pair]:
    """Model A against model B, for every variant run on both."""
    return [
        Pair(v, model_a, v, model_b)
        for v in index.variants
        if (v, model_a) in index.groups and (v, model_b) in index.groups
    ]


def pairs_of_runs(a: RecordIndex, b: RecordIndex) -> list[Pair]:
    """Each variant × model group present on both sides, in B's order."""
    return [Pair(v, m, v, m) for (v, m) in b.groups if (v, m) in a.groups]
