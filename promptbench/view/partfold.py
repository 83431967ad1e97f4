"""A run's lines folded on two cores: the end of the file in a warm worker process.

The viewer's first look at a big run is the fold of its lines (:mod:`.linefold`), one
core's work. :class:`FoldWorker` is a process started with the viewer (imports done).
:meth:`FoldWorker.fold` cuts ``records.jsonl`` into pieces at line boundaries and gives
the worker every piece but the first, the last first; this process folds from the first
piece on, each next piece that the worker has not started yet, and then merges the
worker's pieces (:func:`merge`) in file order, as if the fold had gone on: rows,
columns, metrics and variables first seen in a piece are numbered after those before
it, in the order the piece saw them, and its records' columns are appended with those
numbers. So the two meet where their speeds say, and on a busy machine, where the
worker gets little CPU, this process is not left waiting for it.

Float sums are what a one-process fold gives, to the bit: the worker keeps each sum's
addends in file order (:class:`Addends`) and they are added here, after the sum of the
lines before, one by one. Integer counts are added; a piece whose counts are not all
integers is not merged but folded again here. Whatever goes wrong in the worker (a
corrupt line, a dead process), this process folds that piece itself, so that the run
reads, or fails, exactly as it does in one process. On a machine with no core to spare
(:func:`no_idle_core`) the run is folded here alone, which then costs less.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from array import array
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait
from typing import Any, cast

import numpy as np

from promptbench.bulk import gc_paused
from promptbench.runner.store import RECORDS_FILE, corrupt_records
from promptbench.runs import StoredRun
from promptbench.stats.summary import GroupSummary, MetricStats, Summary
from promptbench.view.linefold import fold_lines
from promptbench.view.rowindex import RowsFold

# Below this size a run is folded in one process: its fold takes less than the worker's
# round trip (about 30 ms for a megabyte, 1,500 records).
MIN_SPLIT_BYTES = 4 << 20
# The file is cut into this many pieces at line boundaries. This process folds them
# from the first on, the worker from the last back, and they meet where their speeds
# say: on a loaded machine, where the worker gets little CPU, this process does most.
PIECES = 16

_COUNTS = (
    "records",
    "passed",
    "failed",
    "no_verdict",
    "call_errors",
    "cached",
    "retries",
    "prompt_tokens",
    "completion_tokens",
    "cost_unknown",
)
_METRIC_COUNTS = ("scored", "passed", "failed", "errors")


class Addends:
    """A float sum as a part folds it elsewhere: its addends, in order (``+=`` keeps one)."""

    __slots__ = ("values",)

    def __init__(self, first: Any = None) -> None:
        self.values: list[Any] = [] if first is None else [first]

    def __iadd__(self, value: Any) -> Addends:
        self.values.append(value)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_addends, (self.values,))


def _addends(values: list[Any]) -> Addends:
    kept = Addends()
    kept.values = values
    return kept


def _keep_addends(summary: Summary) -> None:
    """Every float sum of ``summary`` as Addends from here on (what it holds: the first).

    A sum that is already a float holds 0.0 plus what was added to it: added again after
    another sum S, S + (0.0 + a) == S + a (S is never -0.0: a sum from 0.0 cannot be).
    """
    for g in summary.groups.values():
        if not _kept(g.cost_total):
            g.cost_total = cast(float, Addends(g.cost_total))
        if not _kept(g.cost_saved):
            g.cost_saved = cast(float, Addends(g.cost_saved))
        for m in g.metrics.values():
            if not _kept(m.total):
                m.total = cast(float, Addends(m.total))


def _kept(total: object) -> bool:
    return type(total) is Addends


def _metric_with_addends() -> MetricStats:
    return MetricStats(total=cast(float, Addends()))


def fold_part(run: StoredRun, start: int, end: int | None = None) -> RowsFold:
    """A fresh fold of the run's lines from byte ``start`` (a line's first) to ``end``.

    Its float sums are :class:`Addends`; its offsets are the file's. What the worker runs.
    """
    fold = RowsFold(run)
    summary = fold.summary

    def keep() -> None:
        _keep_addends(summary)

    keep()
    with gc_paused(), corrupt_records(run.run_dir):
        fold_lines(fold, start, end, metric_stats=_metric_with_addends, after_general=keep)
    fold.rows_of = {}  # merge reads the keys, in row order: not pickled twice (13 ms)
    return fold


def _integral(groups: dict[tuple[str, str], GroupSummary]) -> bool:
    return all(type(getattr(g, name)) is int for g in groups.values() for name in _COUNTS) and all(
        type(getattr(m, name)) is int
        for g in groups.values()
        for m in g.metrics.values()
        for name in _METRIC_COUNTS
    )


def mergeable(main: RowsFold, part: RowsFold) -> bool:
    """Whether :func:`merge` gives what one fold gives: every count an integer, both sides."""
    return _integral(main.summary.groups) and _integral(part.summary.groups)


def _added(total: Any, addends: Any) -> Any:
    for value in cast(Addends, addends).values:
        total += value
    return total


def _merge_group(g: GroupSummary, part: GroupSummary) -> None:
    for name in _COUNTS:
        setattr(g, name, getattr(g, name) + getattr(part, name))
    g.cost_total = _added(g.cost_total, part.cost_total)
    g.cost_saved = _added(g.cost_saved, part.cost_saved)
    g.latencies.extend(part.latencies)
    kinds = g.error_kinds
    for kind, n in part.error_kinds.items():
        kinds[kind] = kinds.get(kind, 0) + n
    for name, pm in part.metrics.items():
        m = g.metrics.get(name)
        if m is None:
            m = g.metrics[name] = MetricStats()
        for count in _METRIC_COUNTS:
            setattr(m, count, getattr(m, count) + getattr(pm, count))
        m.total = _added(m.total, pm.total)


def _renumbered(values: array[int], new: list[int], offset: int = 0) -> array[int]:
    """``values`` (an array("l") of a part's numbers) as ``new[v] + offset``."""
    local = np.frombuffer(values, dtype=np.dtype("l")) if len(values) else np.zeros(0, "l")
    if new:
        local = np.asarray(new, dtype=np.dtype("l"))[local]
    out = array("l")
    out.frombytes((local + offset).astype(np.dtype("l")).tobytes())
    return out


def merge(main: RowsFold, part: RowsFold) -> None:
    """Add ``part`` (:func:`fold_part` of the lines after ``main``'s) to ``main``, unfinished.

    ``main`` is then what one fold of both parts' lines leaves (check :func:`mergeable`
    first).
    """
    before = len(main.rec_offset)
    # Rows: a row the first part has keeps its number (its variables were noted then).
    rows_of, keys, var_names = main.rows_of, main.keys, main.var_names
    row_map: list[int] = []
    for r, key in enumerate(part.keys):
        row = rows_of.get(key)
        if row is None:
            row = rows_of[key] = len(keys)
            keys.append(key)
            shown = part.row_vars[r]
            for name in shown:
                if name not in var_names:
                    var_names[name] = len(var_names)
            main.row_vars.append(shown)
            main.row_expected.append(part.row_expected[r])
            main.row_width.append(len(var_names))
        row_map.append(row)
    main.repeats = max(main.repeats, part.repeats)
    col_map = [main.columns.setdefault(group, len(main.columns)) for group in part.columns]
    pos_map = {
        pos: main.metrics.setdefault(name, len(main.metrics)) for name, pos in part.metrics.items()
    }
    names = main.summary.metric_names
    names.extend(n for n in part.summary.metric_names if n not in names)

    main.rec_row.extend(_renumbered(part.rec_row, row_map))
    main.rec_col.extend(_renumbered(part.rec_col, col_map))
    main.rec_offset.extend(part.rec_offset)
    main.rec_verdict += part.rec_verdict
    main.rec_known += part.rec_known
    main.rec_latency.extend(part.rec_latency)
    main.rec_cost.extend(part.rec_cost)
    main.rec_output.extend(part.rec_output)
    main.rec_error.extend(part.rec_error)
    for pos, codes in part.score_code.items():
        at = pos_map[pos]
        if at not in main.score_code:
            main.score_code[at] = bytearray()
            main.score_rec[at] = array("l")
        main.score_code[at] += codes
        main.score_rec[at].extend(_renumbered(part.score_rec[pos], [], before))

    groups = main.summary.groups
    for group, pg in part.summary.groups.items():
        g = groups.get(group)
        if g is None:
            g = groups[group] = GroupSummary(pg.variant, pg.model)
        _merge_group(g, pg)
    main.lean += part.lean


def cut_points(fold: RowsFold, min_bytes: int, pieces: int = PIECES) -> list[int]:
    """Where each piece of the run's records starts (a line's first byte), the first at 0.

    One piece (``[0]``): a file under ``min_bytes``, or no whole line to cut at.
    """
    path = fold.run.run_dir / RECORDS_FILE
    cuts = [0]
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            if size < max(min_bytes, 2):
                return cuts
            for k in range(1, pieces):
                at = max(size * k // pieces, cuts[-1])
                fh.seek(at)
                rest = fh.readline()
                at += len(rest)
                if rest.endswith(b"\n") and cuts[-1] < at < size:
                    cuts.append(at)
    except OSError:
        pass  # the fold itself says what is wrong with the file
    return cuts


def no_idle_core() -> bool:
    """Whether the machine has no core to spare (the 1-minute load average, where known).

    Two processes on a machine already busy get no more CPU than one, and the worker's
    share costs a third more than folding it here (its addends, the pickling): measured
    at a load of 3.5 on 2 cores, 0.98 s against 0.92 s in one process.
    """
    try:
        load = os.getloadavg()[0]
    except OSError:  # not known here: try
        return False
    return load > (os.cpu_count() or 1) - 0.5


def _ready() -> bool:
    return True


def _end_with_the_viewer() -> None:
    """In the worker: exit when the viewer's process does, even killed (SIGKILL).

    An idle pool worker waits on a queue whose writing end it holds itself, so it would
    never see the viewer go.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="end-with-the-viewer", daemon=True).start()


class FoldWorker:
    """A process that folds the end of a big run's lines while the viewer folds the start.

    Started (spawned, the fold's modules imported) when made; :meth:`close` ends it.
    """

    def __init__(
        self, min_bytes: int = MIN_SPLIT_BYTES, busy: Callable[[], bool] | None = None
    ) -> None:
        self.min_bytes = min_bytes
        self._busy = no_idle_core if busy is None else busy
        self.parts = 0  # pieces the worker folded that were merged, for the tests
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._start()

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_end_with_the_viewer
        )
        pool.submit(_ready)  # the process starts now, not at the first big run
        return pool

    def _submit(
        self, run: StoredRun, pieces: list[tuple[int, int | None]]
    ) -> list[Future[RowsFold]]:
        """The pieces given to the worker, the last first; none if it is gone."""
        with self._lock:
            if self._closed:
                return []
            try:
                return [self._pool.submit(fold_part, run, a, b) for a, b in reversed(pieces)][::-1]
            except (BrokenProcessPool, RuntimeError):  # the process died: on alone from now
                self._closed = True
                self._pool.shutdown(wait=False, cancel_futures=True)
                return []

    def fold(self, fold: RowsFold) -> None:
        """:meth:`RowsFold.fold` on two cores: the same state, to the bit.

        This process folds pieces from the first on, as long as the worker has not
        started the next one (a future still cancelled); from there on, the worker's
        pieces (a run of them to the end: it took them last first) are merged in order.
        """
        cuts = [0] if self._busy() else cut_points(fold, self.min_bytes)
        ends: list[int | None] = [*cuts[1:], None]
        futures = self._submit(fold.run, list(zip(cuts[1:], ends[1:], strict=True)))
        if not futures:
            fold.fold()
            return
        try:
            with gc_paused(), corrupt_records(fold.run.run_dir):
                fold_lines(fold, 0, cuts[1])
                for (start, end), future in zip(
                    zip(cuts[1:], ends[1:], strict=True), futures, strict=True
                ):
                    part = None if future.cancel() else self._part(future)
                    if part is not None and mergeable(fold, part):
                        merge(fold, part)
                        self.parts += 1
                    else:  # not started, failed, or its counts are not integers: folded here
                        fold_lines(fold, start, end)
                fold.finish()  # paused still, as RowsFold.fold does it
        finally:
            for future in futures:
                future.cancel()

    @staticmethod
    def _part(future: Future[RowsFold]) -> RowsFold | None:
        try:
            return future.result()
        except Exception:  # any failure there: the part is folded here
            return None

    def close(self) -> None:
        """End the worker process (a fold under way finishes alone)."""
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> FoldWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
