"""Which records are compared with which: one side's records folded per group and case.

A side's records (a run, or a baseline file) are folded into a :class:`RecordIndex`:
per variant × model group, per case, each metric's value per repeat (None for an
error), the case-level verdict as ``pass_rate``, and one representative record per case
for the report (its output and reasons). A :class:`Pair` names the group on each side
that :mod:`promptbench.diff.compute` compares. Pure computation; nothing here prints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from promptbench.suite.regression import PASS_RATE  # the case-level verdict, as a metric
from promptbench.types import Record


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``q2`` before ``q10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


# --------------------------------------------------------------------------- one side


@dataclass
class CaseData:
    """One case of one group: values per metric per repeat, and a representative record."""

    values: dict[str, dict[int, float | None]] = field(default_factory=dict)
    call_errors: set[int] = field(default_factory=set)  # repeats whose call failed
    first: Record | None = None  # the lowest repeat without a call error (else with one)

    def keep(self, r: Record) -> None:
        """Take ``r`` as the case's representative if it is a better one than the current."""
        f = self.first
        if f is None or (f.error is not None, f.repeat) > (r.error is not None, r.repeat):
            # Without the prompt and the vars: the report shows outputs and reasons, and
            # an index of 100,000 cases should not hold 100,000 prompts. Records read
            # for a comparison (scored_records) come without them already.
            self.first = replace(r, messages=(), vars={}) if r.messages or r.vars else r


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
        self.records += 1
        case = self.cases.get(r.case_id)
        if case is None:
            case = self.cases[r.case_id] = CaseData()
        case.keep(r)
        if r.error is not None:
            # The call failed: no figure at all for this repeat, counted as an error.
            # Every metric gets an error for this repeat when values are read (_values),
            # whichever metrics later records reveal.
            self.call_errors += 1
            case.call_errors.add(r.repeat)
            case.values.setdefault(PASS_RATE, {})[r.repeat] = None
            return
        if r.verdict is not None:  # None: no metric applies to the case, nothing to judge
            verdict = r.verdict
            case.values.setdefault(PASS_RATE, {})[r.repeat] = (
                None if verdict == "error" else float(verdict == "pass")
            )
        for name, s in r.scores.items():
            self.metric_names.setdefault(name)
            case.values.setdefault(name, {})[r.repeat] = _score_value(s.value, s.passed, s.error)


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
        if r.probe is not None:
            return
        key = (r.variant, r.model)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = GroupData(r.variant, r.model)
        group.add(r)

    @classmethod
    def of(cls, records: Iterable[Record], metric_names: Iterable[str] = ()) -> RecordIndex:
        """Index ``records`` (streamed; only per-case figures and one record per case kept)."""
        index = cls(metric_names)
        for r in records:
            index.add(r)
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
