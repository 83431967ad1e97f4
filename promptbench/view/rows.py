"""A run's rows served in pages: filtered, searched and sorted here, not in the browser.

The viewer's run page is the HTML report's (:mod:`promptbench.report.html`) with its
rows left out: the page carries the summary and the first rows, and asks
``/api/runs/ID/rows`` for the others as they scroll into view. So a run of 100,000
records sends a few hundred rows, not all of them, and the browser lays out a window.

:class:`RunRows` is built once per version of the run's files (their sizes and mtimes)
from the report's own data, and kept for the last few runs looked at; a query's
matches are kept too, so that scrolling through one filter costs a slice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from promptbench.config import StrictModel
from promptbench.report.html import run_payload, run_ranking
from promptbench.runner.runmeta import RUN_FILE
from promptbench.runner.store import RECORDS_FILE
from promptbench.view.index import RunEntry

RUNS_KEPT = 4  # runs whose rows are kept in memory (a 100,000-record run: 130 MB)
FIRST_ROWS = 100  # rows put in the page itself
MAX_LIMIT = 500
SEARCH_WARM_S = 0.5  # after a run's rows are built, when its search text is made

Mode = Literal["all", "fail", "error", "flip"]


class RowsQuery(StrictModel):
    """``/api/runs/ID/rows``: which rows, in what order, from where."""

    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=FIRST_ROWS, ge=1, le=MAX_LIMIT)
    mode: Mode = "all"
    q: str = Field(default="", max_length=500)  # searched lower-cased, as typed
    metric: int = Field(default=-1, ge=-1)  # an index into the page's metrics; -1 all
    # The columns (variant × model) shown, as indices "0,2"; "" none; absent every one.
    cols: str | None = Field(default=None, pattern=r"^(\d{1,4}(,\d{1,4})*)?$")
    sort: Literal["case", "latency", "cost"] = "case"
    order: Literal["asc", "desc"] = "asc"


@dataclass
class _Matches:
    """What one query (less its offset and limit) selects."""

    rows: list[int]
    counts: dict[str, int]


@dataclass
class RunRows:
    """One run's page data without its rows, and the rows to serve from."""

    head: dict[str, Any]
    rows: list[dict[str, Any]]
    _haystacks: list[tuple[str, list[str]]] | None = None
    _ranking: dict[str, Any] | None = None
    _ranked: bool = False
    _ranking_lock: threading.Lock = field(default_factory=threading.Lock)
    _matches: OrderedDict[tuple[object, ...], _Matches] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def columns(self) -> int:
        """How many variant × model columns a row has."""
        return len(self.head["groups"])

    def page_data(self, api: str) -> dict[str, Any]:
        """The page's data: everything but the rows, and the answer to the first query.

        ``api`` is where the page asks for more rows (``/api/runs/ID/rows``); the
        ranking is at ``/api/runs/ID/ranking`` when the run has two groups or more.
        """
        remote = {**self.answer(RowsQuery()), "api": api}
        if self.columns > 1:
            remote["ranking"] = api.removesuffix("/rows") + "/ranking"
        return {**self.head, "rows": [], "remote": remote}

    def ranking(self, entry: RunEntry) -> dict[str, Any] | None:
        """The run's ranking (computed on the first request, then kept)."""
        with self._ranking_lock:
            if not self._ranked:
                self._ranking = run_ranking(entry.stored) if self.columns > 1 else None
                self._ranked = True
            return self._ranking

    def answer(self, q: RowsQuery) -> dict[str, Any]:
        """The rows ``q`` asks for, with the counts the toolbar shows."""
        cols = self._cols(q.cols)
        if q.metric >= len(self.head["metrics"]):
            raise ValueError(
                f"metric: no metric {q.metric}; the run has {len(self.head['metrics'])}"
            )
        found = self._select(q, cols)
        chosen = found.rows[q.offset : q.offset + q.limit]
        return {
            "total": len(self.rows),
            "shown": len(found.rows),
            "counts": found.counts,
            "offset": q.offset,
            "cols": cols,
            "rows": [{**self.rows[i], "i": i} for i in chosen],
        }

    def _cols(self, text: str | None) -> list[int]:
        if text is None:
            return list(range(self.columns))
        cols = sorted({int(c) for c in text.split(",") if c})
        if cols and cols[-1] >= self.columns:
            raise ValueError(f"cols: no column {cols[-1]}; the run has {self.columns}")
        return cols

    def _select(self, q: RowsQuery, cols: list[int]) -> _Matches:
        key = (q.mode, q.q.lower(), q.metric, tuple(cols), q.sort, q.order)
        with self._lock:
            hit = self._matches.get(key)
            if hit is not None:
                self._matches.move_to_end(key)
                return hit
        found = self._filter(q.mode, q.q.lower(), q.metric, cols)
        if q.sort != "case" or q.order == "desc":
            found.rows = _sorted(self.rows, found.rows, q.sort, q.order, cols)
        with self._lock:
            self._matches[key] = found
            while len(self._matches) > 16:
                self._matches.popitem(last=False)
        return found

    def _filter(self, mode: str, q: str, metric: int, cols: Sequence[int]) -> _Matches:
        """The browser's filter (``run.js``'s ``apply``), over every row."""
        counts = {"all": 0, "fail": 0, "error": 0, "flip": 0}
        kept: list[int] = []
        hay = self.search_text() if q else None
        for i, row in enumerate(self.rows):
            cells = row["c"]
            any_ = p = f = e = False
            for k in cols:
                c = cells[k]
                if c is None:
                    continue
                v = c["v"]
                if metric >= 0:
                    s = c.get("s")
                    score = s[metric] if s is not None and metric < len(s) else None
                    if score is None:
                        continue
                    v = score[1]
                any_ = True
                if v == "p":
                    p = True
                elif v == "f":
                    f = True
                elif v == "e":
                    e = True
            if not any_:
                continue
            if hay is not None:
                head, outs = hay[i]
                if q not in head and not any(q in outs[k] for k in cols):
                    continue
            counts["all"] += 1
            counts["fail"] += f
            counts["error"] += e
            counts["flip"] += p and f
            if (
                mode == "all"
                or (mode == "fail" and f)
                or (mode == "error" and e)
                or (mode == "flip" and p and f)
            ):
                kept.append(i)
        return _Matches(kept, counts)

    def search_text(self) -> list[tuple[str, list[str]]]:
        """Per row, lower-cased: its id, vars and expected; each cell's output and error."""
        with self._lock:
            if self._haystacks is None:
                self._haystacks = [
                    (
                        "\n".join(
                            [row["id"], *(v or "" for v in row["v"]), row["x"] or ""]
                        ).lower(),
                        [
                            f"{c.get('o') or ''}\n{c.get('x') or ''}".lower() if c else ""
                            for c in row["c"]
                        ],
                    )
                    for row in self.rows
                ]
            return self._haystacks


def _sorted(
    rows: list[dict[str, Any]], chosen: list[int], by: str, order: str, cols: Sequence[int]
) -> list[int]:
    if by == "case":  # the rows are in the case order already
        return chosen[::-1] if order == "desc" else chosen
    key = "l" if by == "latency" else "c"

    def value(i: int) -> float | None:
        cells = rows[i]["c"]
        got = [c[key] for k in cols if (c := cells[k]) is not None and c.get(key) is not None]
        return max(got) if got else None

    known = [(v, i) for i in chosen if (v := value(i)) is not None]
    unknown = [i for i in chosen if value(i) is None]
    known.sort(key=lambda t: t[0], reverse=order == "desc")  # stable: ties in case order
    return [i for _, i in known] + unknown  # a row without the figure last, either way


def files_version(entry: RunEntry) -> tuple[tuple[int, int] | None, ...]:
    """The (mtime, size) of the run's run.json and records.jsonl: what a cache is keyed by."""
    out: list[tuple[int, int] | None] = []
    for p in (entry.run_dir / RUN_FILE, entry.run_dir / RECORDS_FILE):
        try:
            st = p.stat()
        except OSError:
            out.append(None)
            continue
        out.append((st.st_mtime_ns, st.st_size))
    return tuple(out)


class RowsCache:
    """The rows of the last few runs looked at, per version of their files."""

    def __init__(self, kept: int = RUNS_KEPT) -> None:
        self._kept = kept
        self._runs: OrderedDict[str, tuple[object, RunRows]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[str, threading.Lock] = {}

    def rows(self, entry: RunEntry) -> RunRows:
        """The run's rows, built from its records when not kept or when its files changed."""
        version = files_version(entry)
        with self._lock:
            cached = self._runs.get(entry.run_id)
            if cached is not None and cached[0] == version:
                self._runs.move_to_end(entry.run_id)
                return cached[1]
            building = self._building.setdefault(entry.run_id, threading.Lock())
        with building:  # two requests for one new run build it once
            with self._lock:
                cached = self._runs.get(entry.run_id)
                if cached is not None and cached[0] == version:
                    return cached[1]
            data = run_payload(entry.stored, ranking=False)  # fetched apart: /ranking
            rows = data.pop("rows")
            built = RunRows(head=data, rows=rows)
            with self._lock:
                self._runs[entry.run_id] = (version, built)
                self._runs.move_to_end(entry.run_id)
                while len(self._runs) > self._kept:
                    self._runs.popitem(last=False)
            # The search text is made once the page has gone out, so that the first search
            # does not wait for it (and the first page does not either).
            warm = threading.Timer(SEARCH_WARM_S, built.search_text)
            warm.daemon = True
            warm.start()
            return built
