"""CSV export: text a spreadsheet would evaluate is escaped unless the user asks for it raw."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from promptbench.report.csv_out import escape_formula, write_csv
from promptbench.types import Message, Record

DANGEROUS = ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _record(output: str, var: str) -> Record:
    return Record(
        case_id="c1",
        variant="v",
        model="m",
        repeat=0,
        vars={"q": var},
        messages=(Message("user", var),),
        expected=output,
        output=output,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_cells_are_escaped(tmp_path: Path, text: str) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, [_record(text, text)], ["q"], [])
    (row,) = _rows(path)
    for column in ("output", "var:q", "expected"):
        assert row[column].startswith("'"), (column, row[column])
        assert row[column][1:].startswith(text[0])


def test_raw_writes_cells_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, [_record("=1+1", "@x")], ["q"], [], raw=True)
    (row,) = _rows(path)
    assert row["output"] == "=1+1"
    assert row["var:q"] == "@x"


def test_ordinary_text_and_numbers_are_untouched(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_csv(path, [_record("Paris", "capital of France?")], ["q"], [])
    (row,) = _rows(path)
    assert row["output"] == "Paris"
    assert row["repeat"] == "0"
    assert escape_formula("a=b") == "a=b"
