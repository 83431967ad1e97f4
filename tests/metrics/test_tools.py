"""Tool-call metrics, and any metric aimed at a tool's arguments or at one turn."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptbench.metrics.base import Sample
from promptbench.types import Case, Completion, Message, ToolCall, split_turns
from tests.metrics.helpers import bind, parse


def call(name: str, args: Any = None, raw: str | None = None, n: int = 0) -> ToolCall:
    return ToolCall.parse(f"c{n}", name, raw if raw is not None else (args or {}))


def sample(*calls: ToolCall, output: str = "", case: Case | None = None) -> Sample:
    return Sample(case or Case("c1", {}), output, Completion(output), tool_calls=calls)


def run(
    kind: str, params: dict[str, Any] | None, s: Sample
) -> tuple[float | None, bool | None, str]:
    got = asyncio.run(bind(kind, params).score(s))
    assert got.error is None, got.error
    return got.value, got.passed, got.reason


# --------------------------------------------------------------------------- tool_called


def test_tool_called_counts_the_calls_of_the_tool() -> None:
    two = sample(call("get_weather"), call("search"), call("get_weather"))
    assert run("tool_called", {"tool": "get_weather"}, two)[1] is True
    assert run("tool_called", {"tool": "get_weather", "times": 2}, two)[1] is True
    value, passed, reason = run("tool_called", {"tool": "get_weather", "times": 1}, two)
    assert (value, passed) == (0.0, False)
    assert "called get_weather 2 times, expected 1" in reason
    assert run("tool_called", {"tool": "get_weather", "max": 1}, two)[1] is False
    assert run("tool_called", {"tool": "book"}, two)[1] is False


def test_tool_called_shorthand_and_bounds_are_checked() -> None:
    spec, issues = parse("- tool_called: get_weather")
    assert spec is not None and spec.params == {"tool": "get_weather"} and not issues
    _, issues = parse("- tool_called: {tool: a, times: 1, min: 1}")
    assert issues and "give times, or min and/or max" in issues[0]


def test_no_tool_call() -> None:
    assert run("no_tool_call", None, sample())[1] is True
    assert run("no_tool_call", None, sample(call("x")))[1] is False
    assert run("no_tool_call", {"tool": "delete"}, sample(call("x")))[1] is True
    assert run("no_tool_call", {"tool": "delete"}, sample(call("delete")))[1] is False


# --------------------------------------------------------------------------- tool_args


def test_tool_args_path_checks_every_call_of_the_tool() -> None:
    s = sample(call("get_weather", {"city": "Paris", "days": 3}))
    assert run("tool_args", {"tool": "get_weather", "path": "city", "equals": "Paris"}, s)[1]
    assert run(
        "tool_args",
        {"path": "days", "equals": "{{ n }}"},
        sample(call("get_weather", {"days": 3}), case=Case("c", {"n": 3})),
    )[1]
    _, passed, reason = run("tool_args", {"path": "city", "equals": "Rome"}, s)
    assert passed is False and "expected" in reason
    assert run("tool_args", {"path": "city", "matches": "^Par"}, s)[1] is True
    _, passed, reason = run("tool_args", {"tool": "book", "path": "city", "exists": True}, s)
    assert passed is False and reason == "no call to book"


def test_tool_args_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7}},
        "required": ["city"],
    }
    good = sample(call("get_weather", {"city": "Paris", "days": 3}))
    assert run("tool_args", {"schema": schema}, good)[1] is True
    _, passed, reason = run(
        "tool_args", {"schema": schema}, sample(call("get_weather", {"days": 9}))
    )
    assert passed is False and "get_weather" in reason


def test_invalid_json_arguments_fail_with_the_raw_text_never_crash() -> None:
    broken = sample(call("get_weather", raw='{"city": Paris'))
    for kind, params in [
        ("tool_args", {"path": "city", "equals": "Paris"}),
        ("tool_args", {"schema": {"type": "object"}}),
        (
            "tool_calls_match",
            {"expected": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        ),
    ]:
        value, passed, reason = run(kind, params, broken)
        assert passed is False and value == 0.0, kind
        assert "not valid JSON" in reason and '{"city": Paris' in reason, reason
    # A metric aimed at the arguments sees the raw text: json_valid fails it.
    value, passed, _ = run("json_valid", {"target": {"tool": "get_weather"}}, broken)
    assert passed is False


def test_parse_rejects_a_tool_args_with_no_check() -> None:
    _, issues = parse("- tool_args: {tool: a}")
    assert issues and "give schema, or path and exactly one of" in issues[0]


# --------------------------------------------------------------------------- tool_calls_match


def test_tool_calls_match_set_scores_f1() -> None:
    made = sample(call("search", {"q": "x"}), call("get_weather", {"city": "Paris", "unit": "C"}))
    want = [{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "book"}]
    value, passed, reason = run("tool_calls_match", {"expected": want}, made)
    # 1 of 2 expected matched among 2 made: precision 0.5, recall 0.5.
    assert value == pytest.approx(0.5) and passed is False
    assert "1 of 2 expected calls matched among 2 made" in reason
    value, passed, _ = run("tool_calls_match", {"expected": want, "threshold": 0.5}, made)
    assert passed is True
    exact = {
        "expected": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        "exact_arguments": True,
    }
    assert run("tool_calls_match", exact, made)[0] == 0.0


def test_tool_calls_match_sequence_needs_the_order() -> None:
    made = sample(call("b"), call("a"))
    want = [{"name": "a"}, {"name": "b"}]
    assert run("tool_calls_match", {"expected": want}, made)[0] == pytest.approx(1.0)
    value, passed, _ = run("tool_calls_match", {"expected": want, "order": "sequence"}, made)
    assert value == pytest.approx(0.5) and passed is False


def test_tool_calls_match_counts_each_call_once() -> None:
    # One call cannot satisfy two expectations: matching, not "any call fits".
    made = sample(call("a", {"x": 1}))
    want = [{"name": "a"}, {"name": "a", "arguments": {"x": 1}}]
    value, _, _ = run("tool_calls_match", {"expected": want}, made)
    assert value == pytest.approx(2 * 1.0 * 0.5 / 1.5)


# --------------------------------------------------------------------------- targets and turns


def test_a_string_metric_can_target_one_argument() -> None:
    s = sample(call("get_weather", {"city": "Paris"}), output="It is sunny")
    assert run("contains", {"value": "Paris", "target": {"tool": "get_weather", "arg": "city"}}, s)[
        1
    ]
    assert run("contains", {"value": "Paris"}, s)[1] is False  # the text by default
    _, passed, reason = run("contains", {"value": "x", "target": {"tool": "book"}}, s)
    assert passed is False and reason == "no call to book to score"
    _, passed, reason = run("contains", {"value": "x", "target": {"arg": "nope"}}, s)
    assert passed is False and "has no argument nope" in reason


def conversation(replies: list[str]) -> Sample:
    prompt = (Message("system", "Be brief."), Message("user", "turn 1"))
    transcript: list[Message] = list(prompt)
    for i, reply in enumerate(replies, 1):
        if i > 1:
            transcript.append(Message("user", f"turn {i}"))
        transcript.append(Message("assistant", reply))
    turns = split_turns(prompt, transcript)
    return Sample(
        Case("c1", {}), replies[-1], Completion(replies[-1]), prompt=tuple(transcript), turns=turns
    )


def test_metrics_score_the_last_turn_a_chosen_turn_or_every_turn() -> None:
    s = conversation(["hello Ana", "bye", "hello again"])
    assert run("contains", {"value": "hello"}, s)[1] is True  # the last turn
    assert run("contains", {"value": "hello", "turn": 2}, s)[1] is False
    value, passed, reason = run("contains", {"value": "hello", "turn": "all"}, s)
    assert passed is False and value == pytest.approx(2 / 3)
    assert reason.startswith("turn 2:")
    assert run("contains", {"value": "e", "turn": "all"}, s)[1] is True


def test_a_turn_that_did_not_take_place_is_an_error_not_a_fail() -> None:
    s = conversation(["hi", "done"])
    got = asyncio.run(bind("contains", {"value": "x", "turn": 3}).score(s))
    assert got.verdict == "error" and "turn 3 did not take place" in (got.error or "")


def test_a_judge_of_a_turn_sees_the_conversation_up_to_it() -> None:
    from promptbench.metrics.scoring import focus

    s = conversation(["one", "two", "three"])
    focused = focus(s, 2)
    assert isinstance(focused, Sample)
    assert focused.output == "two"
    assert [m.content for m in focused.prompt] == ["Be brief.", "turn 1", "one", "turn 2"]
