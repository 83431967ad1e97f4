"""String metrics of the catalogue: contains_any, contains_all, starts_with, word_count, length."""

from __future__ import annotations

import pytest

from promptbench.types import Case
from tests.metrics.helpers import parse, score, verdict

# --------------------------------------------------------------------------- contains_any


def test_contains_any_passes_when_one_is_found() -> None:
    s = score("contains_any", {"values": ["refund", "credit"]}, "We will credit you.")
    assert verdict(s) == (1.0, True, "found 'credit'")


def test_contains_any_names_every_value_found() -> None:
    s = score("contains_any", {"values": ["refund", "credit"]}, "a refund or a credit")
    assert verdict(s) == (1.0, True, "found 'refund', 'credit'")


def test_contains_any_fails_when_none_is_found() -> None:
    s = score("contains_any", {"values": ["refund", "credit"]}, "No money back.")
    assert verdict(s) == (0.0, False, "none of 'refund', 'credit'")


def test_contains_any_is_case_sensitive_unless_told() -> None:
    params = {"values": ["REFUND"]}
    assert score("contains_any", params, "a refund").passed is False
    s = score("contains_any", {**params, "ignore_case": True}, "a refund")
    assert verdict(s) == (1.0, True, "found 'REFUND'")


def test_contains_any_templated_values_and_numbers() -> None:
    case = Case("c1", {"order": "A-17"})
    params = {"values": ["{{ order }}", 42]}
    assert verdict(score("contains_any", params, "order A-17", case)) == (1.0, True, "found 'A-17'")
    assert verdict(score("contains_any", params, "answer 42", case)) == (1.0, True, "found '42'")
    assert score("contains_any", params, "order A-18", case).passed is False


def test_contains_any_shorthand_and_empty_list() -> None:
    spec, issues = parse("- contains_any: [a, b]\n")
    assert issues == [] and spec is not None
    assert dict(spec.params) == {"values": ["a", "b"]}
    assert parse("- contains_any: []\n")[1] == [
        "suite.yaml:1:17: [0].contains_any.values: is empty; add at least one"
    ]


# --------------------------------------------------------------------------- contains_all


def test_contains_all_passes_when_all_are_found() -> None:
    s = score("contains_all", {"values": ["refund", "5 days"]}, "A refund within 5 days.")
    assert verdict(s) == (1.0, True, "found all 2")


def test_contains_all_scores_the_share_found_and_fails_below_all() -> None:
    s = score("contains_all", {"values": ["refund", "5 days", "email"]}, "A refund in 5 days.")
    assert s.value == pytest.approx(2 / 3)
    assert (s.passed, s.reason) == (False, "missing 'email' (2 of 3 found)")
    none = score("contains_all", {"values": ["x", "y"]}, "nothing")
    assert verdict(none) == (0.0, False, "missing 'x', 'y' (0 of 2 found)")


def test_contains_all_threshold_allows_partial_coverage() -> None:
    params = {"values": ["a", "b"], "threshold": 0.5}
    assert verdict(score("contains_all", params, "a")) == (0.5, True, "missing 'b' (1 of 2 found)")


def test_contains_all_ignore_case_and_templates() -> None:
    case = Case("c1", {"name": "Ada"})
    params = {"values": ["{{ name }}", "DEAR"], "ignore_case": True}
    assert verdict(score("contains_all", params, "dear ada,", case)) == (1.0, True, "found all 2")
    strict = {**params, "ignore_case": False}
    assert score("contains_all", strict, "dear ada,", case).passed is False


# --------------------------------------------------------------------------- starts_with


def test_starts_with_pass_and_fail() -> None:
    assert verdict(score("starts_with", {"value": "Answer:"}, "Answer: 4")) == (
        1.0,
        True,
        "starts with 'Answer:'",
    )
    assert verdict(score("starts_with", {"value": "Answer:"}, "The answer: 4")) == (
        0.0,
        False,
        "starts with 'The answer: 4'",
    )


def test_starts_with_a_later_occurrence_does_not_count() -> None:
    assert score("starts_with", {"value": "yes"}, "no, yes").passed is False


def test_starts_with_ignores_leading_whitespace_unless_strip_is_off() -> None:
    assert score("starts_with", {"value": "Yes"}, "\n  Yes.").passed is True
    s = score("starts_with", {"value": "Yes", "strip": False}, "\n  Yes.")
    assert verdict(s) == (0.0, False, "starts with '\\n  Yes.'")


def test_starts_with_ignore_case_and_template() -> None:
    case = Case("c1", {"label": "Billing"})
    params = {"value": "{{ label }}"}
    assert score("starts_with", params, "billing", case).passed is False
    assert score("starts_with", {**params, "ignore_case": True}, "billing", case).passed is True
    spec, _ = parse("- starts_with: 'Answer:'\n")
    assert spec is not None and dict(spec.params) == {"value": "Answer:"}


# --------------------------------------------------------------------------- word_count, length


@pytest.mark.parametrize(
    ("params", "output", "expected"),
    [
        ({"max": 3}, "one two three", (1.0, True, "3 words")),
        ({"max": 3}, "one two three four", (0.0, False, "4 words; at most 3 wanted")),
        ({"min": 2}, "one", (0.0, False, "1 word; at least 2 wanted")),
        ({"min": 2, "max": 2}, "  one\n two\t", (1.0, True, "2 words")),
        ({"min": 1}, "", (0.0, False, "0 words; at least 1 wanted")),
    ],
)
def test_word_count_bounds_are_inclusive(
    params: dict[str, int], output: str, expected: tuple[float, bool, str]
) -> None:
    assert verdict(score("word_count", params, output)) == expected


@pytest.mark.parametrize(
    ("params", "output", "expected"),
    [
        ({"max": 5}, "hello", (1.0, True, "5 characters")),
        ({"max": 5}, "hello!", (0.0, False, "6 characters; at most 5 wanted")),
        ({"min": 3}, "hi", (0.0, False, "2 characters; at least 3 wanted")),
        ({"min": 1, "max": 1}, "é", (1.0, True, "1 character")),  # code points, not bytes
    ],
)
def test_length_bounds_are_inclusive(
    params: dict[str, int], output: str, expected: tuple[float, bool, str]
) -> None:
    assert verdict(score("length", params, output)) == expected


@pytest.mark.parametrize("kind", ["word_count", "length"])
def test_bounds_are_validated(kind: str) -> None:
    col = len("- : ") + len(kind) + 1  # the mapping, 1-based
    assert parse(f"- {kind}: {{}}\n")[1] == [
        f"suite.yaml:1:{col}: [0].{kind}: value error, give min, max or both"
    ]
    assert parse(f"- {kind}: {{min: 5, max: 2}}\n")[1] == [
        f"suite.yaml:1:{col}: [0].{kind}: value error, min (5) is greater than max (2)"
    ]
    assert parse(f"- {kind}: {{min: -1}}\n")[1] == [
        f"suite.yaml:1:{col + 6}: [0].{kind}.min: input should be greater than or equal to 0 "
        "(got -1)"
    ]
