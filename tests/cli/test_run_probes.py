"""``promptbench run`` with probes: --probe, --probes-only, probe gates, tables and files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.helpers.e2e import echo_suite, invoke, no_traceback
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

CASES = [{"id": f"q{i}", "q": f"is claim {i} true?"} for i in range(1, 41)]
PROBES = {
    "taut": {"kind": "tautology", "target": {"vars": ["q"]}},
    "shout": {"kind": "case", "mode": "upper", "target": {"vars": ["q"]}},
}


def _suite(loopback: LoopbackServer, project: Project, **extra: Any) -> Path:
    # The echo passes every case; a rule makes the tautology twins fail.
    loopback.configure(rules=[{"match": "and true is true", "reply": "no"}])
    return project.suite(
        echo_suite(
            loopback.url, cases=CASES, probes=PROBES, metrics=[{"icontains": "claim"}], **extra
        )
    )


def test_a_probe_gate_fails_the_run_and_the_table_shows_why(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project, gate={"probe.taut.pdr": "<= 0.10", "probe.shout.pdr": 0})
    result = invoke("run", str(path), "--csv", "out.csv")
    no_traceback(result)
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "robustness · plain × loop" in out
    assert "✗ gate probe.taut.pdr <= 0.1 for plain × loop: 1" in out
    assert "✓ gate probe.shout.pdr >= 0 for plain × loop: 0" in out
    assert "sensitive" in out and "robust" in out
    assert "q1~taut" in out and "word diff:" in out  # a flipped case, with both outputs
    rows = list(csv.DictReader((project.root / "out-probes.csv").open()))
    assert [(r["probe"], r["verdict"]) for r in rows] == [
        ("taut", "sensitive"),
        ("shout", "robust"),
    ]
    assert float(rows[0]["pdr"]) == 1.0 and rows[0]["cases"] == "40"


def test_probe_option_runs_only_that_probe(loopback: LoopbackServer, project: Project) -> None:
    path = _suite(loopback, project)
    result = invoke("run", str(path), "--probe", "shout", "--json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["probe"] for r in data["probes"]["results"]] == ["shout"]
    assert loopback.stats()["requests"] == 80


def test_no_probes_runs_the_cases_only(loopback: LoopbackServer, project: Project) -> None:
    path = _suite(loopback, project, gate={"probe.taut.pdr": "<= 0.10"})
    result = invoke("run", str(path), "--no-probes")
    no_traceback(result)
    assert loopback.stats()["requests"] == 40
    # The probe's gate has nothing to judge: it does not hold.
    assert result.exit_code == 1, result.output
    assert "robustness" not in result.stdout


def test_probes_only_leaves_the_suites_own_gate_out(
    loopback: LoopbackServer, project: Project
) -> None:
    gate = {"pass_rate": "> 1", "probe.shout.flip_rate": "<= 0.05"}  # the first cannot hold
    path = _suite(loopback, project, gate=gate)
    plain = invoke("run", str(path), "--probe", "shout")
    assert plain.exit_code == 1, plain.output
    only = invoke("run", str(path), "--probe", "shout", "--probes-only")
    no_traceback(only)
    assert only.exit_code == 0, only.output
    assert "gate pass_rate" not in only.stdout
    assert "✓ gate probe.shout.flip_rate <= 0.05 for plain × loop: 0" in only.stdout


def test_an_unknown_probe_is_refused_before_anything_runs(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project)
    result = invoke("run", str(path), "--probe", "tuat")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown probe 'tuat'; did you mean 'taut'?"
    assert result.stdout == ""
    assert loopback.stats()["requests"] == 0
    assert not (project.root / "runs").exists()


def test_a_probe_regression_against_a_baseline_fails_the_run(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.reset()
    regression = {"regression": [{"metric": "probe.taut", "margin": 0.1}]}
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=CASES,
            probes={"taut": {"kind": "tautology", "target": {"vars": ["q"]}}},
            metrics=[{"icontains": "claim"}],
            gate=regression,
        )
    )
    first = invoke("run", str(path))  # the echo: the tautology changes nothing
    assert first.exit_code == 0, first.output
    saved = invoke("baseline", "save", "latest", "base.json")
    assert saved.exit_code == 0, saved.output
    assert '"probe"' in (project.root / "base.json").read_text()
    same = invoke("run", str(path), "--baseline", "base.json")
    no_traceback(same)
    assert same.exit_code == 0, same.output
    # Now the model fails every twin with the tautology: it is less robust than before.
    loopback.configure(rules=[{"match": "and true is true", "reply": "no"}])
    worse = invoke("run", str(path), "--baseline", "base.json", "--no-cache")
    no_traceback(worse)
    assert worse.exit_code == 1, worse.output
    assert "probe.taut" in worse.stdout and "significantly worse" in worse.stdout


def test_a_regression_rule_must_name_a_probe(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=CASES[:3],
            probes={"taut": {"kind": "tautology"}},
            gate={"regression": {"metric": "probe.tuat"}},
        )
    )
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert "gate.regression.metric: unknown probe 'tuat'; did you mean 'taut'?" in result.stderr


def test_show_reprints_the_robustness_table_and_the_probe_gate(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project, gate={"probe.taut.pdr": "<= 0.10"})
    ran = invoke("run", str(path), "--json")
    assert ran.exit_code == 1
    shown = invoke("show", "--json")
    no_traceback(shown)
    data, before = json.loads(shown.stdout), json.loads(ran.stdout)
    assert data["outcome"] == "gate_failed" and data["gate"] == before["gate"]
    assert data["probes"]["results"] == before["probes"]["results"]
    text = invoke("show")
    assert "robustness · plain × loop" in text.stdout
    assert "✗ gate probe.taut.pdr <= 0.1 for plain × loop: 1" in text.stdout


def test_validate_counts_the_twins_among_the_calls(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project)
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    assert "1 variant × 1 model × (40 cases + 80 probe twins) × 1 repeat = 120 calls" in (
        result.stdout
    )
    assert loopback.stats()["requests"] == 0
