"""Scoring: results of user metrics become scores; errors are never fails; case verdicts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import Field

from promptbench.config import MetricParams
from promptbench.metrics.base import Sample, metric, metrics
from promptbench.metrics.scoring import BoundMetric, case_passed, score_all
from promptbench.render import Renderer
from promptbench.types import Case, Completion, MetricSpec, Score

# Throwaway metrics, with names no other test uses. ``returns`` picks what they return.


class ReturnsParams(MetricParams):
    returns: Any = None


RESULTS: dict[str, Any] = {
    "true": True,
    "false": False,
    "one": 1,
    "zero": 0,
    "seven_tenths": 0.7,
    "too_big": 1.5,
    "negative": -0.1,
    "nan": float("nan"),
    "text": "yes",
    "none": None,
    "score_fail_high": Score("whatever", 0.9, False, "judge said no"),
    "score_value_only": Score("whatever", 0.6, None, "partial"),
    "score_error": Score("whatever", None, None, "why", error="judge unparseable"),
    "score_empty": Score("whatever", None, None, "nothing"),
}


@metric("t_scoring_returns", params=ReturnsParams, summary="test", example="-")
def _returns(sample: Sample, params: ReturnsParams) -> Any:
    return RESULTS[params.returns]


@metric("t_scoring_half", params=ReturnsParams, summary="test", example="-", default_threshold=0.5)
def _half(sample: Sample, params: ReturnsParams) -> Any:
    return RESULTS[params.returns]


@metric("t_scoring_raises", summary="test", example="-")
def _raises(sample: Sample, params: MetricParams) -> bool:
    raise ValueError("boom")


@metric("t_scoring_async", summary="test", example="-")
async def _async(sample: Sample, params: MetricParams) -> float:
    await asyncio.sleep(0)
    return 0.25 if "a" in sample.output else 1.0


THREADS: list[str] = []


@metric("t_scoring_blocking", summary="test", example="-", blocking=True)
def _blocking(sample: Sample, params: MetricParams) -> bool:
    THREADS.append(threading.current_thread().name)
    return True


class WordParams(MetricParams):
    word: str = Field(min_length=2)


@metric("t_scoring_word", params=WordParams, summary="test", example="-")
def _word(sample: Sample, params: WordParams) -> bool:
    return params.word in sample.output


class AllParams(MetricParams):
    words: list[str]
    labels: dict[str, str] = Field(default_factory=dict)


@metric("t_scoring_all", params=AllParams, summary="test", example="-")
def _all(sample: Sample, params: AllParams) -> bool:
    wanted = [*params.words, *params.labels.values()]
    return all(w in sample.output for w in wanted)


def bind(kind: str, params: Mapping[str, Any] | None = None, **spec: Any) -> BoundMetric:
    raw = dict(params or {})
    name = spec.pop("name", kind)
    return BoundMetric(
        MetricSpec(kind, name, raw, threshold=raw.get("threshold"), **spec), Renderer()
    )


def run(bound: BoundMetric, output: str = "out", case: Case | None = None) -> Score:
    sample = Sample(case or Case("c1", {}), output, Completion(output))
    return asyncio.run(bound.score(sample))


def returning(what: str, **params: Any) -> Score:
    return run(bind("t_scoring_returns", {"returns": what, **params}))


def triple(s: Score) -> tuple[float | None, bool | None, str | None]:
    return s.value, s.passed, s.error


# --------------------------------------------------------------------------- results


def test_metrics_are_registered_by_the_decorator() -> None:
    definition = metrics.get("t_scoring_half")
    assert definition.default_threshold == 0.5
    assert definition.params is ReturnsParams
    assert metrics.get("t_scoring_async").is_async
    assert metrics.get("t_scoring_blocking").blocking
    assert {"exact", "contains", "icontains", "regex", "json_valid"} <= set(metrics.names())


def test_bools_and_ints() -> None:
    assert triple(returning("true")) == (1.0, True, None)
    assert triple(returning("false")) == (0.0, False, None)
    assert triple(returning("one")) == (1.0, True, None)
    assert triple(returning("zero")) == (0.0, False, None)


def test_float_fails_below_the_default_threshold_of_one() -> None:
    assert triple(returning("seven_tenths")) == (0.7, False, None)


def test_float_passes_at_the_threshold_exactly() -> None:
    assert triple(returning("seven_tenths", threshold=0.7)) == (0.7, True, None)
    assert triple(returning("seven_tenths", threshold=0.71)) == (0.7, False, None)


def test_metric_default_threshold() -> None:
    assert triple(run(bind("t_scoring_half", {"returns": "seven_tenths"}))) == (0.7, True, None)
    assert triple(run(bind("t_scoring_half", {"returns": "zero"}))) == (0.0, False, None)


def test_bool_ignores_the_threshold() -> None:
    assert triple(returning("false", threshold=0.0)) == (0.0, False, None)


def test_score_results() -> None:
    # The metric's own verdict stands without a threshold ...
    s = returning("score_fail_high")
    assert (s.name, s.value, s.passed, s.reason) == (
        "t_scoring_returns",
        0.9,
        False,
        "judge said no",
    )
    # ... a suite threshold decides when set ...
    assert triple(returning("score_fail_high", threshold=0.8)) == (0.9, True, None)
    # ... and a value without a verdict is judged against the default threshold.
    assert triple(returning("score_value_only")) == (0.6, False, None)
    assert triple(run(bind("t_scoring_half", {"returns": "score_value_only"}))) == (
        0.6,
        True,
        None,
    )


def test_score_error_is_kept_as_an_error() -> None:
    s = returning("score_error")
    assert (s.value, s.passed, s.error, s.reason, s.verdict) == (
        None,
        None,
        "judge unparseable",
        "why",
        "error",
    )


def test_score_without_value_or_verdict_is_an_error_that_says_so() -> None:
    s = returning("score_empty")
    assert triple(s) == (
        None,
        None,
        "metric returned a Score with neither a value nor a verdict",
    )


def test_a_metric_that_raises_gives_an_error_not_a_fail() -> None:
    s = run(bind("t_scoring_raises", weight=2.0))
    assert (s.name, s.value, s.passed, s.error, s.weight) == (
        "t_scoring_raises",
        None,
        None,
        "ValueError: boom",
        2.0,
    )
    assert s.verdict == "error"


@pytest.mark.parametrize(
    ("what", "error"),
    [
        ("text", "metric returned str; return a bool, a float or a Score"),
        ("none", "metric returned NoneType; return a bool, a float or a Score"),
        ("too_big", "score 1.5 is not in [0, 1]"),
        ("negative", "score -0.1 is not in [0, 1]"),
        ("nan", "score nan is not in [0, 1]"),
    ],
)
def test_non_numbers_and_out_of_range_values_are_errors(what: str, error: str) -> None:
    s = returning(what)
    assert triple(s) == (None, None, error)
    assert s.verdict == "error"


def test_async_and_blocking_metrics() -> None:
    assert triple(run(bind("t_scoring_async"), "abc")) == (0.25, False, None)
    assert triple(run(bind("t_scoring_async"), "xyz")) == (1.0, True, None)
    THREADS.clear()
    assert triple(run(bind("t_scoring_blocking"))) == (1.0, True, None)
    assert THREADS and THREADS[0] != threading.main_thread().name


def test_score_takes_the_spec_name_and_weight() -> None:
    s = run(bind("contains", {"value": "o"}, name="has_o", weight=3.0))
    assert (s.name, s.weight, s.passed) == ("has_o", 3.0, True)
    assert s.to_json() == {"value": 1.0, "passed": True, "reason": "found 'o'", "weight": 3.0}


# --------------------------------------------------------------------------- params


def test_static_params_are_validated_once() -> None:
    bound = bind("contains", {"value": "x"})
    assert bound.params_for(Case("a", {})) is bound.params_for(Case("b", {}))


def test_templated_params_render_per_case() -> None:
    bound = bind("t_scoring_word", {"word": "{{ w }}"})
    assert run(bound, "say hello", Case("a", {"w": "hello"})).passed is True
    assert run(bound, "say hello", Case("b", {"w": "bye"})).passed is False


def test_templated_param_that_fails_validation_is_an_error() -> None:
    s = run(bind("t_scoring_word", {"word": "{{ w }}"}), "x", Case("c3", {"w": "a"}))
    assert triple(s) == (
        None,
        None,
        "RenderError: case 'c3', metric 't_scoring_word': parameter word: "
        "String should have at least 2 characters",
    )


def test_templated_param_with_undefined_variable_is_an_error() -> None:
    s = run(bind("contains", {"value": "{{ city }}"}), "Rome", Case("c4", {}))
    assert triple(s) == (
        None,
        None,
        "RenderError: case 'c4', metric 'contains': template contains.value:1: undefined "
        "variable 'city'; add it to the case's vars or fix the template",
    )


def test_templates_in_nested_params_are_rendered() -> None:
    bound = bind("t_scoring_all", {"words": ["{{ a }}", "fixed"], "labels": {"k": "{{ b }}"}})
    case = Case("c", {"a": "one", "b": "two"})
    assert run(bound, "one fixed two", case).passed is True
    assert run(bound, "one fixed", case).passed is False
    broken = run(bound, "x", Case("c5", {"a": "one"}))
    assert broken.error is not None
    assert "template t_scoring_all.labels.k:1: undefined variable 'b'" in broken.error


# --------------------------------------------------------------------------- case verdicts


def s(passed: bool | None, value: float | None = None, weight: float = 1.0) -> Score:
    if passed is None:
        return Score("m", None, None, error="broke", weight=weight)
    return Score("m", float(passed) if value is None else value, passed, weight=weight)


def test_case_passed_without_threshold() -> None:
    assert case_passed([]) is None
    assert case_passed([s(True), s(True)]) is True
    assert case_passed([s(True), s(False)]) is False
    # A fail beats an error; an error alone leaves the case without a verdict.
    assert case_passed([s(None), s(False)]) is False
    assert case_passed([s(True), s(None)]) is None


def test_case_passed_with_weighted_threshold() -> None:
    scores = [s(True, 1.0, weight=3.0), s(False, 0.0, weight=1.0)]  # weighted mean 0.75
    assert case_passed(scores, threshold=0.75) is True
    assert case_passed(scores, threshold=0.76) is False
    swapped = [s(True, 1.0, weight=1.0), s(False, 0.0, weight=3.0)]  # weighted mean 0.25
    assert case_passed(swapped, threshold=0.5) is False
    assert case_passed([s(True, 1.0), s(None)], threshold=0.1) is None
    assert case_passed([s(True, 1.0, weight=0.0)], threshold=0.5) is None


def test_score_all_keeps_the_metric_order_and_names() -> None:
    bound = [
        bind("contains", {"value": "a"}),
        bind("t_scoring_async"),
        bind("t_scoring_raises"),
        bind("icontains", {"value": "A"}, name="upper_a"),
    ]
    sample = Sample(Case("c", {}), "abc", Completion("abc"))
    scores = asyncio.run(score_all(bound, sample))
    assert list(scores) == ["contains", "t_scoring_async", "t_scoring_raises", "upper_a"]
    assert [x.verdict for x in scores.values()] == ["pass", "fail", "error", "pass"]
    sync_only = asyncio.run(score_all(bound[:1], sample))
    assert list(sync_only) == ["contains"]
