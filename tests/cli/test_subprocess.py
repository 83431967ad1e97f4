"""The installed ``promptbench`` command in a child process: output streams, exit codes, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.e2e import echo_suite, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def promptbench() -> list[str]:
    """The console script if it is on PATH, else the module."""
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


def test_console_script_runs_a_suite(loopback: LoopbackServer, project: Project) -> None:
    project.suite(
        echo_suite(
            loopback.url,
            prompts={"a": "Q: {{ q }}", "b": "Other {{ q }}"},
            cases=qa_cases(3),
            gate={"exact": ">= 0.5"},
        )
    )
    proc = subprocess.run(
        [*promptbench(), "run", "suites/suite.yaml"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1, proc.stderr  # variant b fails the gate
    # The table on stdout.
    assert "pass rate" in proc.stdout
    assert re.search(r"│ a\s+│ loop\s+│\s+3 │\s+100\.0% │", proc.stdout), proc.stdout
    assert re.search(r"│ b\s+│ loop\s+│\s+3 │\s+0\.0% │", proc.stdout), proc.stdout
    assert "✗ gate exact >= 0.5 for b × loop: 0" in proc.stdout
    # Plain progress lines on stderr: no TTY, so no bar and no escape codes.
    (run_dir,) = project.runs
    lines = proc.stderr.splitlines()
    assert lines[0] == f"run {run_dir.name}: 6 calls"
    assert re.fullmatch(r"6/6 done, [\d.]+/s, 0 errors, 0 cached, 0 retries", lines[-1])
    assert "\x1b[" not in proc.stderr
    assert "\r" not in proc.stderr
    assert len(records(run_dir)) == 6
    assert loopback.stats()["requests"] == 6


def test_python_m_promptbench_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "promptbench", "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env=env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout
    assert "Example" in proc.stdout
    for command in ("init", "validate", "render", "run", "cache"):
        assert re.search(rf"│ {command}\s", proc.stdout), command


def _wait_for_records(runs: Path, at_least: int, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run_dir in runs.glob("*/"):
            path = run_dir / "records.jsonl"
            if path.exists() and path.read_bytes().count(b"\n") >= at_least:
                return run_dir
        time.sleep(0.02)
    raise AssertionError(f"no run reached {at_least} records within {timeout} s")


@contextlib.contextmanager
def _sigint_as_a_terminal_gives_it() -> Iterator[None]:
    """Start children with SIGINT as a terminal's foreground job has it.

    A test runner started in a background job (``pytest &``, some CI shells) has
    SIGINT ignored, its children inherit that, and a program rightly keeps an
    inherited "ignore" (as it keeps SIGHUP ignored under nohup). A user pressing
    Ctrl-C is in the foreground, with SIGINT at its default. A handled signal is
    reset to its default by exec, so handling SIGINT here while the child starts
    gives it the default, whatever group the test runner is in.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# The signal, the exit code (128 + its number, as a shell reports it) and the word
# the last line starts with.
STOPPING_SIGNALS = [
    pytest.param(signal.SIGINT, 130, "interrupted", id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, "SIGTERM", id="SIGTERM"),
    pytest.param(signal.SIGHUP, 129, "SIGHUP", id="SIGHUP"),
]


@pytest.mark.parametrize(("signum", "code", "word"), STOPPING_SIGNALS)
def test_a_stopping_signal_saves_the_records_and_a_rerun_pays_for_nothing_twice(
    loopback: LoopbackServer, project: Project, signum: int, code: int, word: str
) -> None:
    loopback.configure(latency_ms=200)
    project.suite(echo_suite(loopback.url, cases=qa_cases(200)))
    command = [*promptbench(), "run", "suites/suite.yaml", "-j", "4"]
    with _sigint_as_a_terminal_gives_it():
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env(),
            start_new_session=True,  # its own process group: the signal reaches it alone
        )
    try:
        run_dir = _wait_for_records(project.root / "runs", at_least=4, timeout=20)
        time.sleep(0.3)  # calls are in flight now
        # To the whole group, as a terminal (Ctrl-C), `timeout`, Docker or Kubernetes do.
        os.killpg(proc.pid, signum)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert re.search(r"^stopping: waiting up to 10 s for \d+ calls? in flight", err, re.M), err
    saved = (run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()
    n = len(saved)
    assert 4 <= n < 200
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"{word}: {n} records saved in {run_dir}"), err
    assert "run the same command again to take it up where it stopped" in message
    assert all(isinstance(json.loads(line), dict) for line in saved)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "interrupted"
    assert meta["finished_at"] is not None
    assert meta["counts"]["records"] == n
    first = loopback.stats()
    assert first["in_flight"] == 0
    # Every call the server answered was recorded: none was abandoned mid-flight.
    assert first["requests"] == n, (first["requests"], n)
    assert sorted(first["by_prompt"].values()) == [1] * n

    # The same command again: the finished calls come from the cache.
    loopback.configure(latency_ms=0)
    proc2 = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        stdin=subprocess.DEVNULL,
    )
    assert proc2.returncode == 0, proc2.stderr
    second = loopback.stats()
    assert second["requests"] == 200
    assert len(second["by_prompt"]) == 200
    assert set(second["by_prompt"].values()) == {1}  # no prompt was sent twice
    # The interrupted run itself was taken up: its records are the journal of what was
    # done, kept as they were, and the rest appended once each.
    assert "taking up run" in proc2.stderr
    rerun = max(project.runs, key=lambda d: (d / "run.json").stat().st_mtime_ns)
    assert rerun == run_dir
    recs = records(rerun)
    assert len(recs) == 200
    assert len({(r["case_id"], r["repeat"]) for r in recs}) == 200
    assert [json.loads(s) for s in saved] == recs[:n]
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "finished" and meta["counts"]["records"] == 200
