"""What run.json says of the suite's repository: asked of git now, or ahead in a thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptbench.runner.runmeta import GitMeta
from promptbench.runner.store import ask_git_ahead, git_info
from tests.helpers.gitrepo import git

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "suite.yaml").write_text("name: s\n", encoding="utf-8")
    git(tmp_path, "add", "suite.yaml")
    git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_the_commit_and_whether_a_tracked_file_changed(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
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
        ask_git_ahead(tmp_path / "GIT_CEILING")
        assert git_info(tmp_path / "GIT_CEILING") is None


def test_the_answer_asked_ahead_is_collected_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = git(repo, "rev-parse", "HEAD")
    ask_git_ahead(repo)
    import promptbench.runner.store as store

    store._AHEAD[repo].thread.join(30)
    monkeypatch.setenv("PATH", "")  # no git from here on: only the answer asked ahead
    assert git_info(repo) == GitMeta(commit=head, dirty=False)
    assert git_info(repo) is None  # used once; asked again now, without git


def test_a_newer_question_replaces_one_never_collected(repo: Path) -> None:
    import promptbench.runner.store as store

    ask_git_ahead(repo)
    store._AHEAD[repo].thread.join(30)
    (repo / "suite.yaml").write_text("name: changed\n", encoding="utf-8")
    ask_git_ahead(repo)  # a resumed run never collected the first answer
    info = git_info(repo)
    assert info is not None and info.dirty


def test_a_run_records_the_answer_asked_while_its_suite_was_checked(repo: Path) -> None:
    (repo / "suite.yaml").write_text(
        "name: git\nprompts: {p: 'Q: {{ q }}'}\nmodels: {m: {provider: mock}}\n"
        "cases: [{id: a, q: hi, expected: 'Q: hi'}]\nmetrics: [exact]\n",
        encoding="utf-8",
    )
    git(repo, "commit", "-q", "-am", "the suite")
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
    recorded = json.loads(run_json.read_text(encoding="utf-8"))["git"]
    assert recorded == {"commit": git(repo, "rev-parse", "HEAD"), "dirty": False}
