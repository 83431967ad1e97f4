"""What run.json says of the suite's repository: its commit, and whether it has changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptbench.runner.runmeta import GitMeta
from promptbench.runner.store import git_info

ROOT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / "suite.yaml").write_text("name: s\n", encoding="utf-8")
    _git(tmp_path, "add", "suite.yaml")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_the_commit_and_whether_a_tracked_file_changed(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    assert git_info(repo) == GitMeta(commit=head, dirty=False)
    (repo / "untracked.txt").write_text("x", encoding="utf-8")
    assert git_info(repo) == GitMeta(commit=head, dirty=False)  # untracked files do not count
    (repo / "suite.yaml").write_text("name: changed\n", encoding="utf-8")
    assert git_info(repo) == GitMeta(commit=head, dirty=True)


def test_no_repository_no_answer(tmp_path: Path) -> None:
    (tmp_path / "GIT_CEILING").mkdir()
    # GIT_CEILING_DIRECTORIES keeps git from finding a repository above tmp_path.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
        assert git_info(tmp_path / "GIT_CEILING") is None


def test_a_run_records_the_commit_in_run_json(repo: Path) -> None:
    (repo / "suite.yaml").write_text(
        "name: git\nprompts: {p: 'Q: {{ q }}'}\nmodels: {m: {provider: mock}}\n"
        "cases: [{id: a, q: hi, expected: 'Q: hi'}]\nmetrics: [exact]\n",
        encoding="utf-8",
    )
    _git(repo, "commit", "-q", "-am", "the suite")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PROMPTBENCH_CACHE": str(repo / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(repo / "runs"),
    }
    subprocess.run(
        [sys.executable, "-m", "promptbench", "run", "suite.yaml", "-q", "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    (run_json,) = (repo / "runs").glob("*/run.json")
    git = json.loads(run_json.read_text(encoding="utf-8"))["git"]
    assert git == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False}
