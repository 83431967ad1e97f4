"""Faults a run meets in real life, made for real: a full disk, a read-only runs directory,
a records file removed under the run, a cache that is locked, damaged or removed.

None gives a traceback or exit code 1 (which CI reads as a failed gate): the disk and
the run store give one line naming the path and the fix and exit code 4; the cache,
being disposable, never stops a run. What was paid for is kept, and the same command
takes the run up.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_subprocess import env, promptbench
from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting a tmpfs needs root"
)


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``where`` with ``options`` (size=..., ro), unmounted after."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@needs_root
def test_a_full_disk_is_exit_4_naming_the_file_and_the_same_command_resumes(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(300))))
    with tmpfs(project.root / "small", "size=48k") as small:
        monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(small))
        ran = invoke("run", path, "-q", "-j", "2")
        no_traceback(ran)
        assert ran.exit_code == 4, ran.output
        (line,) = error_lines(ran.stderr)
        (run_dir,) = small.iterdir()
        assert line.startswith(f"error: cannot write {run_dir}/")
        assert "No space left on device; free some space" in line
        assert "run the same command again to take the run up" in line
        kept = records(run_dir)
        assert 0 < len(kept) < 300
        paid = loopback.stats()["requests"]
        assert paid < 300  # no new call started once the disk was full
        # Room again: the same command takes the run up, and pays for nothing twice
        # (the answers the disk refused are in the cache).
        subprocess.run(["mount", "-o", "remount,size=8m", str(small)], check=True)
        again = invoke("run", path, "-q", "-j", "2")
        no_traceback(again)
        assert again.exit_code == 0, again.output
        assert list(small.iterdir()) == [run_dir]
        recs = records(run_dir)
        assert len(recs) == 300
        assert len({r["case_id"] for r in recs}) == 300
        assert recs[: len(kept)] == kept
        assert loopback.stats()["requests"] == 300


@needs_root
def test_a_read_only_runs_directory_is_exit_4_and_nothing_is_called(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(3))))
    with tmpfs(project.root / "ro", "ro,size=16k") as ro:
        monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(ro))
        ran = invoke("run", path, "-q")
        no_traceback(ran)
        assert ran.exit_code == 4, ran.output
        (line,) = error_lines(ran.stderr)
        assert line.startswith(f"error: cannot create the run directory {ro}/")
        assert "Read-only file system; make it writable or choose another (--runs-dir)" in line
    assert loopback.stats()["requests"] == 0


def _wait_for(predicate: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def _count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_a_records_file_removed_under_the_run_is_put_back_and_exit_4(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=100)
    project.suite(echo_suite(loopback.url, cases=qa_cases(100)))
    command = [*promptbench(), "run", "suites/suite.yaml", "-q", "-j", "2"]
    proc = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env()
    )
    try:
        runs = project.root / "runs"
        _wait_for(lambda: any(_count_lines(d / "records.jsonl") >= 4 for d in runs.glob("*/")))
        (run_dir,) = runs.iterdir()
        (run_dir / "records.jsonl").unlink()
        _err = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 4, _err
    assert "Traceback" not in _err
    (line,) = error_lines(_err)
    n = len(records(run_dir))
    assert line == (
        f"error: {run_dir / 'records.jsonl'} was removed while the run wrote to it; its {n} "
        "records were put back: run the same command again to take the run up"
    )
    assert 4 <= n < 100
    loopback.configure(latency_ms=0)
    again = subprocess.run(
        command, check=False, capture_output=True, text=True, env=env(), timeout=60
    )
    assert again.returncode == 0, again.stderr
    assert len(records(run_dir)) == 100
    assert loopback.stats()["requests"] == 100  # nothing paid for twice


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: cache")]


def test_a_locked_cache_does_not_stop_the_run(loopback: LoopbackServer, project: Project) -> None:
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(5))))
    assert invoke("run", path, "-q", "--limit", "1").exit_code == 0  # the cache exists
    holder = sqlite3.connect(os.environ["PROMPTBENCH_CACHE"], isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process holding a write transaction
        ran = invoke("run", path, "-q", "--fresh")
    finally:
        holder.close()
    no_traceback(ran)
    assert ran.exit_code == 0, ran.output
    (line,) = _warnings(ran.stderr)  # said once, not once per call
    assert "database is locked" in line and "another process holds it" in line
    assert "the run goes on without the cache" in line
    assert len(records(max(project.runs, key=lambda d: d.stat().st_mtime_ns))) == 5


def test_a_damaged_cache_is_moved_aside_and_a_fresh_one_made(
    loopback: LoopbackServer, project: Project
) -> None:
    path = str(project.suite(echo_suite(loopback.url, cases=qa_cases(300))))
    assert invoke("run", path, "-q").exit_code == 0
    cache = Path(os.environ["PROMPTBENCH_CACHE"])
    with sqlite3.connect(cache) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = db.execute("PRAGMA page_size").fetchone()[0]
    with cache.open("r+b") as fh:  # page 2: the table's data, not the schema
        fh.seek(page)
        fh.write(b"\xde\xad\xbe\xef" * (page // 4))
    ran = invoke("run", path, "-q", "--fresh")
    no_traceback(ran)
    assert ran.exit_code == 0, ran.output
    (line,) = _warnings(ran.stderr)
    assert "is damaged" in line and "started a fresh one" in line
    (aside,) = (p for p in cache.parent.glob("cache.db.corrupt-*") if p.suffix[-4:-3] != "-")
    assert str(aside) in line
    with sqlite3.connect(cache) as db:  # the fresh one holds this run's answers
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone()[0] > 0


def test_a_cache_removed_mid_run_is_said_once_and_the_run_goes_on(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=50)
    project.suite(echo_suite(loopback.url, cases=qa_cases(60)))
    cache = project.root / ".cache" / "cache.db"
    proc = subprocess.Popen(
        [*promptbench(), "run", "suites/suite.yaml", "-q", "-j", "2"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**env(), "PROMPTBENCH_CACHE": str(cache)},
    )
    try:
        runs = project.root / "runs"
        _wait_for(lambda: any(_count_lines(d / "records.jsonl") >= 4 for d in runs.glob("*/")))
        for part in cache.parent.iterdir():
            part.unlink()
        _err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, _err
    assert "Traceback" not in _err
    (line,) = _warnings(_err)
    assert line.startswith(f"warning: cache {cache} was removed during the run")
    (run_dir,) = (project.root / "runs").iterdir()
    assert len(records(run_dir)) == 60
