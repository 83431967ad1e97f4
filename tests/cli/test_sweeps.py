"""Sweeps end to end: a grid's settings in --dry-run (nothing called), in the run, by name."""

from __future__ import annotations

import json

from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model


def sweep_suite(project: Project, url: str) -> str:
    suite = echo_suite(
        url,
        prompts={
            "plain": "Q: {{ q }}",
            "shots": {"user": "{{ 'x ' * n }}Q: {{ q }}", "grid": {"n": [0, 1]}},
        },
        models={
            "loop": {
                **openai_model(url, price={"input": 1_000_000, "output": 1_000_000}),
                "grid": {"temperature": [0, 0.5], "max_tokens": [4]},
            }
        },
        metrics=[{"contains": "Q: {{ q }}"}],
    )
    return str(project.suite(suite))


LOOP_0 = "loop[max_tokens=4,temperature=0]"
LOOP_5 = "loop[max_tokens=4,temperature=0.5]"


def test_dry_run_shows_the_expansion_and_its_cost_before_any_call(
    project: Project, loopback: LoopbackServer
) -> None:
    path = sweep_suite(project, loopback.url)
    result = invoke("run", path, "--dry-run", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["variants"] == ["plain", "shots[n=0]", "shots[n=1]"]
    assert plan["grid"][LOOP_5] == {"max_tokens": 4, "temperature": 0.5}
    assert plan["grid"]["shots[n=1]"] == {"n": 1}
    models = {m["model"]: m for m in plan["models"]}
    assert list(models) == [LOOP_0, LOOP_5]
    assert all(m["calls"] == 9 and m["cost_estimate"] > 0 for m in models.values())
    table = invoke("run", path, "--dry-run")
    assert "grid loop: 2 settings (max_tokens × temperature)" in table.stdout
    assert LOOP_5 in table.stdout  # brackets shown as written, not taken for markup
    assert loopback.stats()["requests"] == 0 and not project.runs


def test_the_run_records_each_setting_and_base_names_select_all(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(record_requests=50)
    path = sweep_suite(project, loopback.url)
    result = invoke("run", path, "-q", "-v", "shots", "-m", LOOP_5)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    recs = records(latest_run(project))
    assert {(r["variant"], r["model"]) for r in recs} == {
        ("shots[n=0]", LOOP_5),
        ("shots[n=1]", LOOP_5),
    }
    sent = loopback.requests()
    assert {r["body"]["temperature"] for r in sent} == {0.5}
    prompts = {r["body"]["messages"][-1]["content"] for r in sent}
    assert "x Q: q1" in prompts and "Q: q1" in prompts
    assert "shots[n=1]" in result.stdout and LOOP_5 in result.stdout
