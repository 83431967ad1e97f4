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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from promptbench.suite.regression import PASS_RATE  # the case-level verdict, as a metric
from promptbench.types import Record

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
    reasons = {
        name: reason
        for name, s in (line.get("scores") or {}).items()
        if (s.get("error") is not None or not s.get("passed")) and (reason := s.get("reason", ""))
    }
    return Shown(failed_call, repeat, line.get("output"), reasons or NO_REASONS)


@dataclass
class GroupData:
    """The records of one variant × model group, folded per case."""

    variant: str
    model: str
    cases: dict[str, CaseData] = field(default_factory=dict)
    records: int = 0
    call_errors: int = 0
    metric_names: dict[str, None] = field(default_factory=dict)  # in order of appearance

    def add(self, r: Record) -> None:
        """Fold one record in."""
        self.add_line(record_line(r))

    def add_line(self, line: Mapping[str, Any]) -> None:
        """Fold one record in, as its ``records.jsonl`` line (what Record.from_json reads)."""
        self.records += 1
        case_id, repeat = line["case_id"], line["repeat"]
        case = self.cases.get(case_id)
        if case is None:
            case = self.cases[case_id] = CaseData()
        failed_call = bool(line.get("error"))
        f = case.shown
        if f is None or (f.call_error, f.repeat) > (failed_call, repeat):
            case.shown = _shown(line, failed_call, repeat)
        values = case.values_of(repeat)
        if failed_call:
            # The call failed: no figure at all for this repeat, counted as an error.
            # Every metric gets an error for this repeat when values are read (series),
            # whichever metrics later records reveal.
            self.call_errors += 1
            case.add_call_error(repeat)
            values[PASS_RATE] = None
            return
        scores = line.get("scores") or {}
        passed = line.get("passed")
        if passed is not None:
            values[PASS_RATE] = 1.0 if passed else 0.0
        elif scores:  # the verdict is an error; no score at all: nothing to judge
            values[PASS_RATE] = None
        names = self.metric_names
        for name, s in scores.items():
            if name not in names:
                names[name] = None
            values[name] = _score_value(s.get("value"), s.get("passed"), s.get("error"))


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
