"""String metrics: exact (with every normalisation), contains, icontains, regex."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from promptbench.errors import Issue
from promptbench.metrics.base import Sample
from promptbench.metrics.scoring import BoundMetric
from promptbench.metrics.string import normalize
from promptbench.render import Renderer
from promptbench.suite.metricspec import MetricScope, parse_metric
from promptbench.suite.yamlpos import load_yaml
from promptbench.types import Case, Completion, MetricSpec, Score


def score(
    kind: str,
    params: Mapping[str, Any],
    output: str,
    case: Case | None = None,
    *,
    threshold: float | None = None,
) -> Score:
    if threshold is not None:
        params = {**params, "threshold": threshold}
    spec = MetricSpec(kind, kind, params, threshold=threshold)
    case = case or Case("c1", {})
    sample = Sample(case, output, Completion(output))
    return asyncio.run(BoundMetric(spec, Renderer()).score(sample))


def verdict(s: Score) -> tuple[float | None, bool | None, str]:
    assert s.error is None, s.error
    return s.value, s.passed, s.reason


def parse(yaml_text: str) -> tuple[MetricSpec | None, list[str]]:
    src = load_yaml(yaml_text, "suite.yaml")
    issues: list[Issue] = []
    spec = parse_metric(src.data[0], src, (0,), issues, MetricScope(set()))
    return spec, [str(i) for i in issues]


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([], "  Hello,   World!\n"),
        (["strip"], "Hello,   World!"),
        (["lower"], "  hello,   world!\n"),
        (["collapse_whitespace"], "Hello, World!"),
        (["strip_punctuation"], "  Hello   World\n"),
        (["strip", "lower", "collapse_whitespace", "strip_punctuation"], "hello world"),
    ],
)
def test_normalize_steps(steps: list[Any], expected: str) -> None:
    assert normalize("  Hello,   World!\n", steps) == expected


# --------------------------------------------------------------------------- exact


def test_exact_strips_by_default() -> None:
    assert verdict(score("exact", {"expected": "Paris"}, "  Paris\n")) == (1.0, True, "matches")


def test_exact_fails_on_a_different_answer() -> None:
    assert verdict(score("exact", {"expected": "Paris"}, "paris")) == (
        0.0,
        False,
        "expected 'Paris', got 'paris'",
    )


def test_exact_without_strip_is_whitespace_sensitive() -> None:
    s = score("exact", {"expected": "Paris", "normalize": []}, "Paris\n")
    assert verdict(s) == (0.0, False, "expected 'Paris', got 'Paris\\n'")


@pytest.mark.parametrize(
    ("steps", "output", "want", "passes"),
    [
        (["strip", "lower"], "  PARIS ", "paris", True),
        (["strip"], "PARIS", "paris", False),
        (["collapse_whitespace"], "New   York\n City", "New York City", True),
        (["strip"], "New   York City", "New York City", False),
        (["strip", "strip_punctuation"], "Paris!", "Paris.", True),
        (["strip"], "Paris!", "Paris.", False),
    ],
)
def test_exact_normalize_options(steps: list[str], output: str, want: str, passes: bool) -> None:
    s = score("exact", {"expected": want, "normalize": steps}, output)
    assert (s.value, s.passed) == (float(passes), passes)


def test_exact_default_expected_is_the_case_expected() -> None:
    case = Case("c1", {"q": "2+2"}, expected=4)
    assert verdict(score("exact", {}, "4", case)) == (1.0, True, "matches")
    assert verdict(score("exact", {}, "5", case)) == (0.0, False, "expected '4', got '5'")


def test_exact_default_expected_missing_is_an_error_not_a_fail() -> None:
    s = score("exact", {}, "anything", Case("c9", {"q": 1}))
    assert (s.value, s.passed, s.verdict) == (None, None, "error")
    assert s.error == (
        "RenderError: case 'c9', metric 'exact': template exact.expected:1: undefined "
        "variable 'expected'; add it to the case's vars or fix the template"
    )


def test_exact_templated_expected() -> None:
    case = Case("c1", {"label": "Billing"})
    params = {"expected": "{{ label }}", "normalize": ["strip", "lower"]}
    assert verdict(score("exact", params, "billing\n", case)) == (1.0, True, "matches")
    assert verdict(score("exact", params, "tech", case)) == (
        0.0,
        False,
        "expected 'billing', got 'tech'",
    )


def test_exact_templated_expected_value_is_not_rendered_twice() -> None:
    case = Case("c1", {"label": "{{ other }}", "other": "x"})
    s = score("exact", {"expected": "{{ label }}"}, "{{ other }}", case)
    assert verdict(s) == (1.0, True, "matches")


def test_exact_reason_is_shortened() -> None:
    s = score("exact", {"expected": "a" * 100}, "b")
    assert s.reason == f"expected '{'a' * 57}...', got 'b'"


# --------------------------------------------------------------------------- contains


def test_contains_pass_and_fail() -> None:
    assert verdict(score("contains", {"value": "refund"}, "We will refund you.")) == (
        1.0,
        True,
        "found 'refund'",
    )
    assert verdict(score("contains", {"value": "Refund"}, "We will refund you.")) == (
        0.0,
        False,
        "missing 'Refund'",
    )


def test_contains_number_is_text() -> None:
    assert verdict(score("contains", {"value": 42}, "the answer is 42")) == (
        1.0,
        True,
        "found '42'",
    )


def test_contains_templated_value() -> None:
    case = Case("c1", {"city": "Rome"})
    assert score("contains", {"value": "{{ city }}"}, "It is Rome.", case).passed is True
    assert score("contains", {"value": "{{ city }}"}, "It is Paris.", case).passed is False


def test_icontains_pass_and_fail() -> None:
    assert verdict(score("icontains", {"value": "REFUND"}, "we will refund you")) == (
        1.0,
        True,
        "found 'REFUND'",
    )
    assert verdict(score("icontains", {"value": "Straße"}, "STRASSE 5")) == (
        1.0,
        True,
        "found 'Straße'",
    )
    assert verdict(score("icontains", {"value": "refund"}, "no money back")) == (
        0.0,
        False,
        "missing 'refund'",
    )


def test_shorthand_forms() -> None:
    spec, issues = parse("- contains: foo\n")
    assert issues == []
    assert spec is not None
    assert (spec.kind, spec.name, dict(spec.params)) == ("contains", "contains", {"value": "foo"})
    spec, _ = parse("- exact: yes please\n")
    assert spec is not None and dict(spec.params) == {"expected": "yes please"}
    spec, _ = parse("- regex: '^a+$'\n")
    assert spec is not None and dict(spec.params) == {"pattern": "^a+$"}
    assert parse("- json_valid: true\n")[1] == [
        "suite.yaml:1:15: [0].json_valid: metric 'json_valid' takes a mapping of parameters"
    ]


# --------------------------------------------------------------------------- regex


def test_regex_searches_by_default() -> None:
    assert verdict(score("regex", {"pattern": r"\d{4}-\d{2}-\d{2}"}, "due 2024-05-01 ok")) == (
        1.0,
        True,
        "matched '2024-05-01'",
    )
    assert verdict(score("regex", {"pattern": r"\d{4}-\d{2}"}, "due soon")) == (
        0.0,
        False,
        r"no match for /\d{4}-\d{2}/",
    )


def test_regex_full_match() -> None:
    params = {"pattern": r"\d+", "full_match": True}
    assert verdict(score("regex", params, "123")) == (1.0, True, "matched '123'")
    assert verdict(score("regex", params, "123 apples")) == (0.0, False, r"no match for /\d+/")


@pytest.mark.parametrize(
    ("flags", "pattern", "output"),
    [
        (["ignorecase"], "yes", "YES"),
        (["multiline"], "^b$", "a\nb\nc"),
        (["dotall"], "a.b", "a\nb"),
    ],
)
def test_regex_flags(flags: list[str], pattern: str, output: str) -> None:
    assert score("regex", {"pattern": pattern}, output).passed is False
    assert score("regex", {"pattern": pattern, "flags": flags}, output).passed is True


def test_invalid_regex_and_flag_are_rejected_when_parsed() -> None:
    assert parse("- regex: {pattern: '[a-', flags: [verbose]}\n")[1] == [
        "suite.yaml:1:20: [0].regex.pattern: value error, invalid regular expression: "
        "unterminated character set at position 0 (got '[a-')",
        "suite.yaml:1:35: [0].regex.flags[0]: input should be 'ignorecase', 'multiline' or "
        "'dotall' (got 'verbose')",
    ]


def test_threshold_on_a_string_metric() -> None:
    # A 0/1 metric passes at a threshold of 0 even when it scores 0.
    s = score("contains", {"value": "x"}, "y", threshold=0.0)
    assert (s.value, s.passed) == (0.0, True)
