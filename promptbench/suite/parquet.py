"""Parquet datasets, read with pyarrow in record batches.

A batch of rows is decoded at a time (``ParquetFile.iter_batches``), so memory stays
flat in the number of rows; with a ``vars`` mapping only the columns it names are read.
Rows are numbered from 1 in messages ("data.parquet row 7").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptbench.errors import Issue, MissingExtraError, SuiteError
from promptbench.suite.columns import RESERVED, ColumnMap, plain
from promptbench.suite.yamlpos import Located

if TYPE_CHECKING:
    from promptbench.suite.cases import RowReader

BATCH_ROWS = 1024
_UNPLAIN = (
    "a value of type {kind} cannot be a var; map only text and number columns "
    "(cases: {{file: .., vars: {{question: q}}}})"
)


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtraError("pyarrow", "datasets", "a Parquet dataset") from None
    return pq


def rows(path: Path, shown: str, columns: ColumnMap) -> RowReader:
    """A row reader for the file (see ``cases.from_rows``).

    The schema is checked against the mapping before any row is read.
    """
    pq = _pyarrow_parquet()
    try:
        meta = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise SuiteError.one(shown, f"not a readable Parquet file: {_first_line(exc)}") from None
    names = list(meta.schema_arrow.names)
    problems = columns.check_header(names, shown)
    if problems:
        raise SuiteError(problems)
    wanted: list[str] | None = None
    if columns.vars is not None:
        needed = list(columns.columns().values()) + [r for r in RESERVED if r in names]
        wanted = [n for n in names if n in needed]

    def reader(issues: list[Issue]) -> Iterator[tuple[int, Any, Located]]:
        n = 0
        with pq.ParquetFile(path) as file:
            for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
                for row in batch.to_pylist():
                    n += 1
                    where = f"{shown} row {n}"
                    try:
                        data = {k: plain(v) for k, v in row.items()}
                    except TypeError as exc:
                        issues.append(Issue(where, _UNPLAIN.format(kind=exc)))
                        continue
                    yield n, data, Located(where, data)

    return reader


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
