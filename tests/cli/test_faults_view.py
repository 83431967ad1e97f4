"""``promptbench view`` meeting faults at startup, made for real.

The machine refusing (a port already in use, a runs directory that cannot be read) is
exit code 4; a usage mistake (a bad --port, no such directory, the extra not installed)
is exit code 2. Each is one line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_faults import error_lines
from tests.cli.test_subprocess import env, promptbench
from tests.helpers.e2e import invoke, no_traceback

# Root reads any directory whatever its mode; without these two capabilities it cannot.
AS_UNPRIVILEGED = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def view(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*(prefix or []), *promptbench(), "view", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_a_port_in_use_is_exit_4_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = view("--runs-dir", str(tmp_path), "--port", str(port))
    assert ran.returncode == 4, ran.stderr
    assert ran.stderr.strip().splitlines() == [
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use; choose another "
        "--port (--port 0 takes any free one)"
    ]


def test_an_unreadable_runs_dir_is_exit_4_naming_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0)
    try:
        ran = view("--runs-dir", str(runs), "--port", "0", prefix=AS_UNPRIVILEGED)
    finally:
        runs.chmod(0o755)
    assert ran.returncode == 4, ran.stderr
    assert ran.stderr.strip().splitlines() == [
        f"error: cannot read the runs directory {runs}: Permission denied; make it readable "
        "or give another --runs-dir"
    ]


@pytest.mark.parametrize("port", ["70000", "-1", "eighty"])
def test_a_bad_port_is_exit_2(tmp_path: Path, port: str) -> None:
    result = invoke("view", "--runs-dir", str(tmp_path), "--port", port)
    no_traceback(result)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: Invalid value for '--port'") and "--help" in line


def test_a_runs_dir_that_is_a_file_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("not a directory")
    result = invoke("view", "--runs-dir", str(tmp_path / "runs"))
    no_traceback(result)
    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        f"error: no runs directory {tmp_path / 'runs'}; run a suite first, or give --runs-dir"
    ]


def test_uvicorn_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn raises ImportError
    result = invoke("view", "--runs-dir", str(tmp_path))
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: promptbench view needs starlette and uvicorn, which is not installed: "
        "pip install -e '.[view]'"
    ]
