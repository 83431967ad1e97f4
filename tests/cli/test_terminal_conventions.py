"""Errors in red on stderr, results on stdout, NO_COLOR and --quiet honoured, completion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers.e2e import echo_suite, invoke
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

COLOR = re.compile(r"\x1b\[(?:3[0-7]|9[0-7]|38;)")  # a foreground colour


def _promptbench(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _bad_suite(project: Project) -> Path:
    return project.suite(
        {
            "name": "x",
            "prompts": {"p": "hi"},
            "models": {"m": {"provider": "mock", "temprature": 0}},
            "cases": [{"q": 1}],
        }
    )


def test_errors_are_red_on_stderr_and_nothing_on_stdout(project: Project) -> None:
    done = _promptbench("validate", str(_bad_suite(project)), cwd=project.root, FORCE_COLOR="1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "models.m.temprature: unknown field; did you mean 'temperature'?" in done.stderr
    assert "\x1b[31m" in done.stderr  # red


def test_no_color_is_honoured(project: Project) -> None:
    done = _promptbench(
        "validate", str(_bad_suite(project)), cwd=project.root, FORCE_COLOR="1", NO_COLOR="1"
    )
    assert done.returncode == 2
    assert "unknown field" in done.stderr
    assert not COLOR.search(done.stderr), repr(done.stderr)


def test_results_on_stdout_progress_on_stderr(project: Project, loopback: LoopbackServer) -> None:
    path = project.suite(echo_suite(loopback.url))
    done = _promptbench("run", str(path), "--json", cwd=project.root)
    assert done.returncode == 0
    assert done.stdout.lstrip().startswith("{")  # only the JSON
    assert "run " in done.stderr and "calls" in done.stderr  # progress lines


def test_quiet_prints_no_progress(project: Project, loopback: LoopbackServer) -> None:
    path = project.suite(echo_suite(loopback.url))
    done = _promptbench("run", str(path), "--quiet", cwd=project.root)
    assert done.returncode == 0
    assert done.stderr == ""
    assert "variant" in done.stdout  # the summary table is the result


def test_shell_completion_is_offered() -> None:
    result = invoke("--help")
    assert "--install-completion" in result.output
    assert "--show-completion" in result.output
