"""The robustness table in every output: W&B (offline, read back), JUnit and Markdown."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

CASES = [{"id": f"q{i}", "q": f"is claim {i} true?"} for i in range(1, 41)]


def _suite(loopback: LoopbackServer, project: Project, **extra: Any) -> Path:
    loopback.configure(rules=[{"match": "and true is true", "reply": "no"}])
    return project.suite(
        echo_suite(
            loopback.url,
            cases=CASES,
            probes={"taut": {"kind": "tautology"}, "shout": {"kind": "case"}},
            metrics=[{"icontains": "claim"}],
            **extra,
        )
    )


def test_junit_has_a_robustness_suite_and_markdown_its_table(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project)
    result = invoke("run", str(path), "--junit", "j.xml", "--markdown", "r.md")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    root = ET.parse(project.root / "j.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    robust = suites["e2e · robustness"]
    cases = {c.get("name"): c for c in robust.iter("testcase")}
    assert set(cases) == {"taut · plain × loop", "shout · plain × loop"}
    props = {p.get("name"): p.get("value") for p in cases["taut · plain × loop"].iter("property")}
    assert props["verdict"] == "sensitive" and props["PDR (95% CI)"].startswith("1.00")
    # The twins are test cases of their group too, named by their own ids.
    group = {c.get("name") for c in suites["e2e · plain × loop"].iter("testcase")}
    assert {"q1", "q1~taut", "q1~shout"} <= group
    md = (project.root / "r.md").read_text()
    assert "### Robustness: plain × loop" in md
    assert "| taut | tautology | 40 | 100.0% | 0.0% | -100.0 [-100.0, -100.0] |" in md
    assert "<details><summary>q1~taut: pass → fail (plain × loop)</summary>" in md
    assert "<del>" in md and "<ins>no</ins>" in md


def test_wandb_logs_the_robustness_table(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    wandb = pytest.importorskip("wandb")
    from tests.report.test_wandb import offline, offline_runs, read_run

    offline(monkeypatch, project.root)
    path = _suite(loopback, project)
    try:
        result = invoke("run", str(path), "--wandb", "pb-probes")
        no_traceback(result)
        assert result.exit_code == 0, result.output
        (sync_dir,) = offline_runs(project.root / "wandb_dir")
        run = read_run(sync_dir)
        (table,) = run.tables("robustness")
    finally:
        wandb.teardown()
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["data"]]
    assert [(r["probe"], r["verdict"]) for r in rows] == [
        ("taut", "sensitive"),
        ("shout", "robust"),
    ]
    assert rows[0]["pdr"] == 1.0 and rows[0]["cases"] == 40
    assert run.summary["probe/taut/plain/loop/pdr"] == 1.0
