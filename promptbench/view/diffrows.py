"""A comparison's rows served in pages, as :mod:`.rows` serves a run's.

The diff page (``diff --html``'s) carries its statistics and first rows; the others
come from ``/api/compare/rows`` with the same ``run``/``variant`` parameters as the
page, filtered here as ``diff.js`` filters them in a file opened from disk. A row's
word diff is computed when the row is sent, not for every case of the comparison.
Built once per comparison and version of the runs' files, kept for the last few.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from promptbench.config import StrictModel
from promptbench.report.html.diff_data import with_word_diff
from promptbench.view.rows import FIRST_ROWS, MAX_LIMIT

DiffMode = Literal["all", "flip", "reg", "imp", "fail", "changed"]
COMPARISONS_KEPT = 3


class DiffRowsQuery(StrictModel):
    """``/api/compare/rows``: the comparison (as the page's URL names it) and which rows."""

    run: list[str] = Field(min_length=1, max_length=2)
    variant: list[str] = Field(default_factory=list, max_length=2)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=FIRST_ROWS, ge=1, le=MAX_LIMIT)
    mode: DiffMode = "all"
    q: str = Field(default="", max_length=500)
    metric: int = Field(default=-1, ge=-1)
    pair: int = Field(default=-1, ge=-1)


def _verdict(c: dict[str, Any] | None, m: int) -> str | None:
    if c is None:
        return None
    if m < 0:
        return str(c["v"])
    s = c.get("s")
    score = s[m] if s is not None and m < len(s) else None
    return None if score is None else str(score[1])


def _flip(row: dict[str, Any], m: int) -> str:
    if m < 0:
        return str(row.get("f") or "")
    va, vb = _verdict(row["a"], m), _verdict(row["b"], m)
    return "r" if (va, vb) == ("p", "f") else "i" if (va, vb) == ("f", "p") else ""


@dataclass
class DiffRows:
    """One comparison's page data without its rows, and the rows to serve from."""

    head: dict[str, Any]
    rows: list[dict[str, Any]]
    _haystacks: list[str] | None = None
    _matches: OrderedDict[tuple[object, ...], tuple[list[int], dict[str, int]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def page_data(self, api: str) -> dict[str, Any]:
        """Everything but the rows, and the first of them under ``remote``.

        ``api`` is where the page asks for more, the comparison's parameters included.
        """
        first = self.answer(0, FIRST_ROWS, "all", "", -1, -1)
        return {**self.head, "rows": [], "remote": {**first, "api": api}}

    def answer(
        self, offset: int, limit: int, mode: str, q: str, metric: int, pair: int
    ) -> dict[str, Any]:
        """The rows asked for, with their word diffs, and the counts the toolbar shows."""
        if metric >= len(self.head["metrics"]):
            raise ValueError(f"metric: no metric {metric}; there are {len(self.head['metrics'])}")
        if pair >= len(self.head["diff"]["pairs"]):
            raise ValueError(f"pair: no pair {pair}; there are {len(self.head['diff']['pairs'])}")
        chosen, counts = self._select(mode, q.lower(), metric, pair)
        return {
            "total": len(self.rows),
            "shown": len(chosen),
            "counts": counts,
            "offset": offset,
            "rows": [{**with_word_diff(self.rows[i]), "i": i} for i in chosen[offset:][:limit]],
        }

    def _select(self, mode: str, q: str, m: int, pair: int) -> tuple[list[int], dict[str, int]]:
        key = (mode, q, m, pair)
        with self._lock:
            hit = self._matches.get(key)
            if hit is not None:
                return hit
        hay = self._search_text() if q else None
        counts = {"all": 0, "flip": 0, "reg": 0, "imp": 0, "fail": 0, "changed": 0}
        kept: list[int] = []
        for i, row in enumerate(self.rows):
            if pair >= 0 and row["p"] != pair:
                continue
            va, vb = _verdict(row["a"], m), _verdict(row["b"], m)
            if m >= 0 and va is None and vb is None:
                continue
            if hay is not None and q not in hay[i]:
                continue
            f = _flip(row, m)
            fail = va == "f" or vb == "f"
            changed = bool(row.get("dc") or row.get("d"))
            counts["all"] += 1
            counts["flip"] += bool(f)
            counts["reg"] += f == "r"
            counts["imp"] += f == "i"
            counts["fail"] += fail
            counts["changed"] += changed
            keep = {
                "all": True,
                "flip": bool(f),
                "reg": f == "r",
                "imp": f == "i",
                "fail": fail,
                "changed": changed,
            }[mode]
            if keep:
                kept.append(i)
        with self._lock:
            self._matches[key] = (kept, counts)
            while len(self._matches) > 16:
                self._matches.popitem(last=False)
        return kept, counts

    def _search_text(self) -> list[str]:
        def side(c: dict[str, Any] | None) -> str:
            return f"{c.get('o') or ''}\n{c.get('x') or ''}" if c else ""

        with self._lock:
            if self._haystacks is None:
                self._haystacks = [
                    "\n".join(
                        [
                            row["id"],
                            *(v or "" for v in row["v"]),
                            row["x"] or "",
                            side(row["a"]),
                            side(row["b"]),
                        ]
                    ).lower()
                    for row in self.rows
                ]
            return self._haystacks


class DiffRowsCache:
    """The last few comparisons looked at, keyed by what they compare and file versions."""

    def __init__(self, kept: int = COMPARISONS_KEPT) -> None:
        self._kept = kept
        self._items: OrderedDict[object, DiffRows] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()

    def rows(self, key: object, build: Callable[[], dict[str, Any]]) -> DiffRows:
        """The comparison ``key`` names, built by ``build`` (a payload) when not kept."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        with self._building:  # one comparison built at a time: each holds two runs
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    return hit
            data = build()
            rows = data.pop("rows")
            built = DiffRows(head=data, rows=rows)
            with self._lock:
                self._items[key] = built
                while len(self._items) > self._kept:
                    self._items.popitem(last=False)
            return built
