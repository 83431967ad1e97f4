"""``promptbench run`` with gemini and azure models: the CLI, the real SDKs, each API's wire format.

The same checks for both providers, each against its own loopback server: the
records (output, usage, cost), a retry on a 429 and a 503, a 401 recorded once
with the key masked, and a model of the provider grading as a judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from promptbench.providers.pricing import GEMINI_PRICES, OPENAI_PRICES
from promptbench.testing.wire import WireServer
from tests.helpers.e2e import invoke, no_traceback, qa_cases
from tests.helpers.hosted import AZURE_KEY, GEMINI_KEY, azure_model, gemini_model, leaked
from tests.helpers.project import Project

pytestmark = pytest.mark.usefixtures("hosted_env")


@dataclass(frozen=True)
class Host:
    """One provider under test: its server fixture, model entries, key and list price."""

    server: str
    model: Callable[..., dict[str, Any]]
    key: str
    price: tuple[float, float]
    judge: dict[str, Any]  # what makes a second model entry of the provider


HOSTS = {
    "gemini": Host(
        "gemini_server",
        gemini_model,
        GEMINI_KEY,
        GEMINI_PRICES["gemini-2.5-flash"],
        {"model": "gemini-2.5-pro"},
    ),
    "azure": Host(
        "azure_server",
        lambda url, **f: azure_model(url, model="gpt-4o-mini", **f),
        AZURE_KEY,
        OPENAI_PRICES["gpt-4o-mini"],
        {"deployment": "grader"},
    ),
}


@pytest.fixture(params=sorted(HOSTS))
def host(request: pytest.FixtureRequest) -> tuple[Host, WireServer]:
    spec = HOSTS[request.param]
    server: WireServer = request.getfixturevalue(spec.server)
    return spec, server


def suite(spec: Host, url: str, **extra: object) -> dict[str, object]:
    return {
        "name": "hosted-e2e",
        "prompts": {"chat": {"system": "Repeat the question.", "user": "Q: {{ q }}"}},
        "models": {"m": spec.model(url)},
        "cases": qa_cases(3),
        "metrics": [{"exact": "Q: {{ q }}"}],
        **extra,
    }


def test_a_run_records_output_usage_and_cost(
    host: tuple[Host, WireServer], project: Project
) -> None:
    spec, server = host
    result = invoke("run", str(project.suite(suite(spec, server.url))), "-q")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    recs = sorted(project.records(), key=lambda r: r["case_id"])
    assert [r["output"] for r in recs] == ["Q: q1", "Q: q2", "Q: q3"]
    assert all(r["passed"] and r["finish_reason"] == "stop" for r in recs)
    # The server counts words: "Repeat the question." + "Q: qN" in, "Q: qN" out.
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert all(r["usage"] == usage for r in recs)
    expected = (5 * spec.price[0] + 2 * spec.price[1]) / 1e6
    assert all(r["cost"] == pytest.approx(expected) for r in recs)


def test_a_429_and_a_503_are_retried(host: tuple[Host, WireServer], project: Project) -> None:
    spec, server = host
    server.configure(rules=[{"match": "q2", "faults": ["429:0.1", "503"]}])
    result = invoke("run", str(project.suite(suite(spec, server.url))), "-q")
    assert result.exit_code == 0, result.output
    by_case = {r["case_id"]: r for r in project.records()}
    assert by_case["q2"]["output"] == "Q: q2" and by_case["q2"]["retries"] == 2
    assert server.stats()["by_outcome"] == {"ok": 3, "429": 1, "503": 1}


def test_a_401_is_recorded_once_with_the_key_masked(
    host: tuple[Host, WireServer], project: Project
) -> None:
    spec, server = host
    server.configure(rules=[{"match": "q1", "faults": ["401", "401"]}])
    result = invoke("run", str(project.suite(suite(spec, server.url))), "-q")
    no_traceback(result)
    assert result.exit_code == 3  # one call in three failed: too many errors for a verdict
    by_case = {r["case_id"]: r for r in project.records()}
    error = by_case["q1"]["error"]
    assert (error["kind"], error["status"], by_case["q1"]["retries"]) == ("auth", 401, 0)
    assert "[redacted]" in error["message"]
    assert server.stats()["by_prompt"]["Q: q1"] == 1
    assert leaked(project.root) == []
    assert spec.key not in result.output


def test_a_model_of_the_provider_can_judge(host: tuple[Host, WireServer], project: Project) -> None:
    spec, server = host
    verdict = '{"reasoning": "It repeats the question.", "verdict": "pass"}'
    server.configure(rules=[{"match": "[Rubric]", "reply": verdict}])
    data = suite(
        spec,
        server.url,
        models={
            "m": spec.model(server.url),
            "grader": {**spec.model(server.url), **spec.judge, "judge_only": True},
        },
        metrics=[{"judge": {"rubric": "Does it repeat the question?", "model": "grader"}}],
    )
    result = invoke("run", str(project.suite(data)), "-q")
    assert result.exit_code == 0, result.output
    recs = project.records()
    assert len(recs) == 3
    for r in recs:
        assert r["scores"]["judge"]["passed"] is True
        assert r["scores"]["judge"]["details"]["judge"] == "grader"
    judged = [r for r in server.requests() if "[Rubric]" in str(r["body"])]
    assert len(judged) == 3
