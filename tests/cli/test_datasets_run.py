"""A run over a mapped dataset: the vars reach the server, the origin reaches run.json."""

from __future__ import annotations

import json

import pytest

from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

datasets = pytest.importorskip("datasets")


def test_run_over_a_saved_dataset_records_vars_and_origin(
    project: Project, loopback: LoopbackServer
) -> None:
    rows = [{"qid": f"k{i}", "text": f"item {i}", "gold": f"Q: item {i}"} for i in range(4)]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(
        str(project.root / "data/saved")
    )
    suite = echo_suite(
        loopback.url,
        cases={
            "hf": "../data/saved",
            "split": "test",
            "vars": {"q": "text"},
            "id": "qid",
            "expected": "gold",
            "limit": 3,
        },
        metrics=[{"exact": "{{ expected }}"}],
    )
    result = invoke("run", str(project.suite(suite)), "-q", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    recs = records(latest_run(project))
    assert sorted(r["case_id"] for r in recs) == ["k0", "k1", "k2"]
    assert all(r["passed"] for r in recs)  # the server echoed "Q: item i": the mapping held
    assert {json.dumps(r["vars"]) for r in recs} >= {'{"q": "item 0"}'}
    assert project.meta(latest_run(project))["suite"]["cases"] == "hf:data/saved split=test"
