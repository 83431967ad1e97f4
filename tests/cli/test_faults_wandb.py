"""W&B faults made for real: its directory under a file, on a read-only or a full disk,
a WANDB_MODE it does not know.

Each is one line naming the W&B directory and the fix, never a traceback or exit code 1:
a bad setting is bad input (exit 2, nothing called); a directory W&B cannot write is
found before any call (exit 4, nothing called); a disk that fills while the run logs
is exit 4 after the run, whose records are complete and whose gate verdict stands.
The same command without the fault then logs. Each command runs in its own process,
as a user runs it: wandb's service and its settings are per process.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.cli.test_faults import error_lines, needs_root, tmpfs
from tests.cli.test_subprocess import env, promptbench
from tests.helpers.e2e import echo_suite, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

FIX = "set WANDB_DIR to a writable directory, or run without --wandb"


def wandb_env(root: Path, wandb_dir: Path, mode: str = "offline") -> dict[str, str]:
    """W&B in ``mode``, writing its runs under ``wandb_dir`` and nothing outside ``root``."""
    return {
        **env(),
        "WANDB_MODE": mode,
        "WANDB_DIR": str(wandb_dir),
        "WANDB_DATA_DIR": str(root / "wandb_data"),
        "WANDB_CACHE_DIR": str(root / "wandb_cache"),
        "WANDB_CONFIG_DIR": str(root / "wandb_config"),
    }


def pb(*args: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*promptbench(), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=environ,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 1, proc.stderr  # 1 is a failed gate, and no gate failed
    return proc


def offline_runs(wandb_dir: Path) -> list[Path]:
    return sorted((wandb_dir / "wandb").glob("offline-run-*"))


def test_a_wandb_dir_under_a_file_is_exit_4_before_any_call_and_then_logs(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(echo_suite(loopback.url, cases=qa_cases(3)))
    (project.root / "notes.txt").write_text("a file, not a directory")
    blocked = project.root / "notes.txt" / "wb"
    ran = pb("run", "suites/suite.yaml", "-q", "--wandb", environ=wandb_env(project.root, blocked))
    assert ran.returncode == 4, ran.stderr
    assert error_lines(ran.stderr) == [
        f"error: W&B cannot write to {blocked}/wandb (Not a directory): {FIX}"
    ]
    assert "wandb:" not in ran.stderr  # not wandb's own "falling back to /tmp" lines
    assert loopback.stats()["requests"] == 0
    assert project.runs == []
    # The fault gone, the same command logs.
    good = project.root / "wb"
    again = pb("run", "suites/suite.yaml", "-q", "--wandb", environ=wandb_env(project.root, good))
    assert again.returncode == 0, again.stderr
    assert len(offline_runs(good)) == 1
    assert len(records(project.runs[0])) == 3


def test_an_unknown_wandb_mode_is_exit_2_naming_the_variable(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(echo_suite(loopback.url, cases=qa_cases(2)))
    environ = wandb_env(project.root, project.root / "wb", mode="ofline")
    ran = pb("run", "suites/suite.yaml", "-q", "--wandb", environ=environ)
    assert ran.returncode == 2, ran.stderr
    (line,) = error_lines(ran.stderr)
    assert line.startswith("error: WANDB_MODE='ofline' is not a setting W&B takes (")
    assert line.endswith("): fix or unset WANDB_MODE")
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


@needs_root
def test_a_read_only_wandb_dir_is_exit_4_and_nothing_is_called(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(echo_suite(loopback.url, cases=qa_cases(2)))
    with tmpfs(project.root / "ro", "ro,size=16k") as ro:
        ran = pb("run", "suites/suite.yaml", "-q", "--wandb", environ=wandb_env(project.root, ro))
    assert ran.returncode == 4, ran.stderr
    assert error_lines(ran.stderr) == [
        f"error: W&B cannot write to {ro}/wandb (Read-only file system): {FIX}"
    ]
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


@needs_root
def test_a_wandb_disk_that_fills_mid_run_is_exit_4_and_the_run_is_whole(
    loopback: LoopbackServer, project: Project
) -> None:
    cases = [{"id": f"q{i}", "q": f"q{i} " + "words " * 40} for i in range(1, 401)]
    project.suite(echo_suite(loopback.url, cases=cases, gate={"exact": ">= 0.9"}))
    command = ("run", "suites/suite.yaml", "-q", "--json", "--wandb")
    with tmpfs(project.root / "small", "size=96k") as small:
        environ = wandb_env(project.root, small)
        ran = pb(*command, environ=environ)
        assert ran.returncode == 4, ran.stderr
        (line,) = error_lines(ran.stderr)
        (run_dir,) = project.runs
        assert line.startswith(f"error: W&B logging failed in {small}/wandb/"), line
        assert f"(No space left on device): free some space, or {FIX}" in line
        assert f"the run's records are safe in {run_dir}: send them later" in line
        assert f"promptbench show {run_dir.name} --wandb" in line
        # The run is whole, and W&B's failure did not fail its gate.
        kept = [r["case_id"] for r in records(run_dir)]  # in the order the calls ended
        assert len(kept) == 400 and set(kept) == {c["id"] for c in cases}
        assert project.meta(run_dir)["status"] == "finished"
        assert json.loads(ran.stdout)["outcome"] == "passed"
        paid = loopback.stats()["requests"]
        assert paid == 400
        # Sending the stored run while the disk is still full: the same one line, exit 4.
        show = pb("show", run_dir.name, "--wandb", environ=environ)
        assert show.returncode == 4, show.stderr
        (line,) = error_lines(show.stderr)
        assert line.startswith(f"error: W&B logging failed in {small}/wandb/"), line
        # Room again: the same command logs, and pays for nothing twice.
        subprocess.run(["mount", "-o", "remount,size=16m", str(small)], check=True)
        again = pb(*command, environ=environ)
        assert again.returncode == 0, again.stderr
        assert "W&B: " in again.stderr and not error_lines(again.stderr)
        assert loopback.stats()["requests"] == paid
        assert len(offline_runs(small)) == 3  # the failed, the show's, and this one


def test_rank_and_diff_to_a_wandb_dir_that_cannot_be_written_are_exit_4(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(
        echo_suite(loopback.url, cases=qa_cases(4), prompts={"a": "Q: {{ q }}", "b": "Q: {{ q }}"})
    )
    good = project.root / "wb"
    logged = pb("run", "suites/suite.yaml", "-q", "--wandb", environ=wandb_env(project.root, good))
    assert logged.returncode == 0, logged.stderr
    (project.root / "notes.txt").write_text("a file")
    blocked = wandb_env(project.root, project.root / "notes.txt" / "wb")
    expected = f"error: W&B cannot write to {project.root}/notes.txt/wb/wandb (Not a directory)"
    for args in (
        ("rank", "latest", "--metric", "exact", "--wandb"),
        ("diff", "latest", "--variants", "a", "b", "--wandb"),
    ):
        ran = pb(*args, environ=blocked)
        assert ran.returncode == 4, (args, ran.stderr)
        assert error_lines(ran.stderr) == [f"{expected}: {FIX}"], args
    # Without the fault, both log to the run's W&B run.
    for args in (
        ("rank", "latest", "--metric", "exact", "--wandb"),
        ("diff", "latest", "--variants", "a", "b", "--wandb"),
    ):
        ran = pb(*args, environ=wandb_env(project.root, good))
        assert ran.returncode == 0, (args, ran.stderr)
        assert "W&B: " in ran.stderr, args
    assert os.listdir(good / "wandb")
