"""Operational metrics: latency, cost, tokens; an unknown figure is an error, never a pass."""

from __future__ import annotations

import pytest

from promptbench.types import Completion, Usage
from tests.metrics.helpers import parse, score, verdict


def took(ms: float) -> Completion:
    return Completion("ok", latency_ms=ms)


def used(prompt: int, completion: int) -> Completion:
    return Completion("ok", usage=Usage(prompt, completion))


# --------------------------------------------------------------------------- latency


def test_latency_pass_fail_and_the_bound_is_inclusive() -> None:
    assert verdict(score("latency", {"max_ms": 1000}, "ok", completion=took(812.4))) == (
        1.0,
        True,
        "812 ms <= 1000 ms",
    )
    assert verdict(score("latency", {"max_ms": 1000}, "ok", completion=took(1000.0))) == (
        1.0,
        True,
        "1000 ms <= 1000 ms",
    )
    assert verdict(score("latency", {"max_ms": 1000}, "ok", completion=took(1500.2))) == (
        0.0,
        False,
        "1500 ms > 1000 ms",
    )


def test_latency_shorthand_and_validation() -> None:
    spec, issues = parse("- latency: 2000\n")
    assert issues == [] and spec is not None
    assert dict(spec.params) == {"max_ms": 2000}
    assert parse("- latency: 0\n")[1] == [
        "suite.yaml:1:12: [0].latency.max_ms: input should be greater than 0 (got 0)"
    ]


# --------------------------------------------------------------------------- cost


def test_cost_pass_and_fail() -> None:
    assert verdict(score("cost", {"max_usd": 0.01}, "ok", cost=0.0042)) == (
        1.0,
        True,
        "$0.004200 <= $0.01",
    )
    assert verdict(score("cost", {"max_usd": 0.001}, "ok", cost=0.0042)) == (
        0.0,
        False,
        "$0.004200 > $0.001",
    )
    assert score("cost", {"max_usd": 0}, "ok", cost=0.0).passed is True


def test_unknown_cost_is_an_error_not_a_pass() -> None:
    s = score("cost", {"max_usd": 1.0}, "ok", cost=None)
    assert (s.value, s.passed, s.verdict) == (None, None, "error")
    assert s.error == "the call's cost is unknown; give the model a price: {input: .., output: ..}"


def test_cost_shorthand() -> None:
    spec, issues = parse("- cost: 0.002\n")
    assert issues == [] and spec is not None
    assert dict(spec.params) == {"max_usd": 0.002}
    assert parse("- cost: -1\n")[1] == [
        "suite.yaml:1:9: [0].cost.max_usd: input should be greater than or equal to 0 (got -1)"
    ]


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize(
    ("params", "usage", "expected"),
    [
        ({"max_total": 100}, (60, 40), (1.0, True, "total 100 <= 100")),
        ({"max_total": 99}, (60, 40), (0.0, False, "total 100 > 99")),
        ({"max_completion": 50}, (500, 40), (1.0, True, "completion 40 <= 50")),
        ({"max_completion": 30}, (5, 40), (0.0, False, "completion 40 > 30")),
        ({"max_prompt": 10}, (11, 1), (0.0, False, "prompt 11 > 10")),
        (
            {"max_prompt": 100, "max_completion": 10, "max_total": 105},
            (90, 20),
            (0.0, False, "completion 20 > 10; total 110 > 105"),
        ),
        (
            {"max_prompt": 100, "max_completion": 30},
            (90, 20),
            (1.0, True, "prompt 90 <= 100; completion 20 <= 30"),
        ),
    ],
)
def test_tokens_bounds(
    params: dict[str, int], usage: tuple[int, int], expected: tuple[float, bool, str]
) -> None:
    assert verdict(score("tokens", params, "ok", completion=used(*usage))) == expected


def test_tokens_without_reported_usage_is_an_error() -> None:
    s = score("tokens", {"max_total": 10}, "ok", completion=used(0, 0))
    assert (s.value, s.passed, s.error) == (None, None, "the provider reported no token usage")


def test_tokens_needs_a_bound() -> None:
    assert parse("- tokens: {}\n")[1] == [
        "suite.yaml:1:11: [0].tokens: value error, give max_prompt, max_completion or max_total"
    ]
    spec, issues = parse("- tokens: 512\n")
    assert issues == [] and spec is not None
    assert dict(spec.params) == {"max_total": 512}
