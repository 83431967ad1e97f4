"""run.json as one versioned model: landed runs still read, gate rules round-trip exactly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptbench.errors import RunStoreError
from promptbench.runner.runmeta import (
    RUN_FILE,
    SCHEMA_VERSION,
    GateRuleMeta,
    RunMeta,
    SuiteMeta,
    read_meta,
    write_meta,
)
from promptbench.suite.metricspec import GateRule

LANDED = Path(__file__).parents[1] / "fixtures" / "landed-run"


def landed_run_dir(kind: str = "landed-fixture") -> Path:
    """One of the runs the landed version wrote: ``landed-fixture`` or ``landed-budget``."""
    (run_dir,) = [p for p in LANDED.iterdir() if p.name.endswith(kind + "-" + p.name[-4:])]
    return run_dir


def test_a_run_written_before_schema_version_reads_as_version_1() -> None:
    raw = json.loads((landed_run_dir() / RUN_FILE).read_text(encoding="utf-8"))
    assert "schema_version" not in raw  # the fixture is what the landed code wrote
    assert all(isinstance(g, str) for g in raw["suite"]["gate"])
    meta = read_meta(landed_run_dir())
    assert meta.schema_version == 1
    assert meta.run_id == landed_run_dir().name
    assert meta.status == "finished"
    assert meta.suite.name == "landed-fixture"
    assert meta.suite.metrics == ["exact", "icontains"]
    assert [(r.metric, r.op) for r in meta.suite.gate_rules()] == [
        ("exact", ">="),
        ("pass_rate", ">="),
    ]
    # Version 1 kept six significant digits: that is what there is to read back.
    assert meta.suite.gate_rules()[0].value == 0.833333
    assert meta.suite.regression_rules()[0].margin == 0.125
    assert set(meta.variants) == {"plain", "polite"}
    assert meta.models["scripted"].provider == "mock"
    assert meta.counts.records == 10 and meta.counts.errors == 1
    assert meta.command == ["run", "suite.yaml"]
    assert meta.budget is None and meta.resumed_at == []


def test_the_budget_of_a_landed_run_is_read() -> None:
    meta = read_meta(landed_run_dir("landed-budget"))
    assert meta.status == "stopped_at_budget"
    assert meta.budget is not None
    assert (meta.budget.limit, meta.budget.spent, meta.budget.not_run) == (30.0, 25.0, 5)
    assert meta.options.max_cost == 30.0
    assert meta.options.to_json() == {
        "use_cache": True,
        "user_code": True,
        "resume": True,
        "max_cost": 30.0,
    }
    assert meta.max_error_rate == 0.25


def test_rewriting_a_landed_run_keeps_every_field_and_structures_the_gate(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(landed_run_dir(), run_dir)
    before = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    write_meta(run_dir, read_meta(run_dir))
    after = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    assert after["schema_version"] == SCHEMA_VERSION
    assert after["suite"]["gate"][0] == {
        "metric": "exact",
        "op": ">=",
        "threshold": 0.833333,
        "text": ">= 0.833333",
    }
    for key, value in before.items():
        if key != "suite":
            assert after[key] == value, key
    assert {k: v for k, v in after["suite"].items() if k != "gate"} == {
        k: v for k, v in before["suite"].items() if k != "gate"
    }


@pytest.mark.parametrize("threshold", [0.8333333, 1 / 3, 0.1 + 0.2, 12345.678901234])
def test_gate_rules_round_trip_exactly(tmp_path: Path, threshold: float) -> None:
    rule = GateRule("exact", ">=", threshold, f">= {threshold}")
    meta = RunMeta(run_id="r", suite=SuiteMeta(gate=[GateRuleMeta.of(rule)]))
    write_meta(tmp_path, meta)
    (back,) = read_meta(tmp_path).suite.gate_rules()
    assert back == rule
    assert back.value == threshold  # not six significant digits


def test_unknown_fields_of_a_newer_minor_version_are_read_and_kept(tmp_path: Path) -> None:
    data = RunMeta(run_id="r").to_json()
    data["future_field"] = {"kept": True}
    data["suite"]["future_suite_field"] = 3
    (tmp_path / RUN_FILE).write_text(json.dumps(data), encoding="utf-8")
    write_meta(tmp_path, read_meta(tmp_path))
    again = json.loads((tmp_path / RUN_FILE).read_text(encoding="utf-8"))
    assert again["future_field"] == {"kept": True}
    assert again["suite"]["future_suite_field"] == 3


def test_a_newer_schema_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    data = RunMeta(run_id="r").to_json()
    data["schema_version"] = SCHEMA_VERSION + 1
    (tmp_path / RUN_FILE).write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RunStoreError, match="upgrade promptbench"):
        read_meta(tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"status": "exploded"}', "status"),
        ('{"suite": {"gate": ["exact >="]}}', "gate"),
        ("[1, 2]", "not a JSON object"),
        ("{", "unreadable"),
    ],
)
def test_a_damaged_run_json_is_one_line_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    (tmp_path / RUN_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(RunStoreError, match=problem) as info:
        read_meta(tmp_path)
    assert str(tmp_path / RUN_FILE) in str(info.value)
    assert "\n" not in str(info.value)
