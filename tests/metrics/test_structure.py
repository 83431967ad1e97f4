"""Structure metrics: json_valid, with and without Markdown fences."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from promptbench.metrics.base import Sample
from promptbench.metrics.scoring import BoundMetric
from promptbench.metrics.structure import strip_fence
from promptbench.render import Renderer
from promptbench.types import Case, Completion, MetricSpec, Score


def score(output: str, params: Mapping[str, Any] | None = None) -> Score:
    spec = MetricSpec("json_valid", "json_valid", params or {})
    sample = Sample(Case("c1", {}), output, Completion(output))
    return asyncio.run(BoundMetric(spec, Renderer()).score(sample))


@pytest.mark.parametrize("output", ['{"a": 1}', "[1, 2]", '  "text"  ', "null", "3.5"])
def test_valid_json_passes(output: str) -> None:
    s = score(output)
    assert (s.value, s.passed, s.reason, s.error) == (1.0, True, "valid JSON", None)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "{'a': 1}",
            "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("", "not JSON: Expecting value: line 1 column 1 (char 0)"),
        ('{"a": 1} trailing', "not JSON: Extra data: line 1 column 10 (char 9)"),
        ("NaN", "not JSON: NaN is not valid JSON"),
        ('{"x": -Infinity}', "not JSON: -Infinity is not valid JSON"),
    ],
)
def test_invalid_json_fails_with_the_parser_reason(output: str, reason: str) -> None:
    s = score(output)
    assert (s.value, s.passed, s.reason, s.error) == (0.0, False, reason, None)


def test_fenced_json_passes_by_default_and_fails_without_allow_fence() -> None:
    fenced = '```json\n{"queue": "billing"}\n```'
    assert score(fenced).passed is True
    strict = score(fenced, {"allow_fence": False})
    assert (strict.value, strict.passed) == (0.0, False)
    assert strict.reason.startswith("not JSON: Expecting value: line 1 column 1")


def test_fence_with_invalid_json_inside_still_fails() -> None:
    assert score("```json\n{oops}\n```").passed is False


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ("```\n[1]\n```\n", "[1]"),
        ('  ```JSON5\n{"a":\n 1}```', '{"a":\n 1}'),
        ('```json\n{"a": 1}\n```\nSome prose after', '```json\n{"a": 1}\n```\nSome prose after'),
        ('Here you go:\n```json\n{"a": 1}\n```', 'Here you go:\n```json\n{"a": 1}\n```'),
        ('{"a": 1}', '{"a": 1}'),
    ],
)
def test_strip_fence_removes_only_a_fence_around_the_whole_text(text: str, inner: str) -> None:
    assert strip_fence(text) == inner
