"""One completion path for cases and judges: cache, call, cost, over HTTP to the loopback server.

Usage is scripted on the server, so every cost here is known in advance: the
subject answers with 1,000 + 100 tokens at $1 / $2 per million ($0.0012), the
judge with 2,000 + 50 tokens at $3 / $4 per million ($0.0062).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from promptbench.errors import UsageError
from promptbench.runner import Runner, RunOptions
from promptbench.suite import load_suite
from tests.helpers.e2e import invoke, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

JUDGE_MARK = "[Rubric]"
ANSWER_COST = (1000 * 1.0 + 100 * 2.0) / 1e6
JUDGE_COST = (2000 * 3.0 + 50 * 4.0) / 1e6


def _configure(loopback: LoopbackServer) -> None:
    loopback.configure(
        rules=[
            {
                "match": JUDGE_MARK,
                "reply": json.dumps({"reasoning": "fine", "verdict": "pass"}),
                "usage": {"prompt_tokens": 2000, "completion_tokens": 50},
            },
            {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}},
        ]
    )


def _suite(url: str, n: int, *, judged: bool = True) -> dict[str, Any]:
    metrics: list[Any] = [{"contains": "{{ q }}"}]
    if judged:
        metrics.append({"judge": {"rubric": "Is it fine?", "model": "grader"}})
    return {
        "name": "costs",
        "prompts": {"p": "{{ q }}"},
        "models": {
            "subject": openai_model(url, price={"input": 1.0, "output": 2.0}),
            "grader": {
                **openai_model(url, price={"input": 3.0, "output": 4.0}),
                "model": "grader",
                "judge_only": True,
            },
        },
        "cases": [{"id": f"c{i}", "q": f"question {i}"} for i in range(n)],
        "metrics": metrics,
    }


def test_judges_costs_are_in_the_records_cost(project: Project, loopback: LoopbackServer) -> None:
    _configure(loopback)
    path = project.suite(_suite(loopback.url, 3))
    result, _ = run(path, max_cost=1.0)
    rows = records(result)
    assert len(rows) == 3
    for r in rows:
        assert r["scores"]["judge"]["passed"] is True
        assert r["cost"] == pytest.approx(ANSWER_COST + JUDGE_COST)
        assert r["cost_saved"] == 0
        assert r["cached"] is False
    group = result.summary.groups[("p", "subject")]
    assert group.cost == pytest.approx(3 * (ANSWER_COST + JUDGE_COST))
    # The budget counted the same calls: the records' cost is what was spent.
    budget = result.info.meta.budget
    assert budget is not None
    spent = budget.spent
    assert spent == pytest.approx(sum(r["cost"] for r in rows), abs=1e-6)


def test_a_fully_cached_rerun_spends_nothing_and_says_what_the_cache_saved(
    project: Project, loopback: LoopbackServer
) -> None:
    _configure(loopback)
    path = project.suite(_suite(loopback.url, 3))
    first, _ = run(path, max_cost=1.0)
    calls = loopback.stats()["requests"]
    assert calls == 6  # three answers, three judgements

    again, _ = run(path, max_cost=1.0)
    assert loopback.stats()["requests"] == calls  # nothing was sent
    rows = records(again)
    for r in rows:
        assert r["cached"] is True
        assert r["cost"] == 0
        assert r["cost_saved"] == pytest.approx(ANSWER_COST + JUDGE_COST)
    group = again.summary.groups[("p", "subject")]
    assert group.cost == 0
    assert group.cost_saved == pytest.approx(3 * (ANSWER_COST + JUDGE_COST))
    assert again.info.meta.budget is not None and again.info.meta.budget.spent == 0
    summary = again.summary.to_json()["groups"][0]
    assert (summary["cost"], summary["cost_saved"]) == (0, pytest.approx(group.cost_saved))
    # A gate on total_cost judges what the calls cost, whatever the cache held.
    first_group = first.summary.groups[("p", "subject")]
    assert group.figure("total_cost") == pytest.approx(first_group.figure("total_cost"))


def test_a_cached_answer_still_pays_for_a_judge_that_is_not_cached(
    project: Project, loopback: LoopbackServer
) -> None:
    _configure(loopback)
    run(project.suite(_suite(loopback.url, 2, judged=False)))
    result, _ = run(project.suite(_suite(loopback.url, 2)))
    for r in records(result):
        assert r["cached"] is True
        assert r["cost"] == pytest.approx(JUDGE_COST)  # the judgement was a real call
        assert r["cost_saved"] == pytest.approx(ANSWER_COST)


def test_the_cost_metric_sees_the_answers_price_even_when_cached(
    project: Project, loopback: LoopbackServer
) -> None:
    _configure(loopback)
    suite = _suite(loopback.url, 1, judged=False)
    suite["metrics"] = [{"cost": {"max_usd": ANSWER_COST / 2}}]
    path = project.suite(suite)
    for _ in range(2):  # the second run is answered by the cache
        result, _ = run(path)
        (row,) = records(result)
        assert row["scores"]["cost"]["passed"] is False


def test_a_cached_run_shows_what_the_cache_saved(
    project: Project, loopback: LoopbackServer
) -> None:
    _configure(loopback)
    path = project.suite(_suite(loopback.url, 2))
    assert invoke("run", str(path), "-q").exit_code == 0
    shown = invoke("run", str(path))
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "2 of 2 answers from the cache, which saved $0.0148" in text


def test_a_spending_limit_without_prices_names_no_flag(project: Project) -> None:
    path = project.suite(
        {
            "name": "unpriced",
            "prompts": {"p": "{{ q }}"},
            "models": {"loop": openai_model("http://127.0.0.1:9/v1")},
            "cases": [{"id": "a", "q": "x"}],
        }
    )
    with pytest.raises(UsageError) as caught:
        Runner(load_suite(path), RunOptions(max_cost=1.0))
    assert "a spending limit needs a price for every model" in str(caught.value)
    assert "--" not in str(caught.value)  # a Python API user has no flags
    assert caught.value.hint == "max_cost"  # the CLI shows --max-cost
