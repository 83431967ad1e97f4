"""run --baseline B --sequential: random order, stop once settled, say how many cases it took."""

from __future__ import annotations

from tests.helpers.e2e import invoke, latest_run, no_traceback, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

N = 300


def suite_at(project: Project, url: str) -> str:
    suite = {
        "name": "seq",
        "prompts": {"p": "Answer yes: {{ q }}"},
        "models": {"loop": openai_model(url)},
        "cases": qa_cases(N),
        "metrics": [{"exact": "yes"}],
        "concurrency": 4,
    }
    return str(project.suite(suite))


def answer_right(loopback: LoopbackServer, p: float, seed: int) -> None:
    rule = {"match": "Answer yes", "p_correct": p, "correct": "yes", "wrong": "no"}
    loopback.configure(seed=seed, rules=[rule])


def baseline(project: Project, loopback: LoopbackServer) -> str:
    answer_right(loopback, 0.9, seed=1)
    path = suite_at(project, loopback.url)
    assert invoke("run", path, "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    return path


def test_a_real_drop_stops_early_with_a_regression(
    project: Project, loopback: LoopbackServer
) -> None:
    path = baseline(project, loopback)
    answer_right(loopback, 0.5, seed=2)
    result = invoke("run", path, "--baseline", "base.json", "--sequential", "--no-cache")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    recs = records(latest_run(project))
    assert len(recs) < N / 2  # stopped long before the end
    ids = [r["case_id"] for r in recs]
    assert ids[:5] != ["q1", "q2", "q3", "q4", "q5"]  # a random order
    meta = project.meta(latest_run(project))
    seq = meta["sequential"]
    assert seq["verdict"] == "regression" and seq["settled"]
    assert seq["cases_needed"] <= len(recs) and seq["cases_available"] == N
    assert seq["stopped_because"] == "a check found a regression"
    assert meta["stopped_early"] == "sequential verdict: regression"
    assert meta["status"] == "finished"
    assert "sequential check: a regression" in result.stdout


def test_no_change_runs_every_case_and_passes(project: Project, loopback: LoopbackServer) -> None:
    path = baseline(project, loopback)
    answer_right(loopback, 0.9, seed=3)
    result = invoke("run", path, "--baseline", "base.json", "--sequential", "--no-cache", "-q")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert len(records(latest_run(project))) == N
    seq = project.meta(latest_run(project))["sequential"]
    assert seq["verdict"] == "no regression shown" and not seq["settled"]
    assert seq["cases_run"] == N


def test_sequential_needs_a_baseline(project: Project, loopback: LoopbackServer) -> None:
    result = invoke("run", suite_at(project, loopback.url), "--sequential")
    assert result.exit_code == 2
    assert "--sequential needs --baseline" in result.stderr
    assert loopback.stats()["requests"] == 0
