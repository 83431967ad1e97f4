"""``promptbench run`` through Typer's CliRunner, against the loopback server."""

from __future__ import annotations

import csv
import itertools
import json
import re

import pytest

from tests.helpers.e2e import (
    echo_suite,
    invoke,
    latest_run,
    no_traceback,
    qa_cases,
    records,
)
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

# Each test that talks to a server runs once per transport (tests/conftest.py).
pytestmark = pytest.mark.each_transport


def two_by_two(url: str, **extra: object) -> dict[str, object]:
    """2 variants x 2 models x 4 cases; variant ``a`` passes ``exact``, ``b`` fails it."""
    return echo_suite(
        url,
        prompts={"a": "Q: {{ q }}", "b": "Other {{ q }}"},
        models={"m1": openai_model(url), "m2": openai_model(url, model="second")},
        cases=qa_cases(4),
        **extra,
    )


# --------------------------------------------------------------------------- exit codes


def test_exit_0_when_every_gate_holds(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(echo_suite(loopback.url, gate={"exact": ">= 0.9", "pass_rate": 1}))
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "✓ gate exact >= 0.9 for plain × loop: 1" in result.stdout
    assert "✓ gate pass_rate >= 1 for plain × loop: 1" in result.stdout
    assert "✗" not in result.stdout
    assert loopback.stats()["requests"] == 3


def test_exit_1_when_a_gate_fails(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q1", "reply": "wrong"}])
    path = project.suite(echo_suite(loopback.url, gate={"exact": ">= 0.9"}))
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "✗ gate exact >= 0.9 for plain × loop: 0.6667" in result.stdout


def test_exit_2_on_an_invalid_suite_with_one_line_per_problem(
    loopback: LoopbackServer, project: Project
) -> None:
    data = echo_suite(loopback.url)
    data["models"]["loop"]["temprature"] = 0  # type: ignore[index]
    path = project.suite(data)
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"suites/suite\.yaml:\d+:\d+: models\.loop\.temprature: unknown field; "
        r"did you mean 'temperature'\?",
        lines[0],
    ), lines[0]
    assert result.stdout == ""
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


def test_exit_2_when_a_template_fails_for_a_case(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(
        echo_suite(loopback.url, prompts={"plain": "Q: {{ q }} {{ missing }}"}, metrics=[])
    )
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    assert "missing" in result.stderr
    assert "case 'q1'" in result.stderr
    assert loopback.stats()["requests"] == 0


def test_the_render_check_covers_the_selected_cases_only(
    loopback: LoopbackServer, project: Project
) -> None:
    # q3 lacks the var: a run of the first two (or of variant "plain" alone) never sends it,
    # so it is not refused for it; a run that would send it is, before any call.
    cases = [*qa_cases(2), {"id": "q3"}]
    prompts = {"plain": "Q: {{ q }}", "other": "Q: {{ q }}{{ missing }}"}
    path = project.suite(echo_suite(loopback.url, cases=cases, prompts=prompts, metrics=[]))
    limited = invoke("run", str(path), "-q", "--limit", "2", "-v", "plain")
    no_traceback(limited)
    assert limited.exit_code == 0, limited.output
    assert loopback.stats()["requests"] == 2
    one_variant = invoke("run", str(path), "-q", "--limit", "2", "-v", "other")
    assert one_variant.exit_code == 2
    assert "case 'q1', variant 'other'" in one_variant.stderr
    whole = invoke("run", str(path), "-q", "-v", "plain")
    assert whole.exit_code == 2
    assert "case 'q3'" in whole.stderr
    assert loopback.stats()["requests"] == 2  # nothing sent by the refused runs


def test_exit_2_on_a_missing_suite_file(project: Project) -> None:
    result = invoke("run", "suites/nope.yaml")
    no_traceback(result)
    assert result.exit_code == 2
    assert "suites/nope.yaml: no such suite file" in result.stderr


def test_exit_3_when_too_many_calls_fail(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q2", "faults": ["400"]}])
    path = project.suite(echo_suite(loopback.url, gate={"exact": ">= 0.5"}))
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 3, result.output
    assert "too many call errors for a verdict: 33.3% of calls failed" in result.stdout
    assert "client_error: 1" in result.stdout
    # Raising the limit gives a verdict again; the error stays out of the score.
    loopback.configure(rules=[{"match": "q2", "faults": ["400"]}])
    result = invoke("run", str(path), "--max-error-rate", "0.5")
    assert result.exit_code == 0, result.output


def test_every_suite_is_checked_before_the_first_call(
    loopback: LoopbackServer, project: Project
) -> None:
    good = project.suite(echo_suite(loopback.url), "suites/good.yaml")
    bad = project.suite("name: bad\nprompts: {}\n", "suites/bad.yaml")
    result = invoke("run", str(good), str(bad))
    assert result.exit_code == 2
    assert "suites/bad.yaml" in result.stderr
    assert loopback.stats()["requests"] == 0


def test_several_suites_exit_with_the_worst_code(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "q1", "reply": "wrong"}])
    passing = project.suite(echo_suite(loopback.url, name="p", cases=qa_cases(1, "x")), "s/p.yaml")
    failing = project.suite(echo_suite(loopback.url, name="f", gate={"exact": 1}), "s/f.yaml")
    result = invoke("run", str(passing), str(failing))
    assert result.exit_code == 1
    assert len(project.runs) == 2


# --------------------------------------------------------------------------- output


def test_summary_table_on_stdout_progress_on_stderr(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(two_by_two(loopback.url))
    result = invoke("run", str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for header in ("variant", "model", "cases", "pass rate", "exact", "errors", "p50 ms"):
        assert header in out
    rows = [line for line in out.splitlines() if re.search(r"\b[ab]\b.*\bm[12]\b", line)]
    assert len(rows) == 4
    assert any("100.0%" in r for r in rows if " a " in r)
    assert any("0.0%" in r for r in rows if " b " in r)
    run_dir = latest_run(project)
    assert f"records: {run_dir}" in out.splitlines()
    assert re.search(rf"^run {run_dir.name}: 16 calls$", result.stderr, re.M)
    assert re.search(r"^16/16 done, .* 0 errors, 0 cached, 0 retries$", result.stderr, re.M)


def test_runs_dir_option_and_long_paths_stay_on_one_line(
    loopback: LoopbackServer, project: Project
) -> None:
    runs = project.root / ("a-rather-long-directory-name-" * 8) / "runs"
    path = project.suite(echo_suite(loopback.url))
    result = invoke("run", str(path), "--runs-dir", str(runs), "--csv", str(runs / "out.csv"))
    assert result.exit_code == 0, result.output
    (run_dir,) = [d for d in runs.iterdir() if d.is_dir()]
    assert len(records(run_dir)) == 3
    assert f"records: {run_dir}" in result.stdout.splitlines()
    assert f"wrote 3 rows to {runs / 'out.csv'}" in result.stderr.splitlines()
    assert project.runs == []  # not in the default place


def test_quiet_prints_no_progress(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(echo_suite(loopback.url))
    result = invoke("run", str(path), "--quiet")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_json_output_parses_and_has_the_summary(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(two_by_two(loopback.url, gate={"exact": ">= 0.5"}))
    result = invoke("run", str(path), "--json")
    assert result.exit_code == 1  # variant b fails the gate
    data = json.loads(result.stdout)
    assert data["suite"] == "e2e"
    assert data["status"] == "finished"
    assert data["outcome"] == "gate_failed"
    assert data["run_dir"] == str(latest_run(project))
    assert data["summary"]["records"] == 16
    assert data["summary"]["metrics"] == ["exact"]
    groups = {(g["variant"], g["model"]): g for g in data["summary"]["groups"]}
    assert set(groups) == {("a", "m1"), ("a", "m2"), ("b", "m1"), ("b", "m2")}
    assert groups[("a", "m1")]["metrics"]["exact"]["mean"] == 1.0
    assert groups[("b", "m2")]["metrics"]["exact"]["mean"] == 0.0
    assert [(c["variant"], c["model"], c["holds"]) for c in data["gate"]["checks"]] == [
        ("a", "m1", True),
        ("a", "m2", True),
        ("b", "m1", False),
        ("b", "m2", False),
    ]


def test_csv_has_one_row_per_record(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q3", "faults": ["404"]}])
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=[{"id": f"q{i}", "q": f"q{i}", "topic": f"t{i}"} for i in (1, 2, 3)],
            metrics=[{"exact": "Q: {{ q }}"}, {"contains": "q1"}],
            model_params={"price": {"input": 1, "output": 1}},
            max_error_rate=1,
        )
    )
    result = invoke("run", str(path), "--csv", "out/results.csv")
    assert result.exit_code == 0, result.output
    assert "wrote 3 rows to out/results.csv" in result.stderr
    with (project.root / "out" / "results.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "case_id",
        "variant",
        "model",
        "repeat",
        "var:q",
        "var:topic",
        "expected",
        "prompt",
        "output",
        "passed",
        "exact:score",
        "exact:pass",
        "contains:score",
        "contains:pass",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost",
        "cached",
        "retries",
        "error",
    ]
    assert len(rows) == len(records(latest_run(project))) == 3
    by_case = {r["case_id"]: r for r in rows}
    q1, q2, q3 = by_case["q1"], by_case["q2"], by_case["q3"]
    assert (q1["var:q"], q1["var:topic"], q1["prompt"], q1["output"]) == (
        "q1",
        "t1",
        "[user] Q: q1",
        "Q: q1",
    )
    assert (q1["exact:score"], q1["exact:pass"], q1["contains:pass"], q1["passed"]) == (
        "1.0",
        "true",
        "true",
        "true",
    )
    assert (q2["contains:score"], q2["contains:pass"], q2["passed"]) == ("0.0", "false", "false")
    assert float(q1["latency_ms"]) > 0
    assert (q1["prompt_tokens"], q1["completion_tokens"], q1["total_tokens"]) == ("2", "2", "4")
    assert float(q1["cost"]) == pytest.approx(4e-6)
    assert (q1["cached"], q1["retries"], q1["error"]) == ("false", "0", "")
    assert q3["output"] == ""
    assert q3["exact:score"] == q3["passed"] == ""
    assert q3["error"].startswith("client_error: HTTP 404")


# --------------------------------------------------------------------------- filters


ALL_CASES = ["q1", "q2", "q3", "q4"]


@pytest.mark.parametrize(
    ("args", "variants", "models", "cases", "repeats"),
    [
        (["-v", "a"], ["a"], ["m1", "m2"], ALL_CASES, 1),
        (["--variant", "b"], ["b"], ["m1", "m2"], ALL_CASES, 1),
        (["-m", "m2"], ["a", "b"], ["m2"], ALL_CASES, 1),
        (["--model", "m1", "--model", "m2"], ["a", "b"], ["m1", "m2"], ALL_CASES, 1),
        (["-c", "q2", "--case", "q4"], ["a", "b"], ["m1", "m2"], ["q2", "q4"], 1),
        (["--limit", "1"], ["a", "b"], ["m1", "m2"], ["q1"], 1),
        (["-n", "2", "--repeat", "3"], ["a", "b"], ["m1", "m2"], ["q1", "q2"], 3),
        (["-v", "a", "-m", "m1", "-c", "q3", "-r", "2"], ["a"], ["m1"], ["q3"], 2),
    ],
)
def test_filters_and_overrides(
    loopback: LoopbackServer,
    project: Project,
    args: list[str],
    variants: list[str],
    models: list[str],
    cases: list[str],
    repeats: int,
) -> None:
    path = project.suite(two_by_two(loopback.url))
    result = invoke("run", str(path), *args)
    assert result.exit_code == 0, result.output
    recs = records(latest_run(project))
    keys = sorted((r["case_id"], r["variant"], r["model"], r["repeat"]) for r in recs)
    assert keys == sorted(itertools.product(cases, variants, models, range(repeats)))
    assert loopback.stats()["requests"] == len(keys)


def test_jobs_option_bounds_concurrency(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(latency_ms=30)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(8), concurrency=8))
    assert invoke("run", str(path), "-j", "1", "--no-cache").exit_code == 0
    assert loopback.stats()["max_in_flight"] == 1
    loopback.reset()
    loopback.configure(latency_ms=30)
    assert invoke("run", str(path), "--concurrency", "3", "--no-cache").exit_code == 0
    assert loopback.stats()["max_in_flight"] == 3


def test_no_cache_calls_again_and_cache_is_used_otherwise(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(echo_suite(loopback.url))
    assert invoke("run", str(path)).exit_code == 0
    assert loopback.stats()["requests"] == 3
    result = invoke("run", str(path))
    assert loopback.stats()["requests"] == 3
    assert "3 cached" in result.stderr
    assert all(r["cached"] for r in records(latest_run(project)))
    assert invoke("run", str(path), "--no-cache").exit_code == 0
    assert loopback.stats()["requests"] == 6
    assert not any(r["cached"] for r in records(latest_run(project)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-v", "nope"], "unknown variant 'nope'; the suite has: a, b"),
        (["-v", "a", "-v", "c"], "unknown variant 'c'; the suite has: a, b"),
        (["-m", "gpt"], "unknown model 'gpt'; the suite has: m1, m2"),
        (["-c", "q9"], "unknown case id 'q9' in suites/suite.yaml"),
        (["--repeat", "0"], "--repeat"),
        (["-j", "0"], "--concurrency"),
        (["--max-error-rate", "2"], "--max-error-rate"),
    ],
)
def test_bad_filters_exit_2_with_a_clear_message(
    loopback: LoopbackServer, project: Project, args: list[str], message: str
) -> None:
    path = project.suite(two_by_two(loopback.url))
    result = invoke("run", str(path), *args)
    no_traceback(result)
    assert result.exit_code == 2
    assert message in result.stderr
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


def test_help_has_an_example() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    for option in ("--variant", "--model", "--case", "--limit", "--repeat", "--no-cache"):
        assert option in result.stdout
