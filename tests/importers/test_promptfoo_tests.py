"""promptfoo's tests as promptfoo reads them: CSV cells, comma lists, array vars."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptbench.importers.promptfoo_asserts import split_values
from promptbench.importers.promptfoo_tests import (
    assertion_from_string,
    from_csv_row,
    var_combinations,
)


@pytest.mark.parametrize(
    ("cell", "assertion"),
    [
        ("Paris", {"type": "equals", "value": "Paris"}),
        ("contains:Paris", {"type": "contains", "value": "Paris"}),
        ("not-icontains: sorry ", {"type": "not-icontains", "value": "sorry"}),
        ('contains-any:a, "b, c",d', {"type": "contains-any", "value": ["a", "b, c", "d"]}),
        ("regex:^\\d+$", {"type": "regex", "value": "^\\d+$"}),
        ("levenshtein:hello", {"type": "levenshtein", "value": "hello", "threshold": 0.75}),
        ("levenshtein(3):hello", {"type": "levenshtein", "value": "hello", "threshold": 3.0}),
        ("similar:hi", {"type": "similar", "value": "hi", "threshold": 0.8}),
        ("is-json", {"type": "is-json"}),
        ("grade:is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("javascript: output.length > 2", {"type": "javascript", "value": "output.length > 2"}),
        ("fn:x", {"type": "javascript", "value": "x"}),
        ("python: len(output) > 2", {"type": "python", "value": "len(output) > 2"}),
        ("file://check.py:fn", {"type": "python", "value": "check.py:fn"}),
    ],
)
def test_csv_cells(cell: str, assertion: dict[str, object]) -> None:
    assert assertion_from_string(cell) == assertion


def test_csv_row_special_columns() -> None:
    test = from_csv_row(
        {
            "question": "2+2?",
            "__expected": "contains:4",
            "__expected2": "",
            "__expected3": "not-contains:5",
            "__description": "sum",
            "__metric": "math",
            "__threshold": "0.5",
            "__metadata:topic": "arith",
        }
    )
    assert test == {
        "description": "sum",
        "threshold": 0.5,
        "vars": {"question": "2+2?"},
        "assert": [
            {"type": "contains", "value": "4", "metric": "math"},
            {"type": "not-contains", "value": "5", "metric": "math"},
        ],
        "metadata": {"topic": "arith"},
    }


def test_comma_lists_as_promptfoo_splits_them() -> None:
    assert split_values(' a ,b,, "c, d" , "e ""f""" ') == ["a", "b", "c, d", 'e "f"']
    assert split_values(["x", 1]) == ["x", "1"]


def test_array_vars_expand_in_promptfoo_order(tmp_path: Path) -> None:
    combos = var_combinations(
        {"lang": ["en", "fr"], "name": ["Ada", "Grace"], "n": 3, "objs": [{"a": 1}]}, tmp_path
    )
    assert [(c["lang"], c["name"]) for c in combos] == [
        ("en", "Ada"),
        ("en", "Grace"),
        ("fr", "Ada"),
        ("fr", "Grace"),
    ]
    # An array whose first item is not text is one value, as in promptfoo.
    assert all(c["objs"] == [{"a": 1}] and c["n"] == 3 for c in combos)
