"""A stored run read once, line by line, into what its page shows.

One pass over the decoded ``records.jsonl`` lines (no :class:`Record` built: the lines
are read by :meth:`Summary.add_line`, :meth:`RankFold.add_line` and
:func:`line_cell`, each tested against its Record twin) gives the summary, the ranking's
per-case values, and the rows: a row is a case and repeat, with one cell per variant ×
model group. :class:`RunFold` keeps what every reader of the page needs (the summary,
the metrics, variables, groups and rows in the page's order); what it keeps of each
record is its subclass's: :class:`CellsFold` builds every cell (``promptbench report``),
the viewer keeps a few columns and builds a row's cells when it is asked for
(:mod:`promptbench.view.rowindex`), with :func:`row_of_lines`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptbench.bulk import gc_paused
from promptbench.diff.pairing import natural_key
from promptbench.diff.rank import PASS_RATE, RankFold
from promptbench.report.html.cells import line_cell, line_images, text
from promptbench.runner.store import corrupt_records, iter_record_offsets
from promptbench.runs import StoredRun
from promptbench.stats import Summary

Row = dict[str, Any]
Cell = dict[str, Any]
Line = Mapping[str, Any]


class RunFold:
    """The part of a run's page that every reader needs, folded from its lines."""

    # See promptbench.bulk.loads: False for a reader that shows no variable from these
    # lines (the viewer reads a row's lines again to show it).
    exact_big_ints = True

    def __init__(self, run: StoredRun, *, ranking: bool = True) -> None:
        suite = run.meta.suite
        self.run = run
        self.summary = Summary(suite.metrics, run.variants, run.models)
        # Positions in a cell's scores: the suite's metrics, then others as records show
        # them (a probe's twin's included, which the summary leaves out).
        self.metrics: dict[str, int] = {name: i for i, name in enumerate(self.summary.metric_names)}
        self.var_names: dict[str, int] = {name: i for i, name in enumerate(suite.variables)}
        self.columns: dict[tuple[str, str], int] = {}  # group -> column, in order of appearance
        self.keys: list[tuple[str, int]] = []  # (case, repeat) of each row, by first appearance
        self.rows_of: dict[tuple[str, int], int] = {}  # (case, repeat) -> its row (as folded)
        self.repeats = 0
        self.rank: RankFold | None = RankFold(PASS_RATE) if ranking else None
        self.groups: list[tuple[str, str]] = []  # the page's columns, set by fold()
        self.order: list[int] = []  # row numbers (as folded) in the page's order, by fold()
        self._positions: dict[int, int] = {}

    def fold(self) -> None:
        """Read the run's records (once), then put groups and rows in the page's order."""
        fold_line = self.line_folder()
        with gc_paused(), corrupt_records(self.run.run_dir):
            for offset, line in iter_record_offsets(
                self.run.run_dir, exact_big_ints=self.exact_big_ints
            ):
                fold_line(offset, line)
        self.finish()

    def line_folder(self) -> Callable[[int, Line], None]:
        """What folds one record's line in (``fold_line(offset, line)``), in file order."""
        rows = self.rows_of
        columns = self.columns
        keys = self.keys
        var_names = self.var_names
        add_summary = self.summary.add_line
        add_rank = self.rank.add_line if self.rank is not None else None
        record = self._recorder()

        def fold_line(offset: int, line: Line) -> None:
            add_summary(line)
            if add_rank is not None:
                add_rank(line)
            repeat = line["repeat"]
            if repeat >= self.repeats:
                self.repeats = repeat + 1
            key = (line["case_id"], repeat)
            row = rows.get(key)
            new = row is None
            if row is None:
                row = rows[key] = len(keys)
                keys.append(key)
                for name in line.get("vars") or ():
                    if name not in var_names:
                        var_names[name] = len(var_names)
            group = (line["variant"], line["model"])
            col = columns.get(group)
            if col is None:
                col = columns[group] = len(columns)
            record(offset, line, row, col, new)

        return fold_line

    def finish(self) -> None:
        """Once every record is folded in: the groups and rows in the page's order."""
        columns = self.columns
        self.summary.drop_empty()
        # Columns in the summary's order: variant by variant, as the suite lists them.
        self.groups = [g for g in self.summary.groups if g in columns]
        self._positions = {columns[g]: i for i, g in enumerate(self.groups)}
        self.order = page_order(self.keys)

    def _recorder(self) -> Callable[[int, Line, int, int, bool], None]:
        """What keeps what the reader needs of one record (``new``: the first of its row).

        Called as ``record(offset, line, row, col, new)`` once per line, in file order.
        """
        return self._record

    def _record(self, offset: int, line: Line, row: int, col: int, new: bool) -> None:
        """Keep what the reader needs of one record: nothing here."""

    @property
    def positions(self) -> dict[int, int]:
        """Folded column -> its place on the page (a group only probes' twins ran has none)."""
        return self._positions


_ASCII_DIGITS = "0123456789"
_DIGITS = re.compile(r"\d")


def page_order(keys: Sequence[tuple[Any, int]]) -> list[int]:
    """Row numbers of ``keys`` (case, repeat) by case in natural order, then repeat.

    ``natural_key`` costs some 6 us a case id the first time (a third of a second for
    50,000 rows). When every id is one text (the same, without digits) and a number in
    ASCII digits ("case-12"), it orders them by that number alone, so the number is the
    key: the same order, ties included (the sort is stable either way).
    """
    n = len(keys)
    try:
        texts = {case.rstrip(_ASCII_DIGITS) for case, _ in keys}
        if len(texts) == 1:
            (text,) = texts
            # natural_key reads a text of digits (\d or not) as a number, or fails on it.
            if not _DIGITS.search(text) and not (text and text.isdigit()):
                cut = len(text)
                numbered = [(int(case[cut:]), r) for case, r in keys]  # "": no number
                return sorted(range(n), key=numbered.__getitem__)
    except (AttributeError, ValueError):  # an id that is not text, or not numbered
        pass
    return sorted(range(n), key=lambda i: (natural_key(keys[i][0]), keys[i][1]))


def new_row(line: Line, var_names: Mapping[str, int], width: int) -> Row:
    """A row from the first record of its case and repeat; ``width`` variables then known."""
    values: list[str | None] = [None] * width
    for name, value in (line.get("vars") or {}).items():
        values[var_names[name]] = text(value)
    row: Row = {"id": line["case_id"], "r": line["repeat"], "v": values}
    row["x"] = text(line.get("expected"))
    shown = line_images(line)
    if shown:
        row["im"] = shown
    return row


def more_images(row: Row, line: Line) -> None:
    """Add the images of another record of the row that it does not show yet."""
    shown = line_images(line)
    if not shown:
        return
    seen = {im["p"] for im in row.get("im", [])}
    more = [im for im in shown if im["p"] not in seen]
    if more:
        row["im"] = [*row.get("im", []), *more]


def placed(cells: Mapping[int, Cell], positions: Mapping[int, int], width: int) -> list[Any]:
    """A row's cells (by folded column) in the page's columns; None where a group has none."""
    out: list[Cell | None] = [None] * width
    for col, c in cells.items():
        place = positions.get(col)
        if place is not None:
            out[place] = c
    return out


def row_of_lines(
    lines: Sequence[Line],
    cols: Sequence[int],
    fold: RunFold,
    width: int,
) -> Row:
    """The row whose records (in file order, each in folded column ``cols[i]``) are ``lines``.

    ``width``: how many variables were known when the row's first record was read. The
    same row as :class:`CellsFold` makes of them.
    """
    row = new_row(lines[0], fold.var_names, width)
    cells: dict[int, Cell] = {}
    for i, (line, col) in enumerate(zip(lines, cols, strict=True)):
        if i:
            more_images(row, line)
        cells[col] = line_cell(line, fold.metrics)
    row["c"] = placed(cells, fold.positions, len(fold.groups))
    return row


class CellsFold(RunFold):
    """Every row with every cell: the whole page of ``promptbench report``."""

    def __init__(self, run: StoredRun, *, ranking: bool = True) -> None:
        super().__init__(run, ranking=ranking)
        self._rows: list[tuple[Row, dict[int, Cell]]] = []

    def _record(self, offset: int, line: Line, row: int, col: int, new: bool) -> None:
        entry: tuple[Row, dict[int, Cell]]
        if new:
            entry = (new_row(line, self.var_names, len(self.var_names)), {})
            self._rows.append(entry)
        else:
            entry = self._rows[row]
            more_images(entry[0], line)
        entry[1][col] = line_cell(line, self.metrics)  # a later record of the cell wins

    def rows(self) -> list[Row]:
        """Every row in the page's order, its cells placed."""
        positions, width = self.positions, len(self.groups)
        out = []
        for i in self.order:
            row, cells = self._rows[i]
            row["c"] = placed(cells, positions, width)
            out.append(row)
        return out
