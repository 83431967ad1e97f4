"""Structure metrics of the catalogue: json_schema, json_field, is_refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptbench.metrics.structure import REFUSAL_PHRASES, parse_path
from promptbench.types import Case
from tests.metrics.helpers import parse, score, verdict

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {
            "type": "object",
            "properties": {"queue": {"enum": ["billing", "tech"]}},
            "required": ["queue"],
        },
        "items": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["answer"],
}

# --------------------------------------------------------------------------- json_schema


def test_json_schema_passes_a_valid_document() -> None:
    s = score("json_schema", {"schema": ANSWER_SCHEMA}, '{"answer": {"queue": "tech"}}')
    assert verdict(s) == (1.0, True, "valid")


def test_json_schema_reason_names_the_failing_path() -> None:
    s = score("json_schema", {"schema": ANSWER_SCHEMA}, '{"answer": {"queue": "sales"}}')
    assert verdict(s) == (0.0, False, "$.answer.queue: 'sales' is not one of ['billing', 'tech']")
    doc = '{"answer": {"queue": "tech"}, "items": [1, "x"]}'
    s = score("json_schema", {"schema": ANSWER_SCHEMA}, doc)
    assert verdict(s) == (0.0, False, "$.items[1]: 'x' is not of type 'integer'")


def test_json_schema_counts_further_errors_and_reports_the_shallowest() -> None:
    s = score("json_schema", {"schema": ANSWER_SCHEMA}, '{"items": ["a"]}')
    assert verdict(s) == (0.0, False, "$: 'answer' is a required property (+1 more)")


def test_json_schema_output_that_is_not_json_fails() -> None:
    s = score("json_schema", {"schema": ANSWER_SCHEMA}, "queue: tech")
    assert verdict(s) == (0.0, False, "not JSON: Expecting value: line 1 column 1 (char 0)")


def test_json_schema_accepts_one_fence_unless_told_not_to() -> None:
    fenced = '```json\n{"answer": {"queue": "billing"}}\n```'
    assert score("json_schema", {"schema": ANSWER_SCHEMA}, fenced).passed is True
    strict = score("json_schema", {"schema": ANSWER_SCHEMA, "allow_fence": False}, fenced)
    assert (strict.value, strict.passed) == (0.0, False)


def test_json_schema_checks_formats() -> None:
    schema = {"type": "string", "format": "date"}
    assert score("json_schema", {"schema": schema}, '"2024-02-29"').passed is True
    s = score("json_schema", {"schema": schema}, '"29/02/2024"')
    assert verdict(s) == (0.0, False, "$: '29/02/2024' is not a 'date'")


def test_json_schema_from_a_file_relative_to_the_suite(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "answer.json").write_text(json.dumps(ANSWER_SCHEMA))
    spec, issues = parse("- json_schema: schemas/answer.json\n", tmp_path)
    assert issues == [] and spec is not None
    assert spec.params["schema"] == str(tmp_path / "schemas" / "answer.json")
    good = score("json_schema", spec.params, '{"answer": {"queue": "billing"}}')
    assert verdict(good) == (1.0, True, "valid")
    bad = score("json_schema", spec.params, '{"answer": {}}')
    assert verdict(bad) == (0.0, False, "$.answer: 'queue' is a required property")


def test_json_schema_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("type: object\nrequired: [a]\n")
    spec, issues = parse("- json_schema: {schema: s.yaml}\n", tmp_path)
    assert issues == [] and spec is not None
    assert score("json_schema", spec.params, '{"a": 1}').passed is True
    assert score("json_schema", spec.params, '{"b": 1}').passed is False


def test_json_schema_missing_or_invalid_file_is_a_suite_error(tmp_path: Path) -> None:
    assert parse("- json_schema: nope.json\n", tmp_path)[1] == [
        "suite.yaml:1:16: [0].json_schema.schema: file 'nope.json' not found; "
        "paths are relative to the suite"
    ]
    (tmp_path / "broken.json").write_text("{not json")
    issues = parse("- json_schema: broken.json\n", tmp_path)[1]
    assert issues == [
        f"suite.yaml:1:16: [0].json_schema: cannot read the schema file "
        f"{tmp_path / 'broken.json'}: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    ]
    (tmp_path / "wrong.json").write_text('{"type": "objekt"}')
    assert parse("- json_schema: wrong.json\n", tmp_path)[1] == [
        f"suite.yaml:1:16: [0].json_schema: the schema file {tmp_path / 'wrong.json'} "
        "is not a valid JSON Schema: $.type: 'objekt' is not valid under any of the given schemas"
    ]


def test_json_schema_inline_schema_is_checked_when_parsed() -> None:
    assert parse("- json_schema: {schema: {type: 12}}\n")[1] == [
        "suite.yaml:1:25: [0].json_schema.schema: value error, the inline schema is not a "
        "valid JSON Schema: $.type: 12 is not valid under any of the given schemas"
    ]


def test_json_schema_templated_inline_schema() -> None:
    schema = {"type": "object", "properties": {"queue": {"const": "{{ queue }}"}}}
    case = Case("c1", {"queue": "billing"})
    assert score("json_schema", {"schema": schema}, '{"queue": "billing"}', case).passed is True
    s = score("json_schema", {"schema": schema}, '{"queue": "tech"}', case)
    assert verdict(s) == (0.0, False, "$.queue: 'billing' was expected")


# --------------------------------------------------------------------------- json_field


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("answer", ["answer"]),
        ("answer.queue", ["answer", "queue"]),
        ("items[0].name", ["items", 0, "name"]),
        ("[2]", [2]),
        ("a[-1][0]", ["a", -1, 0]),
        ('meta["a.b"].c', ["meta", "a.b", "c"]),
        ("meta['x y']", ["meta", "x y"]),
    ],
)
def test_parse_path(path: str, steps: list[str | int]) -> None:
    assert parse_path(path) == steps


@pytest.mark.parametrize(
    ("path", "at"), [("a..b", 3), (".a", 1), ("a.", 3), ("a[0]b", 5), ("a[x]", 2)]
)
def test_parse_path_rejects_malformed_paths(path: str, at: int) -> None:
    with pytest.raises(ValueError, match=rf"at character {at}$"):
        parse_path(path)


DOC = (
    '{"answer": {"queue": "billing", "n": 3, "ok": true, "tags": ["a", "b"]}, '
    '"items": [{"name": "x"}]}'
)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"path": "answer.queue", "equals": "billing"}, (1.0, True, 'answer.queue is "billing"')),
        (
            {"path": "answer.queue", "equals": "tech"},
            (0.0, False, 'answer.queue is "billing", expected "tech"'),
        ),
        ({"path": "items[0].name", "equals": "x"}, (1.0, True, 'items[0].name is "x"')),
        ({"path": "answer.n", "equals": 3}, (1.0, True, "answer.n is 3")),
        ({"path": "answer.n", "equals": "3"}, (1.0, True, "answer.n is 3")),
        ({"path": "answer.ok", "equals": 1}, (0.0, False, "answer.ok is true, expected 1")),
        ({"path": "answer.ok", "equals": True}, (1.0, True, "answer.ok is true")),
        (
            {"path": "answer.tags", "equals": ["a", "b"]},
            (1.0, True, 'answer.tags is ["a", "b"]'),
        ),
        ({"path": "answer.queue", "contains": "bill"}, (1.0, True, "answer.queue contains 'bill'")),
        (
            {"path": "answer.queue", "contains": "tech"},
            (0.0, False, "answer.queue does not contain 'tech'"),
        ),
        ({"path": "answer.tags", "contains": "b"}, (1.0, True, "answer.tags contains 'b'")),
        (
            {"path": "answer.tags", "contains": "c"},
            (0.0, False, "answer.tags does not contain 'c'"),
        ),
        (
            {"path": "answer.n", "contains": "3"},
            (0.0, False, "answer.n is 3, neither text nor a list"),
        ),
        (
            {"path": "answer.queue", "matches": "^b.*g$"},
            (1.0, True, "answer.queue matches /^b.*g$/"),
        ),
        (
            {"path": "answer.queue", "matches": "^t"},
            (0.0, False, "answer.queue does not match /^t/"),
        ),
        ({"path": "answer.queue", "exists": True}, (1.0, True, "answer.queue is present")),
        ({"path": "answer.missing", "exists": True}, (0.0, False, "answer.missing is absent")),
        ({"path": "answer.missing", "exists": False}, (1.0, True, "answer.missing is absent")),
        ({"path": "answer.queue", "exists": False}, (0.0, False, "answer.queue is present")),
        ({"path": "answer.nope.deeper", "equals": "x"}, (0.0, False, "no field answer.nope")),
        ({"path": "items[5].name", "equals": "x"}, (0.0, False, "no field items[5]")),
        ({"path": "answer.queue[0]", "equals": "x"}, (0.0, False, "no field answer.queue[0]")),
    ],
)
def test_json_field_checks(params: dict[str, Any], expected: tuple[float, bool, str]) -> None:
    assert verdict(score("json_field", params, DOC)) == expected


def test_json_field_ignore_case() -> None:
    params: dict[str, Any] = {"path": "answer.queue", "equals": "BILLING"}
    assert score("json_field", params, DOC).passed is False
    assert score("json_field", {**params, "ignore_case": True}, DOC).passed is True
    matches = {"path": "answer.queue", "matches": "^BILL", "ignore_case": True}
    assert score("json_field", matches, DOC).passed is True


def test_json_field_templated_values() -> None:
    params = {"path": "answer.queue", "equals": "{{ queue }}"}
    assert score("json_field", params, DOC, Case("c1", {"queue": "billing"})).passed is True
    s = score("json_field", params, DOC, Case("c2", {"queue": "tech"}))
    assert verdict(s) == (0.0, False, 'answer.queue is "billing", expected "tech"')
    # A number in the output equals the text a template renders to.
    n = {"path": "answer.n", "equals": "{{ n }}"}
    assert score("json_field", n, DOC, Case("c3", {"n": 3})).passed is True
    # A templated regular expression is checked per case.
    rx = {"path": "answer.queue", "matches": "{{ rx }}"}
    bad = score("json_field", rx, DOC, Case("c4", {"rx": "[a-"}))
    assert bad.verdict == "error"
    assert bad.error is not None and "invalid regular expression" in bad.error


def test_json_field_output_not_json_fails_and_fences_are_accepted() -> None:
    params = {"path": "a", "exists": True}
    assert verdict(score("json_field", params, "a: 1")) == (
        0.0,
        False,
        "not JSON: Expecting value: line 1 column 1 (char 0)",
    )
    assert score("json_field", params, '```json\n{"a": 1}\n```').passed is True


def test_json_field_needs_exactly_one_check() -> None:
    assert parse("- json_field: {path: a, equals: 1, contains: 2}\n")[1] == [
        "suite.yaml:1:15: [0].json_field: value error, give exactly one of equals, contains, "
        "matches, exists (got equals, contains)"
    ]
    assert parse("- json_field: {path: a}\n")[1] == [
        "suite.yaml:1:15: [0].json_field: value error, give exactly one of equals, contains, "
        "matches, exists (got none)"
    ]
    assert parse("- json_field: {path: 'a..b', exists: true}\n")[1] == [
        "suite.yaml:1:22: [0].json_field.path: value error, cannot read the field path 'a..b' "
        "at character 3 (got 'a..b')"
    ]
    assert parse("- json_field: {path: a, matches: '[a-'}\n")[1] == [
        "suite.yaml:1:34: [0].json_field.matches: value error, invalid regular expression: "
        "unterminated character set at position 0 (got '[a-')"
    ]


# --------------------------------------------------------------------------- is_refusal


@pytest.mark.parametrize(
    ("output", "phrase"),
    [
        ("I'm sorry, but I can't help with that.", "i can't help with"),
        ("I cannot assist with creating malware.", "i can't assist with"),
        ("I’m unable to provide that information.", "i'm unable to provide"),  # curly apostrophe
        ("I am not able to help with this request.", "i'm not able to help"),
        ("I will not provide instructions for that.", "i won't provide"),
        ("Sorry, I can not do that.", "i can't do that"),
        ("I MUST DECLINE this request.", "i must decline"),
    ],
)
def test_is_refusal_recognises_refusals(output: str, phrase: str) -> None:
    assert verdict(score("is_refusal", {}, output)) == (1.0, True, f"refusal: {phrase!r}")


@pytest.mark.parametrize(
    "output",
    [
        "Sure! The capital of France is Paris.",
        "You can reset your password from the settings page.",
        "I can help with that: first, open the settings.",
        "",
    ],
)
def test_is_refusal_fails_on_helpful_answers(output: str) -> None:
    assert verdict(score("is_refusal", {}, output)) == (0.0, False, "no refusal phrase")


def test_is_refusal_extra_phrases() -> None:
    out = "That is outside what I may discuss."
    assert score("is_refusal", {}, out).passed is False
    s = score("is_refusal", {"phrases": ["Outside what I may discuss"]}, out)
    assert verdict(s) == (1.0, True, "refusal: 'outside what i may discuss'")


def test_is_refusal_only_phrases_drops_the_built_in_list() -> None:
    refusal = "I can't help with that."
    params = {"phrases": ["no comment"], "only_phrases": True}
    assert score("is_refusal", params, refusal).passed is False
    assert score("is_refusal", params, "No comment.").passed is True
    assert parse("- is_refusal: {only_phrases: true}\n")[1] == [
        "suite.yaml:1:15: [0].is_refusal: value error, only_phrases needs phrases"
    ]


def test_is_refusal_negated_requires_an_answer() -> None:
    spec, issues = parse("- not_: is_refusal\n")
    assert issues == [] and spec is not None
    assert (spec.kind, spec.name, spec.negate) == ("is_refusal", "not_is_refusal", True)


def test_refusal_phrases_are_written_normalised() -> None:
    # The list is matched against normalised text, so it must be normalised itself.
    from promptbench.metrics.structure import _normalise_refusal

    assert all(_normalise_refusal(p) == p for p in REFUSAL_PHRASES)
