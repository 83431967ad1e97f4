"""A run's rows as the viewer keeps them: a few columns per cell, the rows read on demand.

The run page needs, on its first look, the summary and the first rows; its filters,
search and sort need a verdict, a latency and a cost per cell, and some text. So the
viewer reads a run once (:class:`RowsFold`: the same pass as the report's, over the
decoded lines) and keeps per cell only where its record's line is in ``records.jsonl``
and those figures, as numpy arrays in the page's row order; a row the page asks for is
read back from the file and made exactly as the report makes it
(:func:`promptbench.report.html.run_fold.row_of_lines`). A 100,000-record run is a few
megabytes here, not the hundred of its rows built whole. Nothing is written anywhere.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from promptbench.bulk import gc_paused
from promptbench.diff.rank import PASS_RATE, RankFold
from promptbench.errors import RunStoreError
from promptbench.report.html.cells import error_text, text
from promptbench.report.html.run_fold import Line, Row, RunFold, row_of_lines
from promptbench.runner.store import corrupt_records, read_record_dicts
from promptbench.runs import StoredRun
from promptbench.view.linefold import ERROR, FAIL, NO_VERDICT, NONE, PASS, fold_lines

__all__ = ["ERROR", "FAIL", "NONE", "NO_VERDICT", "PASS", "RowIndex", "RowsFold"]

_NAN = math.nan
ROWS_KEPT = 2000  # rows kept once read back, per run: a few pages each way of the one looked at

Codes = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float64]


class RowsFold(RunFold):
    """What the viewer keeps of each record while the run is read (see the module doc)."""

    # Rows are shown from their lines read again, exactly; the search text reads again a
    # row whose variables may hold an integer beyond 64 bits (_maybe_big_int).
    exact_big_ints = False

    def __init__(self, run: StoredRun) -> None:
        # The ranking's values are the verdicts, costs and latencies kept here: it is
        # folded from them when asked for (rank_fold), not line by line on the first look.
        super().__init__(run, ranking=False)
        self.rec_row = array("l")
        self.rec_col = array("l")
        self.rec_offset = array("q")
        self.rec_verdict = bytearray()
        self.rec_latency = array("d")  # as recorded (NaN: none), as are the costs
        self.rec_cost = array("d")
        self.rec_known = bytearray()  # bit 0: a latency was recorded, bit 1: a cost
        self.rec_output: list[Any] = []
        self.rec_error: list[Any] = []
        self.score_rec: dict[int, array[int]] = {}  # metric position -> records scored
        self.score_code: dict[int, bytearray] = {}  # ... and their verdicts
        self.row_vars: list[Mapping[str, Any]] = []
        self.row_expected: list[Any] = []
        self.row_width = array("l")  # variables known when the row's first record came
        self.lean = 0  # records fold() read by its lean path (linefold), for the tests

    def fold(self) -> None:
        """Read the run's records (once): :func:`.linefold.fold_lines`, then the page's order."""
        with gc_paused(), corrupt_records(self.run.run_dir):
            fold_lines(self)
            # Paused still: a full collection would walk every object just folded (50-80
            # ms for 100,000 records), none of them garbage.
            self.finish()

    def _recorder(self) -> Callable[[int, Line, int, int, bool], None]:
        # A closure over the arrays' appends: a first look at a 100,000-record run calls
        # it 100,000 times, and attribute lookups were a third of its cost.
        row_of, col_of, offset_of = self.rec_row.append, self.rec_col.append, self.rec_offset.append
        verdict_of, known_of = self.rec_verdict.append, self.rec_known.append
        latency_of, cost_of = self.rec_latency.append, self.rec_cost.append
        output_of, error_of = self.rec_output.append, self.rec_error.append
        vars_of, expected_of = self.row_vars.append, self.row_expected.append
        width_of = self.row_width.append
        metrics, var_names = self.metrics, self.var_names
        score_rec, score_code = self.score_rec, self.score_code
        records = self.rec_offset

        def record(offset: int, line: Line, row: int, col: int, new: bool) -> None:
            i = len(records)
            row_of(row)
            col_of(col)
            offset_of(offset)
            if new:
                vars_of(line.get("vars") or {})
                expected_of(line.get("expected"))
                width_of(len(var_names))
            scores = line.get("scores") or {}
            err = line.get("error")
            passed = line.get("passed")
            # cells.line_cell's verdict: the same rules, as a code.
            if err:
                verdict_of(ERROR)
            elif passed is None:
                verdict_of(ERROR if scores else NO_VERDICT)
            else:
                verdict_of(PASS if passed else FAIL)
            latency = line.get("latency_ms")
            cost = line.get("cost")
            if latency is None:
                latency_of(_NAN)
                if cost is None:
                    cost_of(_NAN)
                    known_of(0)
                else:
                    cost_of(cost)
                    known_of(2)
            else:
                latency_of(latency)
                if cost is None:
                    cost_of(_NAN)
                    known_of(1)
                else:
                    cost_of(cost)
                    known_of(3)
            output_of(line.get("output"))
            error_of(err or None)
            for name, sc in scores.items():
                pos = metrics.get(name)
                if pos is None:
                    pos = metrics[name] = len(metrics)
                codes = score_code.get(pos)
                if codes is None:
                    codes = score_code[pos] = bytearray()
                    score_rec[pos] = array("l")
                s_passed = sc.get("passed")
                if s_passed is None or sc.get("error") is not None:
                    codes.append(ERROR)
                else:
                    codes.append(PASS if s_passed else FAIL)
                score_rec[pos].append(i)

        return record

    def rank_fold(self) -> RankFold:
        """The ranking's fold (on the pass rate) of what was kept: RankFold.add_line's.

        The verdict code says what the line's pass rate is.
        """
        rank = RankFold(PASS_RATE)
        groups = list(self.columns)
        cases = [case for case, _ in self.keys]
        add = rank.add_call
        verdicts, known, errors = self.rec_verdict, self.rec_known, self.rec_error
        for i, (row, col, latency, cost) in enumerate(
            zip(self.rec_row, self.rec_col, self.rec_latency, self.rec_cost, strict=True)
        ):
            code = verdicts[i]
            variant, model = groups[col]
            add(
                variant,
                model,
                cases[row],
                cost if known[i] & 2 else None,
                latency if known[i] & 1 and errors[i] is None else None,
                code != NO_VERDICT,
                _RANK_VALUE[code],
            )
        return rank


def _maybe_big_int(value: Any) -> bool:
    """Whether ``value`` holds a float that may have been an integer beyond 64 bits.

    Such an integer is read as a float without exact_big_ints (promptbench.bulk.loads).
    """
    kind = type(value)
    if kind is str or value is None:
        return False
    if kind is float:
        return bool(abs(value) >= _INT64)
    if kind is dict:
        return any(_maybe_big_int(v) for v in value.values())
    if kind is list:
        return any(_maybe_big_int(v) for v in value)
    return False


_INT64 = float(1 << 63)


def _shown_figure(recorded: array[float]) -> Floats:
    """Latencies or costs as cells show them (page.finite): NaN where not a finite number."""
    values = np.array(recorded, dtype=np.float64)
    return np.where(np.isfinite(values), values, _NAN)


_RANK_VALUE: dict[int, float | None] = {PASS: 1.0, FAIL: 0.0, ERROR: None, NO_VERDICT: None}


class RowIndex:
    """A folded run's cells as arrays (rows in the page's order × its columns).

    ``verdicts[r, c]``: the cell's verdict code; ``scores[r, c, m]``: metric m's within
    it; ``latency`` and ``cost``: NaN where the cell shows none. Row r is read back from
    the file by :meth:`rows`.
    """

    def __init__(self, fold: RowsFold) -> None:
        self.fold = fold
        positions = fold.positions
        n_rows, n_cols = len(fold.keys), len(fold.groups)
        n_recs = len(fold.rec_offset)
        rec_row = np.array(fold.rec_row, dtype=np.int_)
        rec_col = np.array(fold.rec_col, dtype=np.int_)
        # The page's column of each record (-1: a group the page leaves out).
        col_map = np.full(max(len(fold.columns), 1), -1, dtype=np.int_)
        for folded, place in positions.items():
            col_map[folded] = place
        page_col = col_map[rec_col]
        # The page's row of each folded row.
        page_row = np.empty(n_rows, dtype=np.int_)
        page_row[np.asarray(fold.order, dtype=np.int_)] = np.arange(n_rows)
        rec_page_row = page_row[rec_row]
        # The record a cell shows: the last of its row and column in the file.
        shown = np.full((n_rows, max(n_cols, 1)), -1, dtype=np.int_)
        kept = page_col >= 0
        np.maximum.at(shown, (rec_page_row[kept], page_col[kept]), np.flatnonzero(kept))
        shown = shown[:, :n_cols]
        present = shown >= 0
        safe = np.where(present, shown, 0)

        def per_cell(values: npt.NDArray[Any], empty: Any) -> npt.NDArray[Any]:
            if not n_recs:
                return np.full(shown.shape, empty, dtype=values.dtype)
            return np.where(present, values[safe], empty).astype(values.dtype)

        self.shown = shown
        self.verdicts: Codes = per_cell(np.array(fold.rec_verdict, dtype=np.uint8), 0)
        self.latency: Floats = per_cell(_shown_figure(fold.rec_latency), _NAN)
        self.cost: Floats = per_cell(_shown_figure(fold.rec_cost), _NAN)
        self.scores: Codes = np.zeros((n_rows, n_cols, len(fold.metrics)), dtype=np.uint8)
        for pos, recs in fold.score_rec.items():
            codes = np.zeros(n_recs, dtype=np.uint8)
            codes[np.array(recs, dtype=np.int_)] = np.array(fold.score_code[pos], dtype=np.uint8)
            self.scores[:, :, pos] = per_cell(codes, 0)
        fold.score_rec, fold.score_code = {}, {}  # in self.scores now
        # Each row's records in file order, for reading the row back.
        by_row = np.argsort(rec_page_row, kind="stable")
        self._by_row = by_row
        self._row_start = np.searchsorted(rec_page_row[by_row], np.arange(n_rows + 1))
        self._rows: dict[int, Row] = {}
        self._rows_lock = threading.Lock()
        self._haystacks: list[tuple[str, list[str]]] | None = None
        self._hay_lock = threading.Lock()

    @property
    def n_rows(self) -> int:
        """How many rows the page has."""
        return len(self.fold.keys)

    def rows(self, chosen: Sequence[int]) -> list[Row]:
        """Rows ``chosen`` (page row numbers), read back from ``records.jsonl``, in that order."""
        with self._rows_lock:
            missing = [i for i in dict.fromkeys(chosen) if i not in self._rows]
        if missing:
            made = self._read(missing)
            with self._rows_lock:
                self._rows.update(made)
                while len(self._rows) > ROWS_KEPT:  # the oldest made first
                    del self._rows[next(iter(self._rows))]
        with self._rows_lock:
            got = {i: self._rows.get(i) for i in chosen}
        again = [i for i, r in got.items() if r is None]  # dropped by another request meanwhile
        if again:
            got.update(self._read(again))
        return [got[i] for i in chosen]  # type: ignore[misc]

    def _read(self, chosen: Sequence[int]) -> dict[int, Row]:
        fold = self.fold
        recs_of = [self._by_row[self._row_start[i] : self._row_start[i + 1]] for i in chosen]
        offsets = [int(fold.rec_offset[r]) for recs in recs_of for r in recs]
        lines = read_record_dicts(fold.run.run_dir, offsets)
        out: dict[int, Row] = {}
        at = 0
        folded_rows = np.asarray(fold.order, dtype=np.int_)
        with corrupt_records(fold.run.run_dir):
            for i, recs in zip(chosen, recs_of, strict=True):
                mine = lines[at : at + len(recs)]
                at += len(recs)
                folded = int(folded_rows[i])
                if any((d["case_id"], d["repeat"]) != fold.keys[folded] for d in mine):
                    raise RunStoreError(f"{fold.run.run_dir}: records changed while read")
                cols = [int(fold.rec_col[r]) for r in recs]
                out[i] = row_of_lines(mine, cols, fold, int(fold.row_width[folded]))
        return out

    def search_text(self) -> list[tuple[str, list[str]]]:
        """Per row, lower-cased: its id, vars and expected; each cell's output and error."""
        with self._hay_lock:
            if self._haystacks is None:
                self._haystacks = self._make_search_text()
            return self._haystacks

    def _make_search_text(self) -> list[tuple[str, list[str]]]:
        # What the page searched in its rows: "\n".join([id, *vars, expected]) and, per
        # cell, f"{output}\n{error}" (each as the row and cell show it).
        fold = self.fold
        names = fold.var_names
        out: list[tuple[str, list[str]]] = []
        outputs, errors = fold.rec_output, fold.rec_error
        for i, folded in enumerate(fold.order):
            shown_vars, expected = fold.row_vars[folded], fold.row_expected[folded]
            if _maybe_big_int(shown_vars) or _maybe_big_int(expected):
                # Read without exact_big_ints (RowsFold): the line again, exactly.
                first = int(fold.rec_offset[self._by_row[self._row_start[i]]])
                (line,) = read_record_dicts(fold.run.run_dir, [first])
                shown_vars, expected = line.get("vars") or {}, line.get("expected")
            values: list[str | None] = [None] * fold.row_width[folded]
            for name, value in shown_vars.items():
                values[names[name]] = text(value)
            head = [fold.keys[folded][0], *(v or "" for v in values)]
            head.append(text(expected) or "")
            cells = []
            for rec in self.shown[i].tolist():
                if rec < 0:
                    cells.append("")
                    continue
                err = errors[rec]
                cells.append(f"{outputs[rec] or ''}\n{error_text(err) if err else ''}".lower())
            out.append(("\n".join(head).lower(), cells))
        return out
