"""Which columns of a dataset are the vars, the id and the expected value.

``cases: {file: data.csv, vars: {question: q}, id: qid, expected: answer}`` maps
columns to the parts of a case, for every format (CSV, JSONL, JSON, YAML, Parquet,
the hub). A column the mapping names that the dataset lacks is one issue naming the
dataset file, the column, and the suite line that named it, reported once however
many rows lack it.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptbench.errors import Issue

RESERVED = ("id", "expected", "metadata", "metrics")


@dataclass
class ColumnMap:
    """The mapping of one dataset; ``where`` holds the suite position of each mapped field."""

    vars: dict[str, str] | None = None  # template var -> column; None: every other column
    id: str | None = None
    expected: str | None = None
    where: dict[str, str] = field(default_factory=dict)  # "vars.question" -> "suite.yaml:7"
    _reported: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        """No mapping: rows are read as they are written (flat or explicit)."""
        return self.vars is None and self.id is None and self.expected is None

    def columns(self) -> dict[str, str]:
        """Every column the mapping names, keyed by the suite field that names it."""
        named = {f"vars.{var}": col for var, col in (self.vars or {}).items()}
        if self.id is not None:
            named["id"] = self.id
        if self.expected is not None:
            named["expected"] = self.expected
        return named

    def check_header(
        self, header: Iterable[str], shown: str, line: int | None = None
    ) -> list[Issue]:
        """Issues for the mapped columns missing from a header (CSV, Parquet, the hub)."""
        have = list(header)
        return [
            self._missing(name, col, have, shown, line)
            for name, col in self.columns().items()
            if col not in have and col not in self._reported
        ]

    def apply(self, row: Any, shown: str, line: int | None, issues: list[Issue]) -> Any:
        """The row as an explicit case (``{id, vars, expected, ...}``); None if it lacks a column.

        Rows that are not mappings are returned unchanged, for the case parser to reject.
        """
        if self.empty or not isinstance(row, Mapping):
            return row
        missing = [(n, c) for n, c in self.columns().items() if c not in row]
        if missing:
            for name, col in missing:
                if col not in self._reported:
                    issues.append(self._missing(name, col, list(row), shown, line))
            return None
        taken = {c for c in (self.id, self.expected) if c is not None}
        if self.vars is None:
            # Flat: every column is a var, but the mapped ones and the reserved names.
            skip = taken | {r for r in RESERVED if r not in taken}
            variables = {k: v for k, v in row.items() if k not in skip}
        else:
            variables = {var: row[col] for var, col in self.vars.items()}
        out: dict[str, Any] = {
            "id": row[self.id] if self.id is not None else row.get("id"),
            "vars": variables,
            "expected": row[self.expected] if self.expected is not None else row.get("expected"),
        }
        for key in ("metadata", "metrics"):  # kept with their usual meaning
            if key in row and key not in taken and row[key] is not None:
                out[key] = row[key]
        return out

    def _missing(self, name: str, col: str, have: list[str], shown: str, line: int | None) -> Issue:
        self._reported.add(col)
        named = f"cases.{name}" + (f" ({self.where[name]})" if name in self.where else "")
        listed = ", ".join(str(h) for h in have[:12]) + (", ..." if len(have) > 12 else "")
        return Issue(
            shown,
            f"no column '{col}' (named by {named}); the dataset's columns are: {listed or 'none'}",
            line=line,
        )


def plain(value: Any) -> Any:
    """A dataset value as a JSON type; raises TypeError for one that has none (an image).

    Parquet and the hub give dates, decimals and nested lists and structs; records,
    the cache and W&B need JSON.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    item = getattr(value, "item", None)  # a numpy scalar
    if callable(item) and type(value).__module__ == "numpy":
        return plain(item())
    raise TypeError(type(value).__name__)


__all__ = ["RESERVED", "ColumnMap", "plain"]
