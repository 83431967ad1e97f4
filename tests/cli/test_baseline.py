"""Baselines and the regression gate: ``baseline save``, ``run --baseline``, ``gate.regression``.

The gate is tested the way the issue asks: a model that answers right with a known
probability (the loopback server's seeded ``p_correct`` rule), run as a baseline and
again. Noise must not fail the gate; a real drop must. The example GitHub workflow is
checked here too: it cannot run in this sandbox, so its structure and every promptbench
command it calls are validated against the real CLI.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from promptbench.cli import app
from promptbench.errors import SuiteError
from promptbench.suite import load_suite
from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, qa_cases, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "prompt-regression.yml"


def yes_suite(url: str, n: int, **extra: Any) -> dict[str, Any]:
    """``n`` questions scored by ``exact: yes``; the server's p_correct rule answers them."""
    return {
        "name": "yes",
        "prompts": {"p": "Answer yes: {{ q }}"},
        "models": {"loop": openai_model(url)},
        "cases": qa_cases(n),
        "metrics": [{"exact": "yes"}],
        **extra,
    }


def answer_right(loopback: LoopbackServer, p: float, seed: int) -> None:
    rule = {"match": "Answer yes", "p_correct": p, "correct": "yes", "wrong": "no"}
    loopback.configure(seed=seed, rules=[rule])


# --------------------------------------------------------------------------- baseline save


def test_save_writes_a_stable_compact_file_without_secrets(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TEAM_KEY", "sk-test-SECRET-1234")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other-SECRET-5678")
    # q3 fails on both repeats: the server deals a rule's faults to its matches in turn,
    # and the two repeats reach it in either order.
    loopback.configure(
        rules=[{"match": "q2", "reply": "wrong"}, {"match": "q3", "faults": ["400", "400"]}]
    )
    model = openai_model(loopback.url, api_key_env="MY_TEAM_KEY")
    suite = echo_suite(loopback.url, cases=qa_cases(12), models={"loop": model}, repeat=2)
    suite["gate"] = {"regression": {"metric": "exact", "margin": 0.02}}
    assert invoke("run", str(project.suite(suite)), "-q").exit_code == 0  # 2 errors in 24
    run_dir = latest_run(project)

    result = invoke("baseline", "save", "latest", "base.json")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert f"wrote 24 records of run {run_dir.name} (suite e2e) to base.json" in result.stdout
    text = (project.root / "base.json").read_text(encoding="utf-8")
    # Stable: the same run saved again gives the same bytes.
    assert invoke("baseline", "save", str(run_dir), "again.json").exit_code == 0
    assert (project.root / "again.json").read_text(encoding="utf-8") == text
    # No secrets: no key, no variable naming one, no base URL, no error message.
    error_message = next(r["error"]["message"] for r in records(run_dir) if r["error"])
    for secret in ("SECRET", "MY_TEAM_KEY", "api_key", "127.0.0.1", error_message):
        assert secret not in text
    data = json.loads(text)
    assert data["format"] == "promptbench-baseline" and data["version"] == 1
    assert data["suite"]["name"] == "e2e" and data["suite"]["metrics"] == ["exact"]
    assert data["suite"]["regression"] == [{"metric": "exact", "margin": 0.02}]
    assert data["models"] == {"loop": {"provider": "openai", "model": "loopback"}}
    # Records in natural case order, then repeat; one per line.
    keys = [(r["case_id"], r["repeat"]) for r in data["records"]]
    assert keys[:4] == [("q1", 0), ("q1", 1), ("q2", 0), ("q2", 1)]
    assert keys[-1] == ("q12", 1)
    assert text.count("\n    {") == 24
    q2 = next(r for r in data["records"] if r["case_id"] == "q2")
    assert q2 == {
        "case_id": "q2",
        "variant": "plain",
        "model": "loop",
        "repeat": 0,
        "passed": False,
        "scores": {"exact": {"value": 0.0, "passed": False}},
        "output": "wrong",
        "error": None,
    }
    q3s = [r for r in data["records"] if r["case_id"] == "q3"]
    assert [r["error"] for r in q3s] == ["client_error"] * 2  # the kind only, never the message
    assert all(r["scores"] == {} and r["passed"] is None for r in q3s)

    small = invoke("baseline", "save", "latest", "small.json", "--no-outputs")
    assert small.exit_code == 0
    assert all(
        "output" not in r for r in json.loads((project.root / "small.json").read_text())["records"]
    )


def test_save_needs_a_run(project: Project) -> None:
    result = invoke("baseline", "save", "latest", "base.json")
    assert result.exit_code == 2
    assert "no runs in" in result.stderr
    assert not (project.root / "base.json").exists()


# --------------------------------------------------------------------------- diff with a baseline


def test_diff_takes_a_baseline_file_as_a_or_b(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(4)))
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "baselines/base.json").exit_code == 0
    loopback.configure(rules=[{"match": "q2", "reply": "nope"}])
    assert invoke("run", str(path), "-q", "--no-cache").exit_code == 0

    as_a = invoke("diff", "baselines/base.json", "latest")
    no_traceback(as_a)
    assert as_a.exit_code == 0, as_a.output
    assert "A: baselines/base.json (baseline baselines/base.json, suite e2e)" in as_a.stdout
    assert "▼ q2  pass → fail" in as_a.stdout
    assert "word diff: [-Q: q2-]{+nope+}" in as_a.stdout

    as_b = json.loads(invoke("diff", "latest", "baselines/base.json", "--json").stdout)
    assert as_b["b"]["kind"] == "baseline"
    assert [(f["case_id"], f["direction"]) for f in as_b["pairs"][0]["flips"]] == [
        ("q2", "improvement")
    ]

    (project.root / "bad.json").write_text('{"format": "something else"}', encoding="utf-8")
    bad = invoke("diff", "bad.json", "latest")
    assert bad.exit_code == 2 and "bad.json: not a promptbench baseline" in bad.stderr


# --------------------------------------------------------------------------- run --baseline


def test_run_baseline_passes_on_noise_and_fails_on_a_real_drop(
    loopback: LoopbackServer, project: Project
) -> None:
    # 200 questions answered right with probability 0.8, one call at a time so that the
    # seeded answers go to the same cases on every run of this test.
    gate = {"regression": {"metric": "exact", "margin": 0.02}}
    path = project.suite(yes_suite(loopback.url, 200, gate=gate, concurrency=1))
    answer_right(loopback, 0.8, seed=1)
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0

    # The same model again, other random answers: noise. The gate holds.
    answer_right(loopback, 0.8, seed=2)
    noise = invoke("run", str(path), "-q", "--no-cache", "--baseline", "base.json")
    no_traceback(noise)
    assert noise.exit_code == 0, noise.output
    assert "✓ regression exact (margin 0.02) for p × loop:" in noise.stdout
    assert "B: this run (run " in noise.stdout

    # A real drop, 80% → 50%: the gate fails, exit 1, and says why.
    answer_right(loopback, 0.5, seed=3)
    drop = invoke("run", str(path), "-q", "--no-cache", "--baseline", "base.json", "--json")
    no_traceback(drop)
    assert drop.exit_code == 1, drop.output
    data = json.loads(drop.stdout)
    assert data["outcome"] == "no_gate"  # the ordinary gate had nothing to say
    (check,) = data["regression"]["checks"]
    assert check["regressed"] is True and check["metric"] == "exact"
    assert check["verdict"] == "worse" and check["ci_high"] < -0.02
    assert data["diff"]["a"]["kind"] == "baseline"
    assert data["baseline"]["source"] == "base.json"


def test_run_baseline_without_rules_gates_every_metric_at_margin_0(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(yes_suite(loopback.url, 40))
    loopback.configure(rules=[{"match": "Answer yes", "reply": "yes"}])
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    loopback.configure(rules=[{"match": "Answer yes", "reply": "no"}])
    result = invoke("run", str(path), "-q", "--no-cache", "--baseline", "base.json")
    assert result.exit_code == 1, result.output
    assert "every metric, margin 0" in result.stdout
    assert "✗ regression pass_rate (margin 0) for p × loop" in result.stdout
    assert "✗ regression exact (margin 0) for p × loop" in result.stdout


def test_a_margin_from_the_suite_tolerates_a_drop(
    loopback: LoopbackServer, project: Project
) -> None:
    # 40 cases, 10 flip to wrong: a significant 25-point drop, but the suite allows 30.
    gate = {
        "regression": [{"metric": "exact", "margin": 0.3}, {"metric": "pass_rate", "margin": 0.3}]
    }
    path = project.suite(yes_suite(loopback.url, 40, gate=gate))
    loopback.configure(rules=[{"match": "Answer yes", "reply": "yes"}])
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    rules = [{"match": f"q{i}", "reply": "no"} for i in range(31, 41)]
    loopback.configure(rules=[*rules, {"match": "Answer yes", "reply": "yes"}])
    result = invoke("run", str(path), "-q", "--no-cache", "--baseline", "base.json")
    assert result.exit_code == 0, result.output
    assert "worse, but not by more than the margin 0.3" in result.stdout
    # diff reads the same rules from the run it compares (run.json records them).
    assert project.meta()["suite"]["regression"][0] == {"metric": "exact", "margin": 0.3}
    assert invoke("diff", "base.json", "latest", "--fail-on-regression").exit_code == 0


def test_a_bad_baseline_stops_the_run_before_any_call(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(echo_suite(loopback.url))
    missing = invoke("run", str(path), "--baseline", "nope.json")
    no_traceback(missing)
    assert missing.exit_code == 2
    assert "nope.json: no such baseline file" in missing.stderr
    (project.root / "other.json").write_text(
        json.dumps(
            {"format": "promptbench-baseline", "version": 1, "suite": {"name": "x"}, "records": []}
        ),
        encoding="utf-8",
    )
    other = invoke("run", str(path), "--baseline", "other.json")
    assert other.exit_code == 2
    assert "other.json is a baseline of suite 'x', not of 'e2e'" in other.stderr
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


# --------------------------------------------------------------------------- gate.regression


def write_suite(project: Project, gate: str) -> Path:
    return project.write(
        "suites/s.yaml",
        "name: s\nprompts: {a: hi}\nmodels: {m: {provider: mock}}\ncases: [{q: 1}]\n"
        f"metrics: [exact, contains: x]\ngate:\n{gate}",
    )


def test_regression_rules_parse_as_one_mapping_or_a_list(project: Project) -> None:
    one = load_suite(write_suite(project, "  regression: {metric: exact, margin: 0.02}\n"))
    assert [(r.metric, r.margin) for r in one.regression] == [("exact", 0.02)]
    assert one.gate == ()
    many = load_suite(
        write_suite(
            project,
            "  exact: '>= 0.5'\n  regression:\n    - {metric: contains}\n"
            "    - {metric: pass_rate, margin: 0.05}\n",
        )
    )
    assert [(r.metric, r.margin) for r in many.regression] == [
        ("contains", 0.0),
        ("pass_rate", 0.05),
    ]
    assert [str(g) for g in many.gate] == ["exact >= 0.5"]


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (
            "  regression: {metric: exakt}\n",
            "suites/s.yaml:7:24: gate.regression.metric: 'exakt' is not a metric of this suite; "
            "did you mean 'exact'?",
        ),
        (
            "  regression: {metric: exact, margin: 2}\n",
            "suites/s.yaml:7:39: gate.regression.margin: input should be less than or equal to 1 "
            "(got 2)",
        ),
        (
            "  regression: {metric: exact, margn: 0.1}\n",
            "suites/s.yaml:7:31: gate.regression.margn: unknown field; did you mean 'margin'?",
        ),
        (
            "  regression:\n    - exact\n",
            "suites/s.yaml:8:7: gate.regression[0]: a regression rule is a mapping: "
            "{metric: exact, margin: 0.02}",
        ),
    ],
)
def test_regression_rule_errors_name_file_line_and_field(
    project: Project, gate: str, expected: str
) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(write_suite(project, gate))
    assert [str(i) for i in info.value.issues] == [expected]


def test_a_metric_named_regression_is_renamed(project: Project) -> None:
    path = project.write(
        "suites/s.yaml",
        "name: s\nprompts: {a: hi}\nmodels: {m: {provider: mock}}\ncases: [{q: 1}]\n"
        "metrics: [{exact: {name: regression}}]\n",
    )
    assert load_suite(path).metric_names == ["regression_2"]


# --------------------------------------------------------------------------- the workflow


def _commands(script: str) -> list[list[str]]:
    """Every ``promptbench ...`` command line of a shell script, as words."""
    joined = script.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        if re.match(r"\s*promptbench\s", line):
            words = shlex.split(line.strip())
            found.append([w for w in words if not w.startswith('"${') and w != "${compare[@]}"])
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    # Typer's command objects (its own vendored click): a group has ``commands``.
    cmd: Any = typer.main.get_command(app)
    rest = words[1:]
    while hasattr(cmd, "commands"):
        assert rest and rest[0] in cmd.commands, f"no promptbench command {rest[:1]}"
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    return cmd, rest


def test_the_example_workflow_is_well_formed_and_calls_real_commands() -> None:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    on = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in on
    assert data["permissions"]["pull-requests"] == "write"
    (job,) = data["jobs"].values()
    steps = job["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    for action in (
        "actions/checkout",
        "actions/setup-python",
        "actions/cache/restore",
        "actions/github-script",
        "actions/cache/save",
    ):
        assert action in uses
    for step in steps:
        assert set(step) <= {"name", "id", "uses", "with", "run", "if", "env", "working-directory"}
        assert ("uses" in step) != ("run" in step)
    refs = [s["with"]["ref"] for s in steps if s.get("uses", "").startswith("actions/checkout")]
    assert refs == [
        "${{ github.event.pull_request.head.sha }}",
        "${{ github.event.pull_request.base.sha }}",
    ]
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore"))
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save"))
    assert "hashFiles(" in restore["with"]["key"] and restore["with"]["restore-keys"]
    assert save["if"] == "always()"  # the cache is kept even when the job fails
    assert restore["with"]["path"] == save["with"]["path"] == ".promptbench-cache"
    assert data["env"]["PROMPTBENCH_CACHE"].endswith(".promptbench-cache/cache.db")
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "GITHUB_STEP_SUMMARY" in scripts
    comment = next(s for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert "<!-- promptbench-report -->" in comment["with"]["script"]
    assert "createComment" in comment["with"]["script"]
    # Every promptbench command and option the workflow uses exists.
    commands = _commands(scripts)
    assert [c[:3] for c in commands] == [
        ["promptbench", "run", "$SUITE"],
        ["promptbench", "baseline", "save"],
        ["promptbench", "run", "$SUITE"],
    ]
    for words in commands:
        cmd, rest = _resolve(words)
        options = {o for p in cmd.params for o in p.opts}
        used = {w for w in rest if w.startswith("-")}
        assert used <= options, f"{' '.join(words)}: unknown options {used - options}"
    head_run = " ".join(commands[-1])
    assert "--junit" in head_run and "--markdown" in head_run
    assert "--baseline" in scripts
    fail = steps[-1]
    assert fail["if"] == "steps.head.outputs.code != '0'" and "exit" in fail["run"]


def test_a_baseline_with_nothing_in_common_is_said_loudly_not_failed(
    loopback: LoopbackServer, project: Project
) -> None:
    old = echo_suite(loopback.url, prompts={"old": "Q: {{ q }}"})
    assert invoke("run", str(project.suite(old)), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    renamed = project.suite(echo_suite(loopback.url, prompts={"new": "Q: {{ q }}"}))
    result = invoke("run", str(renamed), "-q", "--baseline", "base.json", "--markdown", "r.md")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "not compared with the baseline base.json: no variant × model group" in result.stderr
    md = (project.root / "r.md").read_text(encoding="utf-8")
    assert "> ⚠️ not compared with the baseline base.json" in md
