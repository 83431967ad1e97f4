"""The Python API for notebooks: ``promptbench.run_suite`` and ``promptbench.load_run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import promptbench
from promptbench.errors import RunStoreError, UsageError
from tests.helpers.e2e import echo_suite, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model


def suite(project: Project, url: str) -> Path:
    """Two variants, two metrics, three cases with two vars; the server gets q2 wrong."""
    cases = [{"id": f"q{i}", "q": f"q{i}", "n": i} for i in range(1, 4)]
    return project.suite(
        echo_suite(
            url,
            prompts={"a": "Q: {{ q }}", "b": {"system": "Be brief.", "user": "Q: {{ q }}"}},
            models={"loop": openai_model(url, price={"input": 1.0, "output": 2.0})},
            cases=cases,
            metrics=[{"exact": "Q: {{ q }}"}, {"contains": "q"}],
        )
    )


def test_import_is_light() -> None:
    code = (
        "import sys, promptbench\n"
        "heavy = [m for m in ('pandas', 'wandb', 'openai', 'promptbench.api', 'promptbench.runs')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_run_suite_then_load_run(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q2", "reply": "wrong"}])
    result = promptbench.run_suite(suite(project, loopback.url), concurrency=1)
    assert isinstance(result, promptbench.RunResult)
    assert result.verdict.outcome.value == "no_gate"
    requests = loopback.stats()["requests"]

    df = promptbench.load_run(result.info.run_id)
    assert loopback.stats()["requests"] == requests  # reading a run calls no model
    assert list(df.columns) == [
        "case_id",
        "variant",
        "model",
        "repeat",
        "var.q",
        "var.n",
        "expected",
        "prompt",
        "output",
        "passed",
        "score.exact",
        "pass.exact",
        "score.contains",
        "pass.contains",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "cached",
        "retries",
        "error",
        "error_message",
    ]
    on_disk = records(result.run_dir)
    assert len(df) == len(on_disk) == 6
    assert list(df["case_id"]) == [r["case_id"] for r in on_disk]  # file order
    row = df[(df["case_id"] == "q2") & (df["variant"] == "b")].iloc[0]
    assert row["output"] == "wrong"
    assert row["prompt"] == "[system] Be brief.\n\n[user] Q: q2"
    assert row["var.n"] == 2
    assert not row["passed"]
    assert row["score.exact"] == 0.0
    assert not row["pass.contains"]
    assert pd.isna(row["error"])
    means = df.groupby("variant")["score.exact"].mean()
    assert means["a"] == pytest.approx(2 / 3)
    assert df["cost"].sum() == pytest.approx(sum(r["cost"] for r in on_disk))
    assert str(df["passed"].dtype) == "boolean"
    assert str(df["score.exact"].dtype) == "Float64"
    assert df["prompt_tokens"].dtype == "int64"
    assert df.attrs["run"]["run_id"] == result.info.run_id


def test_load_run_by_path_prefix_latest_and_runs_dir(
    loopback: LoopbackServer, project: Project, tmp_path: Path
) -> None:
    path = suite(project, loopback.url)
    first = promptbench.run_suite(path)
    second = promptbench.run_suite(path, runs_dir=tmp_path / "elsewhere")
    assert len(promptbench.load_run(first.run_dir)) == 6
    assert len(promptbench.load_run(str(first.run_dir / "records.jsonl"))) == 6
    assert promptbench.load_run().attrs["run"]["run_id"] == first.info.run_id
    assert promptbench.load_run(first.info.run_id[:-2]).attrs["run"]["run_id"] == (
        first.info.run_id
    )
    other = promptbench.load_run("latest", runs_dir=tmp_path / "elsewhere")
    assert other.attrs["run"]["run_id"] == second.info.run_id


def test_load_run_with_call_errors_and_case_metrics(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "q1", "faults": ["400"]}])
    cases = [*qa_cases(2), {"id": "x", "q": "x", "metrics": [{"regex": "^Q"}]}]
    path = project.suite(echo_suite(loopback.url, cases=cases))
    result = promptbench.run_suite(path, concurrency=1)
    df = promptbench.load_run(result.run_dir).set_index("case_id")
    assert df.loc["q1", "error"] == "client_error"
    assert df.loc["q1", "error_message"].startswith("HTTP 400: ")
    assert pd.isna(df.loc["q1", "passed"]) and pd.isna(df.loc["q1", "score.exact"])
    assert bool(df.loc["x", "pass.regex"]) is True  # a metric only one case names
    assert pd.isna(df.loc["q2", "pass.regex"])


def test_load_run_errors() -> None:
    with pytest.raises(RunStoreError, match="no runs in"):
        promptbench.load_run("latest", runs_dir="/nonexistent/runs")
    with pytest.raises(RunStoreError, match="no run 'nope'"):
        promptbench.load_run("nope", runs_dir="/nonexistent/runs")


def test_run_suite_rejects_unknown_options(project: Project) -> None:
    with pytest.raises(UsageError, match="invalid run option"):
        promptbench.run_suite("suite.yaml", colour="red")
