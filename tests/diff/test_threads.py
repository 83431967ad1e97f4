"""A big diff's statistics on two threads: the same result as on one, to the last digit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import promptbench.diff.compute as compute
from promptbench.diff import compare
from promptbench.stats.compare import compare_pairs
from tests.helpers.synthetic_runs import write_synthetic_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    write_synthetic_run(base, "a", 1500, seed=3)
    write_synthetic_run(base, "b", 1500, seed=4, p_pass=0.62)
    return base


def _diff(runs: Path, monkeypatch: pytest.MonkeyPatch, threaded_from: int) -> tuple[str, set[str]]:
    """The diff's JSON and the names of the threads its comparisons ran on."""
    monkeypatch.setattr(compute, "_THREADED_FROM", threaded_from)
    threads: set[str] = set()

    def recording(*args: object, **kwargs: object) -> object:
        threads.add(threading.current_thread().name)
        return compare_pairs(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(compute, "compare_pairs", recording)
    result = compare("a", "b", runs_dir=runs)
    return json.dumps(result.to_json(), sort_keys=True), threads


def test_two_threads_give_the_one_threads_result(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone, on_main = _diff(runs, monkeypatch, threaded_from=10**9)
    shared, on_pool = _diff(runs, monkeypatch, threaded_from=0)
    assert on_main == {threading.current_thread().name}
    assert on_pool and all(name.startswith("promptbench-diff") for name in on_pool)
    assert shared == alone
    assert len(json.loads(shared)["pairs"]) == 4  # a real result: every group compared
