"""Faults, kills and shared caches lose nothing: end to end against the loopback server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import by_key, echo_suite, invoke, qa_cases, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

FAULT_KINDS = [
    "429:0.01",
    "429-noretry",
    "500",
    "502",
    "503",
    "hang:3",
    "drop",
    "malformed",
    "empty_choices",
    "length",
    "content_filter",
]


def test_fault_injection_every_case_ends_scored_or_as_an_error(
    project: Project, loopback: LoopbackServer
) -> None:
    # 2,000 cases, 20% of calls meet a fault; "w" cases are answered wrongly on purpose,
    # so that wrong answers and provider errors can be told apart.
    loopback.configure(
        seed=7,
        rules=[
            {"match": "Q: w", "reply": "nope", "fault_rate": 0.2, "fault_kinds": FAULT_KINDS},
            {"fault_rate": 0.2, "fault_kinds": FAULT_KINDS},
        ],
    )
    cases = [
        {"id": f"{'w' if i % 10 == 0 else 'c'}{i}", "q": f"{'w' if i % 10 == 0 else 'c'}{i}"}
        for i in range(2000)
    ]
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=cases,
            concurrency=64,
            max_error_rate=1.0,
            model_params={"timeout": 0.5, "max_retries": 3},
        )
    )
    result, _ = run(path)
    recs = records(result)
    keyed = by_key(recs)  # no duplicates
    assert len(keyed) == 2000  # none lost
    stats = loopback.stats()
    # Every attempt reached the server once: the records' retries account for all of them.
    assert stats["requests"] == sum(r["retries"] + 1 for r in recs)
    assert stats["in_flight"] == 0
    outcomes = Counter(stats["by_outcome"])
    errors = [r for r in recs if r["error"] is not None]
    scored = [r for r in recs if r["error"] is None]
    for r in errors:
        assert r["error"]["kind"] and r["error"]["message"]
        assert r["scores"] == {} and r["passed"] is None  # never a wrong answer
    for r in scored:
        assert set(r["scores"]) == {"exact"}
    # A content filter's refusal is final (not retried): each one is an error record.
    final_kinds = Counter(r["error"]["kind"] for r in errors)
    assert final_kinds["content_filter"] == outcomes["content_filter"]
    # An answer cut by the length limit is still an answer: scored, its reason kept.
    assert sum(r["finish_reason"] == "length" for r in scored) == outcomes["length"]
    # The summary keeps provider errors apart from wrong answers.
    group = result.summary.groups[("plain", "loop")]
    assert group.call_errors == len(errors) > 0
    wrong = [r for r in scored if r["case_id"].startswith("w")]
    assert group.failed == len(wrong) > 0
    assert all(not r["passed"] for r in wrong)
    assert group.passed == len(scored) - len(wrong)
    assert sum(group.error_kinds.values()) == len(errors)


def _env(project: Project) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def _command() -> list[str]:
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def _comparable(rec: dict[str, Any]) -> tuple[Any, ...]:
    return (
        rec["case_id"],
        rec["output"],
        json.dumps(rec["scores"], sort_keys=True),
        rec["passed"],
        rec["error"],
    )


def test_kill_9_then_the_same_command_resumes_without_paying_twice(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(latency_ms=40)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(300), concurrency=8))
    command = [*_command(), "run", str(path)]
    proc = subprocess.Popen(
        command,
        env=_env(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    run_dir = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if project.runs and (project.runs[-1] / "records.jsonl").exists():
            run_dir = project.runs[-1]
            if (run_dir / "records.jsonl").read_bytes().count(b"\n") >= 60:
                break
        time.sleep(0.02)
    assert run_dir is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # A write cut short by the kill: a torn last line.
    with (run_dir / "records.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"case_id": "q9", "variant"')
    journal = [
        json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()[:-1]
    ]
    assert 60 <= len(journal) < 300
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    loopback.configure(latency_ms=0)
    again = subprocess.run(
        command, env=_env(project), capture_output=True, text=True, timeout=60, check=False
    )
    assert again.returncode == 0, again.stderr
    assert f"taking up run {run_dir.name}" in again.stderr
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    final = [json.loads(line) for line in lines]  # every line is valid JSON: repaired
    assert len(final) == 300
    assert final[: len(journal)] == journal  # what was recorded stays as it was
    counts = loopback.stats()["by_prompt"]
    # The calls recorded before the kill were not sent again.
    assert all(counts[f"Q: {r['case_id']}"] == 1 for r in journal)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"

    # The final results equal an uninterrupted run's.
    reference, _ = run(path, resume=False, use_cache=False, runs_dir=project.root / "ref")
    assert sorted(map(_comparable, final)) == sorted(map(_comparable, records(reference)))


def test_two_runs_share_the_cache_at_once(project: Project, loopback: LoopbackServer) -> None:
    loopback.configure(latency_ms=5)
    a = project.suite(
        echo_suite(loopback.url, cases=qa_cases(300, "a"), name="one", concurrency=16),
        "suites/a.yaml",
    )
    b = project.suite(
        echo_suite(loopback.url, cases=qa_cases(300, "b"), name="two", concurrency=16),
        "suites/b.yaml",
    )
    procs = [
        subprocess.Popen(
            [*_command(), "run", str(p), "-q"],
            env=_env(project),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for p in (a, b)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    cache = project.root / ".cache" / "cache.db"
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (600,)
    loopback.reset()
    for p in (a, b):
        assert invoke("run", str(p), "-q", "--fresh").exit_code == 0
    assert loopback.stats()["requests"] == 0  # everything came from the shared cache


CHECKS = "def ok(output):\n    return True\n"


def _python_suite(project: Project, ref: str) -> Path:
    return project.suite(
        {
            "name": "code",
            "prompts": {"p": "{{ q }}"},
            "models": {"m": {"provider": "mock"}},
            "cases": [{"q": "x"}],
            "metrics": [{"python": ref}],
        }
    )


def test_no_user_code_refuses_a_suite_that_runs_python(project: Project) -> None:
    marker = project.root / "imported"
    project.write("suites/checks.py", f"open({str(marker)!r}, 'w').close()\n" + CHECKS)
    path = _python_suite(project, "checks.py:ok")
    for command in ("validate", "run"):
        result = invoke(command, str(path), "--no-user-code")
        assert result.exit_code == 2
        assert (
            "metrics[0].python: metric 'python' runs Python code from the suite's files, "
            "and this run refuses user code; allow it only where the suite is trusted "
            "(--no-user-code)" in " ".join(result.output.split())
        )
    assert not marker.exists()  # not even imported
    assert not project.runs
    assert invoke("run", str(path), "-q").exit_code == 0  # trusted: allowed
    assert marker.exists()


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_user_code_loads_only_from_the_suites_directory(
    project: Project, tmp_path_factory: pytest.TempPathFactory, where: str
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "evil.py"
    outside.write_text(CHECKS)
    ref = f"{outside}:ok" if where == "absolute" else f"../../{outside.parent.name}/evil.py:ok"
    if where == "dotdot":
        # suites/ -> project -> tmp root: two levels up reaches the sibling directory.
        target = project.root.parent / outside.parent.name / "evil.py"
        target.parent.mkdir(exist_ok=True)
        target.write_text(CHECKS)
    result = invoke("validate", str(_python_suite(project, ref)))
    assert result.exit_code == 2
    assert (
        "is outside the suite's directory; user code loads only from the suite's "
        "directory or the one above it" in result.output
    )


def test_user_code_in_the_project_directory_is_allowed(project: Project) -> None:
    project.write("checks.py", CHECKS)  # beside suites/, as the layout has it
    assert invoke("validate", str(_python_suite(project, "checks.py:ok"))).exit_code == 0
