"""A run's outcome is decided once: run, its exit code, show, merge, report and the API agree.

The run is stopped by ``--max-cost`` while every case it made passes its gate, so a
reader that judged the gates alone would say "passed" where the run said "stopped at
the budget".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promptbench
from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

# A dollar a token: each call costs $4 (2 prompt and 2 answer tokens), estimated at $5.25.
PRICED = {"price": {"input": 1_000_000, "output": 1_000_000}, "max_tokens": 4}
STOPPED = "budget_exceeded"


def stopping_suite(project: Project, url: str) -> str:
    suite = echo_suite(
        url, cases=qa_cases(10, "c"), model_params=PRICED, concurrency=1, gate={"exact": ">= 0.9"}
    )
    return str(project.suite(suite))


def page_data(html: Path) -> dict[str, Any]:
    text = html.read_text(encoding="utf-8")
    payload = text.split('<script id="pb-data" type="application/json">', 1)[1]
    data: dict[str, Any] = json.loads(payload.split("</script>", 1)[0])
    return data


def test_every_reader_gives_a_run_stopped_at_its_budget_the_same_outcome(
    project: Project, loopback: LoopbackServer
) -> None:
    path = stopping_suite(project, loopback.url)
    ran = invoke("run", path, "--max-cost", "30", "--json", "--no-cache")
    no_traceback(ran)
    assert ran.exit_code == 3
    assert json.loads(ran.stdout)["outcome"] == STOPPED
    run_dir = latest_run(project)
    # Every call it made passed: its gate alone would hold.
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == 7 and all(r["passed"] for r in records)

    shown = invoke("show", str(run_dir), "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["outcome"] == STOPPED
    assert json.loads(shown.stdout)["gate"]["outcome"] == STOPPED
    table = invoke("show", str(run_dir))
    assert "stopped at the budget: spent $28.0000 of $30.0000" in table.stdout

    report = invoke("report", str(run_dir), "--html", "report.html")
    assert report.exit_code == 0, report.output
    assert page_data(Path("report.html"))["gate"]["outcome"] == STOPPED

    api = promptbench.run_suite(path, max_cost=30, use_cache=False, resume=False)
    assert api.verdict.outcome.value == STOPPED
    assert api.to_json()["outcome"] == STOPPED


def test_merged_shards_that_stopped_at_the_budget_say_so(
    project: Project, loopback: LoopbackServer
) -> None:
    path = stopping_suite(project, loopback.url)
    shards = []
    for i in (1, 2):
        ran = invoke("run", path, "-q", "--no-cache", "--max-cost", "10", "--shard", f"{i}/2")
        assert ran.exit_code == 3, ran.output
        shards.append(str(latest_run(project)))
    merged = invoke("merge", *shards, "--json")
    no_traceback(merged)
    assert merged.exit_code == 0, merged.output
    data = json.loads(merged.stdout)
    assert data["gate"]["outcome"] == STOPPED
    assert json.loads(invoke("show", data["run_dir"], "--json").stdout)["outcome"] == STOPPED
    # Each shard had $10: 2 calls of $4 each, 3 of its 5 not made.
    table = invoke("show", data["run_dir"])
    assert "stopped at the budget: spent $16.0000 of $20.0000" in table.stdout
    assert "6 calls were not made" in table.stdout


def test_a_finished_run_is_judged_on_its_gates_by_every_reader(
    project: Project, loopback: LoopbackServer
) -> None:
    path = stopping_suite(project, loopback.url)
    ran = invoke("run", path, "--max-cost", "100", "--json")
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)["outcome"] == "passed"
    shown = json.loads(invoke("show", "latest", "--json").stdout)
    assert shown["outcome"] == "passed"


def test_a_run_with_no_gate_says_so_in_every_output(
    project: Project, loopback: LoopbackServer
) -> None:
    # Every answer is wrong (0% pass rate) and nothing is gated: no output may read "passed".
    loopback.configure(rules=[{"reply": "wrong"}])
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(3))))
    ran = invoke("run", path, "-q", "--junit", "j.xml", "--markdown", "r.md", "--html", "r.html")
    no_traceback(ran)
    assert ran.exit_code == 0  # nothing to fail on
    assert "no gate: nothing was checked" in ran.stdout
    assert "passed" not in ran.stdout.split("pass rate", 1)[1]  # past the table's heading
    markdown = Path("r.md").read_text(encoding="utf-8")
    assert "no gate" in markdown and "✅" not in markdown
    junit = Path("j.xml").read_text(encoding="utf-8")
    assert 'message="the suite has no gate: nothing was checked"' in junit
    assert page_data(Path("r.html"))["gate"]["outcome"] == "no_gate"
    as_json = invoke("show", "latest", "--json")
    assert json.loads(as_json.stdout)["outcome"] == "no_gate"
    assert json.loads(invoke("run", path, "--json").stdout)["gate"]["outcome"] == "no_gate"
