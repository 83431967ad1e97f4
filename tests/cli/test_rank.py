"""promptbench rank: best first, intervals, the set as good as the best, cost beside each."""

from __future__ import annotations

import json

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model


def ranked_run(project: Project, loopback: LoopbackServer) -> None:
    loopback.configure(rules=[{"match": "BAD", "reply": "no idea"}])
    suite = echo_suite(
        loopback.url,
        prompts={
            "short": "{{ q }}",
            "long": "please answer this one carefully: {{ q }}",
            "bad": "BAD {{ q }}",
        },
        models={"loop": openai_model(loopback.url, price={"input": 1e6, "output": 1e6})},
        cases=qa_cases(40),
        metrics=[{"contains": "{{ q }}"}],
    )
    result = invoke("run", str(project.suite(suite)), "-q")
    assert result.exit_code in (0, 1), result.output


def test_rank_orders_settings_and_marks_the_set_as_good_as_the_best(
    project: Project, loopback: LoopbackServer
) -> None:
    ranked_run(project, loopback)
    result = invoke("rank", "latest", "--metric", "contains", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["setting"]: r for r in data["rows"]}
    assert [r["setting"] for r in data["rows"]][-1] == "bad × loop"
    assert sorted(data["best_set"]) == ["long × loop", "short × loop"]
    assert rows["bad × loop"]["mean"] == 0.0 and not rows["bad × loop"]["in_best_set"]
    assert rows["short × loop"]["cost_per_call"] < rows["long × loop"]["cost_per_call"]
    assert data["cheapest_in_best_set"] == "short × loop"
    assert rows["short × loop"]["latency_p50_ms"] is not None
    assert data["n_cases"] == 40 and "confidence set" in data["method"]


def test_rank_table_and_markdown(project: Project, loopback: LoopbackServer) -> None:
    ranked_run(project, loopback)
    md = project.root / "rank.md"
    result = invoke("rank", "--metric", "contains", "--markdown", str(md))
    assert result.exit_code == 0, result.output
    assert "as good as best" in result.stdout and "cheapest in the set: short × loop" in (
        result.stdout.replace("\n", " ")
    )
    text = md.read_text(encoding="utf-8")
    assert "| # | setting | mean |" in text
    assert "**short × loop**" in text and "| bad × loop |" in text


def test_rank_an_unknown_metric_is_one_line_and_exit_2(
    project: Project, loopback: LoopbackServer
) -> None:
    ranked_run(project, loopback)
    result = invoke("rank", "--metric", "exactness")
    no_traceback(result)
    assert result.exit_code == 2
    assert "no metric 'exactness' in the run; it has: pass_rate, contains" in result.stderr


def test_diff_best_is_the_ranking(project: Project, loopback: LoopbackServer) -> None:
    ranked_run(project, loopback)
    via_diff = invoke("diff", "latest", "--best", "--metric", "contains", "--json")
    no_traceback(via_diff)
    assert via_diff.exit_code == 0, via_diff.output
    direct = invoke("rank", "latest", "--metric", "contains", "--json")
    assert json.loads(via_diff.stdout) == json.loads(direct.stdout)
    two = invoke("diff", "latest", "latest", "--best")
    assert two.exit_code == 2 and "ONE run" in two.stderr
