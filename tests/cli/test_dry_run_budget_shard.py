"""The cost governor (--dry-run, --max-cost) and scale-out (--shard, merge)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

# A dollar a token, so the arithmetic is easy to follow: the loopback server counts
# words as tokens, "Q: c1" is 2 prompt tokens and its echo 2 answer tokens.
PRICED = {"price": {"input": 1_000_000, "output": 1_000_000}, "max_tokens": 4}


def priced_suite(project: Project, url: str, n: int, **extra: Any) -> str:
    suite = echo_suite(url, cases=qa_cases(n, "c"), model_params=PRICED, **extra)
    return str(project.suite(suite))


def test_dry_run_counts_calls_cache_tokens_and_cost(
    project: Project, loopback: LoopbackServer
) -> None:
    path = priced_suite(project, loopback.url, 10)
    assert invoke("run", path, "-n", "4", "-q").exit_code == 0  # 4 of 10 cached
    before = loopback.stats()["requests"]
    runs_before = len(project.runs)
    result = invoke("run", path, "--dry-run", "--json")
    no_traceback(result)
    assert result.exit_code == 0
    plan = json.loads(result.stdout)["models"][0]
    assert (plan["calls"], plan["cached"], plan["to_call"]) == (10, 4, 6)
    # Prompt "Q: c5" .. "Q: c10": 5 or 6 characters, four to a token; answers at max_tokens.
    assert plan["prompt_tokens_estimate"] == round((5 * 5 + 6) / 4)
    assert plan["answer_tokens_estimate"] == 6 * 4
    assert plan["cost_estimate"] == pytest.approx(round((5 * 5 + 6) / 4) + 24)
    assert loopback.stats()["requests"] == before  # nothing called
    assert len(project.runs) == runs_before  # nothing written
    table = invoke("run", path, "--dry-run")
    assert "dry run: nothing is called" in table.stdout
    assert "to call" in table.stdout


def test_max_cost_stops_new_calls_keeps_records_and_exits_3(
    project: Project, loopback: LoopbackServer
) -> None:
    path = priced_suite(project, loopback.url, 10, concurrency=1)
    result = invoke("run", path, "--max-cost", "30")
    no_traceback(result)
    assert result.exit_code == 3
    # Each call is estimated at 5/4 + 4 = $5.25 and costs $4: after 7 calls ($28) the
    # next would pass $30, so the run stops starting calls.
    records = [
        json.loads(line)
        for line in (latest_run(project) / "records.jsonl").read_text().splitlines()
    ]
    assert len(records) == 7 == loopback.stats()["requests"]
    assert all(r["cost"] == 4 for r in records)
    assert "stopped at the budget: spent $28.0000 of $30.0000" in result.stdout
    assert "3 calls were not made" in result.stdout
    meta = json.loads((latest_run(project) / "run.json").read_text())
    assert meta["status"] == "stopped_at_budget"
    assert meta["budget"] == {"limit": 30.0, "spent": 28.0, "exhausted": True, "not_run": 3}
    # A larger budget finishes the job without paying again for what was done.
    assert invoke("run", path, "--max-cost", "100").exit_code == 0
    assert loopback.stats()["requests"] == 10


def test_max_cost_needs_a_price(project: Project, loopback: LoopbackServer) -> None:
    path = project.suite(echo_suite(loopback.url))
    result = invoke("run", str(path), "--max-cost", "1")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "a spending limit needs a price for every model, and 'loop' has none" in output
    assert output.rstrip().endswith("in the suite (--max-cost)")
    assert loopback.stats()["requests"] == 0


def _rows(run_dir: Any) -> list[tuple[str, ...]]:
    result = invoke("show", str(run_dir), "--csv", "out.csv")
    assert result.exit_code == 0
    with open("out.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    header, body = rows[0], rows[1:]
    keep = [i for i, h in enumerate(header) if h not in ("cached",)]
    return sorted(tuple(r[i] for i in keep) for r in body)


def test_shards_are_disjoint_and_merge_equals_the_unsharded_run(
    project: Project, loopback: LoopbackServer
) -> None:
    suite = echo_suite(
        loopback.url,
        cases=qa_cases(11, "c"),
        prompts={"a": "Q: {{ q }}", "b": "A: {{ q }}"},
        repeat=2,
    )
    path = str(project.suite(suite))
    assert invoke("run", path, "-q").exit_code == 0  # fills the cache
    assert invoke("run", path, "-q").exit_code == 0  # the reference: everything cached
    reference = latest_run(project)
    shard_runs = []
    seen: set[str] = set()
    for i in (1, 2, 3):
        assert invoke("run", path, "-q", "--shard", f"{i}/3").exit_code == 0
        shard_runs.append(latest_run(project))
        cases = {
            json.loads(line)["case_id"]
            for line in (shard_runs[-1] / "records.jsonl").read_text().splitlines()
        }
        assert cases and not cases & seen  # disjoint
        seen |= cases
    assert seen == {f"c{i}" for i in range(1, 12)}  # and whole
    merged = invoke("merge", *(str(r) for r in shard_runs), "--json")
    no_traceback(merged)
    assert merged.exit_code == 0
    merged_dir = json.loads(merged.stdout)["run_dir"]
    ref_show = json.loads(invoke("show", str(reference), "--json").stdout)
    merged_show = json.loads(invoke("show", merged_dir, "--json").stdout)
    assert merged_show["summary"] == ref_show["summary"]
    assert merged_show["gate"] == ref_show["gate"]
    assert _rows(merged_dir) == _rows(reference)
    # The listing's tallies (run.json only) add up across the shards.
    listed = {r["run_dir"]: r for r in json.loads(invoke("runs", "-n", "0", "--json").stdout)}
    ref_groups = listed[str(reference)]["groups"]
    assert ref_groups and listed[merged_dir]["groups"] == ref_groups
    diff = invoke("diff", str(reference), merged_dir, "--json")
    assert diff.exit_code == 0, diff.output
    verdicts = json.loads(diff.stdout)["verdicts"]
    assert verdicts["worse"] == verdicts["better"] == 0
    assert verdicts["no detectable difference"] > 0


def test_merge_refuses_an_incomplete_or_mixed_set(
    project: Project, loopback: LoopbackServer
) -> None:
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(4))))
    assert invoke("run", path, "-q", "--shard", "1/3").exit_code == 0
    one = latest_run(project)
    assert invoke("run", path, "-q", "--shard", "2/3").exit_code == 0
    two = latest_run(project)
    result = invoke("merge", str(one), str(two))
    assert result.exit_code == 2
    assert "shard 3/3 is missing; merge each of the 3 shards once" in result.output
    assert invoke("run", path, "-q").exit_code == 0
    result = invoke("merge", str(one), str(latest_run(project)))
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "is not a shard of a run; merge joins the shards of one run (--shard)" in output


@pytest.mark.parametrize("text", ["3", "0/2", "3/2", "a/b"])
def test_bad_shard_is_a_usage_error(project: Project, loopback: LoopbackServer, text: str) -> None:
    path = str(project.suite(echo_suite(loopback.url)))
    result = invoke("run", path, "--shard", text)
    assert result.exit_code == 2
    assert "shard" in result.output
