"""Sweeps: a ``grid:`` of parameter values expanded into named models and variants.

``models: {mini: {model: gpt-4o-mini, grid: {temperature: [0, 0.7], max_tokens: [64, 256]}}}``
becomes four models, ``mini[max_tokens=64,temperature=0]`` and so on; a variant's
``grid: {n_shots: [0, 2, 5]}`` becomes ``guided[n_shots=0]``, ... whose templates see
``n_shots``. A name lists its parameters sorted by name, so that it does not change
when the grid's keys are written in another order (a baseline keeps matching), and
selecting by the base name (``-m mini``) selects every expansion.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GRID_KEY = "grid"
_NAME_SYNTAX = ",=[]"  # what a setting's name is made of
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class GridPoint:
    """One setting of a grid: the base entry's name and the values given to its parameters."""

    base: str
    params: tuple[tuple[str, Scalar], ...]  # sorted by name

    @property
    def name(self) -> str:
        """``mini[max_tokens=64,temperature=0.7]``."""
        return point_name(self.base, self.params)

    def as_dict(self) -> dict[str, Scalar]:
        """The parameters as a mapping, for templates, tables and W&B."""
        return dict(self.params)


def format_value(value: Scalar) -> str:
    """A parameter value as it appears in a name: as YAML would write it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return repr(value) if isinstance(value, float) else str(value)


def point_name(base: str, params: Iterable[tuple[str, Scalar]]) -> str:
    """The expanded name of ``base`` with ``params``."""
    inside = ",".join(f"{k}={format_value(v)}" for k, v in sorted(params))
    return f"{base}[{inside}]"


def base_name(name: str) -> str:
    """``mini`` for ``mini[temperature=0.7]``; a name without a grid is its own base."""
    if name.endswith("]") and "[" in name:
        return name[: name.index("[")]
    return name


def parse_name(name: str) -> GridPoint | None:
    """The grid point a setting's name stands for; None for a name without a grid.

    Stored runs and baselines keep only names; this reads the parameters back, for
    tables and W&B. Unambiguous because grid strings may not hold ``,=[]``.
    """
    base = base_name(name)
    if base == name:
        return None
    params: list[tuple[str, Scalar]] = []
    for part in name[len(base) + 1 : -1].split(","):
        key, sep, text = part.partition("=")
        if not sep or not key:
            return None
        params.append((key, _scalar(text)))
    return GridPoint(base, tuple(sorted(params)))


def _scalar(text: str) -> Scalar:
    """A value written by :func:`format_value`, read back."""
    special: dict[str, Scalar] = {"null": None, "true": True, "false": False}
    if text in special:
        return special[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def selects(wanted: str, name: str) -> bool:
    """Whether a filter (``-m``/``-v``) naming ``wanted`` selects ``name``."""
    return wanted in (name, base_name(name))


def grid_problem(grid: Any) -> tuple[tuple[str, ...], str] | None:
    """What is wrong with a written grid (the path below ``grid`` and why), or None."""
    if not isinstance(grid, Mapping) or not grid:
        return (), "a grid maps parameters to lists of values: {temperature: [0, 0.7]}"
    for key, values in grid.items():
        if not isinstance(key, str) or not key.isidentifier():
            return (str(key),), f"{key!r} is not a parameter name"
        if not isinstance(values, list) or not values:
            return (key,), f"give {key} a non-empty list of values: {key}: [a, b]"
        for i, v in enumerate(values):
            if not isinstance(v, Scalar) or (isinstance(v, float) and not math.isfinite(v)):
                return (key, str(i)), "a grid value is a number, a string, true/false or null"
            if isinstance(v, str) and (set(v) & set(_NAME_SYNTAX) or not v):
                return (key, str(i)), f"a grid string cannot be empty or hold {_NAME_SYNTAX}"
        seen = [json.dumps(v) for v in values]
        if len(set(seen)) != len(seen):
            return (key,), f"{key} lists a value twice"
    return None


def expand(grid: Mapping[str, Sequence[Scalar]]) -> list[tuple[tuple[str, Scalar], ...]]:
    """Every combination, in the order written (the first key varies slowest), sorted inside."""
    keys = list(grid)
    return [
        tuple(sorted(zip(keys, combo, strict=True))) for combo in itertools.product(*grid.values())
    ]


def describe(points: Iterable[GridPoint]) -> list[str]:
    """One line per gridded entry: ``mini: 6 settings (max_tokens × temperature)``."""
    by_base: dict[str, list[GridPoint]] = {}
    for p in points:
        by_base.setdefault(p.base, []).append(p)
    lines = []
    for base, group in by_base.items():
        keys = " × ".join(k for k, _ in group[0].params)
        n = len(group)
        lines.append(f"{base}: {n} setting{'' if n == 1 else 's'} ({keys})")
    return lines


__all__ = [
    "GRID_KEY",
    "GridPoint",
    "base_name",
    "describe",
    "expand",
    "format_value",
    "grid_problem",
    "parse_name",
    "point_name",
    "selects",
]
