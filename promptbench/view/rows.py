"""A run's rows served in pages: filtered, searched and sorted here, not in the browser.

The viewer's run page is the HTML report's (:mod:`promptbench.report.html`) with its
rows left out: the page carries the summary and the first rows, and asks
``/api/runs/ID/rows`` for the others as they scroll into view. So a run of 100,000
records sends a few hundred rows, not all of them, and the browser lays out a window.

:class:`RunRows` is built once per version of the run's files (their sizes and mtimes)
in one pass over the run's lines (:mod:`.rowindex`: the summary, and a few columns per
cell; a row is read back from the file when it is asked for, as the report makes it),
and kept for the last few runs looked at. Filters, counts and sorts are computed on
those columns (numpy), the search on a lower-cased text made once the first page has
gone out; a query's matches are kept too, so that scrolling through one filter costs
a slice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from promptbench.config import StrictModel
from promptbench.report.html.run_data import page_head, ranking_payload
from promptbench.runner.runmeta import RUN_FILE
from promptbench.runner.store import RECORDS_FILE
from promptbench.view.index import RunEntry
from promptbench.view.partfold import FoldWorker
from promptbench.view.rowindex import ERROR, FAIL, NONE, PASS, RowIndex, RowsFold

RUNS_KEPT = 4  # runs whose rows are kept in memory (a 100,000-record run: 60-80 MB)
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
    """One run's page data without its rows, and the rows to serve from (a :class:`RowIndex`)."""

    head: dict[str, Any]
    index: RowIndex
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
        """The run's ranking (computed on the first request, then kept).

        ``entry`` is the run these rows are of: its values were folded with the rows,
        so that only the bootstrap is left to do.
        """
        with self._ranking_lock:
            if not self._ranked:
                fold = self.index.fold
                rank = fold.rank_fold() if self.columns > 1 else None
                self._ranking = ranking_payload(rank, fold.run.run_id)
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
            "total": self.index.n_rows,
            "shown": len(found.rows),
            "counts": found.counts,
            "offset": q.offset,
            "cols": cols,
            "rows": [
                {**row, "i": i} for i, row in zip(chosen, self.index.rows(chosen), strict=True)
            ],
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
        found = select(self.index, q.mode, q.q.lower(), q.metric, cols)
        if q.sort != "case" or q.order == "desc":
            found.rows = sort_rows(self.index, found.rows, q.sort, q.order, cols)
        with self._lock:
            self._matches[key] = found
            while len(self._matches) > 16:
                self._matches.popitem(last=False)
        return found

    def search_text(self) -> list[tuple[str, list[str]]]:
        """Per row, lower-cased: its id, vars and expected; each cell's output and error."""
        return self.index.search_text()


def select(index: RowIndex, mode: str, q: str, metric: int, cols: Sequence[int]) -> _Matches:
    """The browser's filter (``run.js``'s ``apply``), over every row, on the index's columns.

    A row counts when one of the columns ``cols`` has a verdict (a cell, or with
    ``metric`` >= 0 that metric's score in it) and, with a search ``q`` (lower-cased),
    when ``q`` is in its id, vars or expected or in the output or error of one of them.
    """
    codes = index.scores[:, cols, metric] if metric >= 0 else index.verdicts[:, cols]
    listed = (codes != NONE).any(axis=1)
    passes = (codes == PASS).any(axis=1)
    fails = (codes == FAIL).any(axis=1)
    errors = (codes == ERROR).any(axis=1)
    if q:
        hay = index.search_text()
        for i in np.flatnonzero(listed).tolist():
            head, outs = hay[i]
            if q not in head and not any(q in outs[k] for k in cols):
                listed[i] = False
    flips = passes & fails & listed
    counts = {
        "all": int(listed.sum()),
        "fail": int((fails & listed).sum()),
        "error": int((errors & listed).sum()),
        "flip": int(flips.sum()),
    }
    wanted = {"all": listed, "fail": fails & listed, "error": errors & listed, "flip": flips}
    return _Matches(np.flatnonzero(wanted[mode]).tolist(), counts)


def sort_rows(
    index: RowIndex, chosen: list[int], by: str, order: str, cols: Sequence[int]
) -> list[int]:
    """``chosen`` by the largest latency or cost of the columns ``cols``, or by case.

    Ties keep the case order, either way; a row none of whose cells has the figure
    comes last, either way.
    """
    if by == "case":  # the rows are in the case order already
        return chosen[::-1] if order == "desc" else chosen
    figures = index.latency if by == "latency" else index.cost
    rows = np.asarray(chosen, dtype=np.int_)
    picked = figures[rows][:, cols]
    known = ~np.isnan(picked).all(axis=1) if len(cols) else np.zeros(len(rows), dtype=bool)
    values = np.where(np.isnan(picked), -np.inf, picked).max(axis=1, initial=-np.inf)[known]
    ranked = rows[known][np.argsort(-values if order == "desc" else values, kind="stable")]
    out: list[int] = ranked.tolist() + rows[~known].tolist()
    return out


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

    def __init__(self, kept: int = RUNS_KEPT, worker: FoldWorker | None = None) -> None:
        self._kept = kept
        self._worker = worker  # folds half of a big run's lines on the other core
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
            fold = RowsFold(entry.stored)
            if self._worker is not None:
                self._worker.fold(fold)
            else:
                fold.fold()
            index = RowIndex(fold)
            head = page_head(fold, None)  # the ranking is fetched apart: /ranking
            del head["rows"]
            built = RunRows(head=head, index=index)
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
