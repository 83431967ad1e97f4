"""``promptbench cache stats`` and ``cache clear``, on a cache filled by real runs."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


@pytest.fixture
def filled(loopback: LoopbackServer, project: Project) -> str:
    """A project whose cache holds 4 completions; returns the suite path."""
    project.suite(echo_suite(loopback.url, cases=qa_cases(4)))
    assert invoke("run", "suites/suite.yaml", "--quiet").exit_code == 0
    assert loopback.stats()["requests"] == 4
    return "suites/suite.yaml"


def stats_json(*args: str) -> dict[str, object]:
    result = invoke("cache", "stats", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_stats_json(filled: str) -> None:
    data = stats_json()
    assert data["path"] == os.environ["PROMPTBENCH_CACHE"]
    assert data["entries"] == 4
    assert isinstance(data["bytes"], int)
    assert data["bytes"] > 0
    oldest = datetime.fromisoformat(str(data["oldest"]))
    newest = datetime.fromisoformat(str(data["newest"]))
    assert oldest <= newest
    assert abs((datetime.now() - newest).total_seconds()) < 60


def test_stats_for_people(filled: str) -> None:
    result = invoke("cache", "stats")
    assert result.exit_code == 0
    assert f"cache:   {os.environ['PROMPTBENCH_CACHE']}" in result.stdout
    assert "entries: 4" in result.stdout


def test_stats_of_an_empty_cache(project: Project) -> None:
    data = stats_json()
    assert (data["entries"], data["oldest"], data["newest"]) == (0, None, None)


def test_clear_yes_empties_the_cache_and_the_next_run_calls_again(
    loopback: LoopbackServer, filled: str
) -> None:
    result = invoke("cache", "clear", "--yes")
    no_traceback(result)
    assert result.exit_code == 0
    assert "deleted 4 cached completions" in result.stdout
    assert stats_json()["entries"] == 0
    assert invoke("run", filled, "--quiet").exit_code == 0
    assert loopback.stats()["requests"] == 8
    assert stats_json()["entries"] == 4


def test_clear_asks_first(filled: str) -> None:
    result = invoke("cache", "clear", input="n\n")
    assert result.exit_code == 1
    assert stats_json()["entries"] == 4
    result = invoke("cache", "clear", input="y\n")
    assert result.exit_code == 0
    assert "deleted 4 cached completions" in result.stdout
    assert stats_json()["entries"] == 0


def test_clear_older_than(filled: str) -> None:
    result = invoke("cache", "clear", "--older-than", "1h", "--yes")
    assert result.exit_code == 0
    assert "deleted 0 cached completions" in result.stdout
    assert stats_json()["entries"] == 4


def test_clear_rejects_a_bad_duration(filled: str) -> None:
    result = invoke("cache", "clear", "--older-than", "soon", "--yes")
    no_traceback(result)
    assert result.exit_code == 2
    assert "--older-than 'soon'" in result.stderr
    assert stats_json()["entries"] == 4


def test_path_option_names_another_cache(project: Project, filled: str) -> None:
    other = str(project.root / "other.db")
    assert stats_json("--path", other)["entries"] == 0
    assert stats_json("--path", other)["path"] == other
    assert invoke("cache", "clear", "--path", other, "--yes").exit_code == 0
    assert stats_json()["entries"] == 4


@pytest.mark.parametrize("args", [["cache"], ["cache", "stats"], ["cache", "clear"]])
def test_help_has_an_example(args: list[str]) -> None:
    result = invoke(*args, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
