"""Model-graded metrics, end to end: the judge is a real HTTP model (the loopback server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptbench.errors import MetricError
from promptbench.metrics.judge import FACTUALITY_SCORES, parse_json_answer
from tests.helpers.e2e import run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

JUDGE_MARK = "[Rubric]"  # every judge prompt holds it; the answers are scripted on it


def judged_suite(
    url: str, metric: dict[str, Any], *, cases: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": "judged",
        "prompts": {"p": "{{ q }}"},
        "models": {
            "subject": openai_model(url),
            "grader": {**openai_model(url), "model": "grader", "judge_only": True},
        },
        "cases": cases or [{"id": "a", "q": "hello there"}],
        "metrics": [metric],
        **extra,
    }


def verdict(reasoning: str, **fields: Any) -> str:
    return json.dumps({"reasoning": reasoning, **fields})


def test_judge_pass_and_fail_with_reasoning_kept(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(
        record_requests=10,
        rules=[
            {"match": "[Output]\nhello there", "reply": verdict("polite", verdict="pass")},
            {"match": "[Output]\nrude", "reply": verdict("rude", verdict="fail")},
        ],
    )
    path = project.suite(
        judged_suite(
            loopback.url,
            {"judge": {"rubric": "Is the reply polite to {{ q }}?", "model": "grader"}},
            cases=[{"id": "a", "q": "hello there"}, {"id": "b", "q": "rude"}],
        )
    )
    result, _ = run(path)
    records = {r["case_id"]: r for r in project.records()}
    assert set(records) == {"a", "b"}  # the judge_only model was not evaluated itself
    a, b = records["a"]["scores"]["judge"], records["b"]["scores"]["judge"]
    assert (a["value"], a["passed"], a["reason"]) == (1.0, True, "polite")
    assert (b["value"], b["passed"], b["reason"]) == (0.0, False, "rude")
    assert a["details"] == {
        "judge": "grader",
        "raw": verdict("polite", verdict="pass"),
        "reasoning": "polite",
    }
    # The judge was asked for structured output, at temperature 0, with the rubric rendered.
    judge_calls = [r["body"] for r in loopback.requests() if r["body"]["model"] == "grader"]
    assert len(judge_calls) == 2
    fmt = judge_calls[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["reasoning", "verdict"]
    assert judge_calls[0]["temperature"] == 0
    assert (
        "[Rubric]\nIs the reply polite to hello there?" in judge_calls[0]["messages"][-1]["content"]
        or "[Rubric]\nIs the reply polite to rude?" in judge_calls[0]["messages"][-1]["content"]
    )
    assert result.summary.groups[("p", "subject")].metrics["judge"].mean == 0.5


def test_unparseable_judge_answer_is_an_error_not_a_fail(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(rules=[{"match": JUDGE_MARK, "reply": "I think it is fine."}])
    path = project.suite(
        judged_suite(loopback.url, {"judge": {"rubric": "ok?", "model": "grader"}})
    )
    result, _ = run(path)
    score = project.records()[0]["scores"]["judge"]
    assert score["passed"] is None and score["value"] is None
    assert score["error"] == "the judge's answer is not a JSON object"
    assert score["details"]["raw"] == "I think it is fine."
    group = result.summary.groups[("p", "subject")]
    assert group.metrics["judge"].errors == 1
    assert group.metrics["judge"].failed == 0
    assert group.metrics["judge"].mean is None  # never NaN, never 0
    assert group.failed == 0 and group.no_verdict == 1


def test_judge_answer_of_the_wrong_shape_is_an_error(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(rules=[{"match": JUDGE_MARK, "reply": verdict("x", verdict="maybe")}])
    path = project.suite(
        judged_suite(loopback.url, {"judge": {"rubric": "ok?", "model": "grader"}})
    )
    run(path)
    score = project.records()[0]["scores"]["judge"]
    assert score["error"].startswith("the judge's answer does not fit: verdict 'maybe'")


def test_judge_on_a_scale(project: Project, loopback: LoopbackServer) -> None:
    loopback.configure(rules=[{"match": JUDGE_MARK, "replies": [verdict("good", score=4)]}])
    path = project.suite(
        judged_suite(loopback.url, {"judge": {"rubric": "quality", "model": "grader", "scale": 5}})
    )
    run(path)
    score = project.records()[0]["scores"]["judge"]
    assert score["value"] == 0.75 and score["passed"] is True
    assert score["reason"] == "4/5: good"


def test_judge_calls_are_cached(project: Project, loopback: LoopbackServer) -> None:
    loopback.configure(rules=[{"match": JUDGE_MARK, "reply": verdict("ok", verdict="pass")}])
    path = project.suite(
        judged_suite(
            loopback.url,
            {"judge": {"rubric": "ok?", "model": "grader"}},
            cases=[{"id": f"c{i}", "q": f"q{i}"} for i in range(4)],
        )
    )
    run(path)
    first = loopback.stats()["requests"]
    assert first == 8  # 4 answers, 4 judgements
    run(path)
    assert loopback.stats()["requests"] == first
    assert all(r["scores"]["judge"]["passed"] for r in project.records())


def test_failing_judge_call_is_an_error_after_retries(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(rules=[{"match": JUDGE_MARK, "faults": ["400"]}])
    path = project.suite(
        judged_suite(loopback.url, {"judge": {"rubric": "ok?", "model": "grader"}})
    )
    run(path)
    record = project.records()[0]
    assert record["error"] is None  # the subject's call was fine
    assert record["scores"]["judge"]["error"].startswith("the judge call failed: HTTP 400")


def test_closedqa(project: Project, loopback: LoopbackServer) -> None:
    loopback.configure(
        record_requests=5,
        rules=[{"match": "[Criterion]", "reply": verdict("cites it", answer="Y")}],
    )
    path = project.suite(
        judged_suite(
            loopback.url, {"closedqa": {"criteria": "Mentions {{ q }}", "model": "grader"}}
        )
    )
    run(path)
    score = project.records()[0]["scores"]["closedqa"]
    assert (score["value"], score["passed"]) == (1.0, True)
    prompt = next(r for r in loopback.requests() if r["body"]["model"] == "grader")["body"]
    text = prompt["messages"][-1]["content"]
    assert "[Task]: hello there" in text and "[Criterion]: Mentions hello there" in text
    assert "[Submission]: hello there" in text


@pytest.mark.parametrize(
    ("choice", "passed"), [("A", False), ("B", True), ("C", True), ("D", False), ("E", True)]
)
def test_factuality_choices(
    project: Project, loopback: LoopbackServer, choice: str, passed: bool
) -> None:
    loopback.configure(rules=[{"match": "[Expert]", "reply": verdict("r", answer=f"({choice})")}])
    path = project.suite(
        judged_suite(
            loopback.url,
            {"factuality": {"model": "grader"}},
            cases=[{"id": "a", "q": "Capital of France?", "expected": "Paris"}],
        )
    )
    run(path)
    score = project.records()[0]["scores"]["factuality"]
    assert score["value"] == FACTUALITY_SCORES[choice]
    assert score["passed"] is passed


def test_judge_must_name_a_model_of_the_suite(project: Project) -> None:
    from promptbench.errors import SuiteError
    from promptbench.suite import load_suite

    path = project.suite(
        judged_suite("http://127.0.0.1:9/v1", {"judge": {"rubric": "ok?", "model": "gradr"}})
    )
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value).endswith(
        "metrics[0].judge.model: no model named 'gradr' in the suite; did you mean 'grader'?"
    )


def test_parse_json_answer() -> None:
    assert parse_json_answer('{"verdict": "pass"}') == {"verdict": "pass"}
    assert parse_json_answer('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_answer('Sure! {"a": 1} hope that helps') == {"a": 1}
    with pytest.raises(MetricError):
        parse_json_answer("[1, 2]")
    with pytest.raises(MetricError):
        parse_json_answer("pass")


def test_a_judge_sees_a_turns_conversation_and_tool_calls_or_an_argument(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(
        record_requests=20,
        rules=[{"match": JUDGE_MARK, "reply": verdict("fine", verdict="pass")}],
    )
    suite = {
        "name": "judged-agent",
        "prompts": {
            "agent": {
                "system": "You are a weather bot.",
                "user": "Hello!",
                "turns": ["Weather in {{ city }}?"],
                "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
                "tool_results": {"get_weather": "rain"},
            }
        },
        "models": {
            "bot": {
                "provider": "mock",
                "tool_calls": {"Weather": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]},
                "answers": {"Hello": "Hi!", "rain": "It rains."},
            },
            "grader": {**openai_model(loopback.url), "model": "grader", "judge_only": True},
        },
        "cases": [{"id": "a", "city": "Oslo"}],
        "metrics": [
            {"judge": {"rubric": "Is it right?", "model": "grader"}},
            {
                "judge": {
                    "rubric": "Is it a city?",
                    "model": "grader",
                    "name": "arg_judge",
                    "target": {"tool": "get_weather", "arg": "city"},
                }
            },
        ],
    }
    run(project.suite(suite))
    (record,) = project.records()
    assert record["passed"] is True, record["scores"]
    asked = [r["body"]["messages"][-1]["content"] for r in loopback.requests()]
    last_turn = next(a for a in asked if "Is it right?" in a)
    # The judge of the last turn sees the conversation before it, the reply and the calls.
    assert "[user] Hello!\n\n[assistant] Hi!\n\n[user] Weather in Oslo?" in last_turn
    assert "[Output]\nIt rains." in last_turn
    assert '[Tool calls made]\nget_weather({"city": "Oslo"})' in last_turn
    arg = next(a for a in asked if "Is it a city?" in a)
    assert "[Output]\nOslo" in arg
