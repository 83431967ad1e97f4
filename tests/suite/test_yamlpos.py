"""YAML loading with positions: every key and value located, duplicates and syntax errors named."""

from __future__ import annotations

import pytest

from promptbench.errors import SuiteError
from promptbench.suite.yamlpos import Located, Pos, format_path, load_yaml


def issues_of(text: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load_yaml(text, "f.yaml")
    return [str(i) for i in info.value.issues]


def test_positions_of_keys_and_values_are_one_based() -> None:
    text = "name: demo\nmodels:\n  mini: {provider: mock, temperature: 0}\nlist:\n  - a\n  - b: 1\n"
    src = load_yaml(text, "f.yaml")
    assert src.data == {
        "name": "demo",
        "models": {"mini": {"provider": "mock", "temperature": 0}},
        "list": ["a", {"b": 1}],
    }
    assert src.keys[("name",)] == Pos(1, 1)
    assert src.values[("name",)] == Pos(1, 7)
    assert src.keys[("models", "mini")] == Pos(3, 3)
    assert src.values[("models", "mini")] == Pos(3, 9)
    assert src.keys[("models", "mini", "temperature")] == Pos(3, 26)
    assert src.values[("models", "mini", "temperature")] == Pos(3, 39)
    assert src.values[("list", 0)] == Pos(5, 5)
    assert src.values[("list", 1)] == Pos(6, 5)
    assert src.keys[("list", 1, "b")] == Pos(6, 5)
    assert src.values[("list", 1, "b")] == Pos(6, 8)


def test_pos_prefers_value_or_key_and_falls_back_to_nearest_ancestor() -> None:
    src = load_yaml("models:\n  mini:\n    provider: mock\n", "f.yaml")
    assert src.pos(("models", "mini", "provider")) == Pos(3, 15)
    assert src.pos(("models", "mini", "provider"), prefer_key=True) == Pos(3, 5)
    # A path that is not in the file (a missing field) points at its parent's value.
    assert src.pos(("models", "mini", "model")) == Pos(3, 5)
    assert src.pos(("models", "mini", "model"), prefer_key=True) == Pos(2, 3)


def test_issue_names_file_line_column_and_field() -> None:
    src = load_yaml("models:\n  mini: {temprature: 0}\n", "suites/s.yaml")
    issue = src.issue(("models", "mini", "temprature"), "unknown field", prefer_key=True)
    assert str(issue) == "suites/s.yaml:2:10: models.mini.temprature: unknown field"


def test_root_has_a_position_so_missing_top_level_fields_are_located() -> None:
    src = load_yaml("\n\ndescription: x\n", "f.yaml")
    assert str(src.issue(("name",), "required")) == "f.yaml:3:1: name: required"


def test_int_keys_are_located_as_the_data_has_them() -> None:
    src = load_yaml("codes:\n  1: one\n  2: two\n", "f.yaml")
    assert src.data == {"codes": {1: "one", 2: "two"}}
    assert src.keys[("codes", 2)] == Pos(3, 3)


def test_merge_keys_are_not_reported_as_duplicates() -> None:
    src = load_yaml("base: &b {p: 1}\nm:\n  <<: *b\n  q: 2\n", "f.yaml")
    assert src.data["m"] == {"p": 1, "q": 2}
    assert src.keys[("m", "q")] == Pos(4, 3)


def test_format_path() -> None:
    assert format_path(("models", "mini", "temperature")) == "models.mini.temperature"
    assert format_path(("cases", 3, "vars")) == "cases[3].vars"
    assert format_path((0, "b")) == "[0].b"
    assert format_path(()) == ""


def test_duplicate_keys_are_errors_at_the_second_occurrence() -> None:
    text = "a: 1\nb:\n  c: 2\n  c: 3\na: 4\n"
    assert issues_of(text) == [
        "f.yaml:4:3: b.c: duplicate key 'c' (first at line 3); "
        "YAML keeps only the last one, so remove one of them",
        "f.yaml:5:1: a: duplicate key 'a' (first at line 1); "
        "YAML keeps only the last one, so remove one of them",
    ]


def test_duplicate_keys_inside_a_list_item_flow_mapping() -> None:
    assert issues_of("- x\n- {b: 1, b: 2}\n") == [
        "f.yaml:2:10: [1].b: duplicate key 'b' (first at line 2); "
        "YAML keeps only the last one, so remove one of them"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: 1\n b: 2\n",
            "f.yaml:2:3: YAML syntax error: mapping values are not allowed in this context; "
            "check the indentation and quoting there",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "f.yaml:2:2: YAML syntax error: did not find expected ',' or ']' (while parsing a "
            "flow sequence that starts at line 1); check the indentation and quoting there",
        ),
        (
            'ok: 1\nbad: "open\n',
            "f.yaml:3:1: YAML syntax error: found unexpected end of stream (while scanning a "
            "quoted scalar that starts at line 2); check the indentation and quoting there",
        ),
    ],
)
def test_syntax_errors_name_the_line(text: str, expected: str) -> None:
    assert issues_of(text) == [expected]


def test_empty_document_is_none() -> None:
    src = load_yaml("# only a comment\n", "f.yaml")
    assert isinstance(src, Located)
    assert src.data is None
