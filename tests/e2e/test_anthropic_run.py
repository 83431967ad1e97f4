"""``promptbench run`` with anthropic models: the CLI, the real SDK, Anthropic's wire format.

Nothing is monkeypatched between the command and the socket: the suite names
``provider: anthropic`` with a ``base_url`` on loopback, and the server speaks
the Messages API (its headers, bodies, error bodies and statuses).
"""

from __future__ import annotations

import pytest

from promptbench.providers.pricing import ANTHROPIC_PRICES
from promptbench.testing.anthropic_server import AnthropicServer
from tests.helpers.e2e import invoke, no_traceback, qa_cases
from tests.helpers.hosted import (
    ANTHROPIC_KEY,
    anthropic_model,
    leaked,
)
from tests.helpers.project import Project

pytestmark = pytest.mark.usefixtures("hosted_env")


def suite(url: str, **extra: object) -> dict[str, object]:
    return {
        "name": "claude-e2e",
        "prompts": {"chat": {"system": "Repeat the question.", "user": "Q: {{ q }}"}},
        "models": {"claude": anthropic_model(url)},
        "cases": qa_cases(3),
        "metrics": [{"exact": "Q: {{ q }}"}],
        **extra,
    }


def test_a_run_records_output_usage_and_cost(
    anthropic_server: AnthropicServer, project: Project
) -> None:
    result = invoke("run", str(project.suite(suite(anthropic_server.url))), "-q")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    recs = sorted(project.records(), key=lambda r: r["case_id"])
    assert [r["output"] for r in recs] == ["Q: q1", "Q: q2", "Q: q3"]
    assert all(r["passed"] and r["finish_reason"] == "stop" for r in recs)
    # The server counts words: "Repeat the question." + "Q: qN" in, "Q: qN" out.
    assert all(
        r["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7} for r in recs
    )
    price_in, price_out = ANTHROPIC_PRICES["claude-haiku-4-5"]
    expected = (5 * price_in + 2 * price_out) / 1e6
    assert all(r["cost"] == pytest.approx(expected) for r in recs)
    bodies = [r["body"] for r in anthropic_server.requests()]
    assert all(b["system"] == "Repeat the question." for b in bodies)
    assert all(b["max_tokens"] == 1024 for b in bodies)


def test_429_and_529_are_retried(anthropic_server: AnthropicServer, project: Project) -> None:
    anthropic_server.configure(rules=[{"match": "q2", "faults": ["429", "529"]}])
    result = invoke("run", str(project.suite(suite(anthropic_server.url))), "-q")
    assert result.exit_code == 0, result.output
    by_case = {r["case_id"]: r for r in project.records()}
    assert by_case["q2"]["output"] == "Q: q2" and by_case["q2"]["error"] is None
    assert by_case["q2"]["retries"] == 2
    assert anthropic_server.stats()["by_outcome"] == {"ok": 3, "429": 1, "529": 1}


def test_a_401_is_recorded_once_with_the_key_masked(
    anthropic_server: AnthropicServer, project: Project
) -> None:
    # The fault echoes the key it was sent, as some gateways do.
    anthropic_server.configure(rules=[{"match": "q1", "faults": ["401", "401"]}])
    result = invoke("run", str(project.suite(suite(anthropic_server.url))), "-q")
    no_traceback(result)
    assert result.exit_code == 3  # one call in three failed: too many errors for a verdict
    by_case = {r["case_id"]: r for r in project.records()}
    error = by_case["q1"]["error"]
    assert (error["kind"], error["status"]) == ("auth", 401)
    assert "[redacted]" in error["message"]
    assert by_case["q1"]["retries"] == 0
    assert anthropic_server.stats()["by_prompt"]["Q: q1"] == 1  # not retried
    assert leaked(project.root) == []
    assert ANTHROPIC_KEY not in result.output


def test_a_claude_model_can_judge(anthropic_server: AnthropicServer, project: Project) -> None:
    verdict = '{"reasoning": "It repeats the question.", "verdict": "pass"}'
    anthropic_server.configure(rules=[{"match": "[Rubric]", "reply": verdict}])
    data = suite(
        anthropic_server.url,
        models={
            "claude": anthropic_model(anthropic_server.url),
            "grader": anthropic_model(
                anthropic_server.url, model="claude-sonnet-4-5", judge_only=True
            ),
        },
        metrics=[{"judge": {"rubric": "Does it repeat the question?", "model": "grader"}}],
    )
    result = invoke("run", str(project.suite(data)), "-q")
    assert result.exit_code == 0, result.output
    recs = project.records()
    assert {r["model"] for r in recs} == {"claude"}
    for r in recs:
        score = r["scores"]["judge"]
        assert score["passed"] is True and score["details"]["judge"] == "grader"
    judged = [
        r["body"] for r in anthropic_server.requests() if r["body"]["model"] == "claude-sonnet-4-5"
    ]
    assert len(judged) == 3
    # The judge's schema went as a structured output; its temperature was not sent.
    assert all(b["output_config"]["format"]["type"] == "json_schema" for b in judged)
    assert all("temperature" not in b for b in judged)


def test_temperature_on_an_anthropic_model_is_refused_before_any_call(
    anthropic_server: AnthropicServer, project: Project
) -> None:
    data = suite(
        anthropic_server.url,
        models={"claude": anthropic_model(anthropic_server.url, temperature=0)},
    )
    result = invoke("run", str(project.suite(data)), "-q")
    no_traceback(result)
    assert result.exit_code == 2
    assert "temperature" in result.output and "suite.yaml" in result.output
    assert anthropic_server.requests() == []
    assert project.runs == []


def test_a_missing_key_stops_the_run_before_any_call(
    anthropic_server: AnthropicServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = invoke("run", str(project.suite(suite(anthropic_server.url))), "-q")
    no_traceback(result)
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.output
    assert anthropic_server.requests() == []
