"""``promptbench validate``: exit 0 on a good suite, 2 with one line per problem on a bad one."""

from __future__ import annotations

import json
import re

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

ISSUE_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<field>[\w.\[\]]+): .+$")


def test_a_good_suite_is_valid_and_no_model_is_called(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(
        echo_suite(
            loopback.url,
            prompts={"a": "Q: {{ q }}", "b": {"system": "Be brief.", "user": "{{ q }}?"}},
            models={"m1": openai_model(loopback.url), "m2": openai_model(loopback.url)},
            cases=qa_cases(5),
            repeat=3,
        )
    )
    result = invoke("validate", "suites/suite.yaml")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "✓ suites/suite.yaml: 2 variants × 2 models × 5 cases × 3 repeats = 60 calls; "
        "metrics: exact"
    )
    assert result.stderr == ""
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


def test_json_output(loopback: LoopbackServer, project: Project) -> None:
    project.suite(echo_suite(loopback.url, gate={"exact": ">= 0.9"}, repeat=2))
    result = invoke("validate", "suites/suite.yaml", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "suite": "suites/suite.yaml",
        "valid": True,
        "name": "e2e",
        "variants": ["plain"],
        "models": ["loop"],
        "cases": 3,
        "cases_origin": "suites/suite.yaml",
        "repeat": 2,
        "records": 6,
        "calls": 6,
        "calls_exact": True,
        "metrics": ["exact"],
        "gate": ["exact >= 0.9"],
    }


def test_conversations_judges_and_tools_are_counted_as_calls(
    loopback: LoopbackServer, project: Project
) -> None:
    """A record can take several calls: the line says so, and bounds them where it must."""
    judge = {"judge": {"rubric": "Kind?", "model": "grader"}}
    models = {
        "m": openai_model(loopback.url),
        "grader": openai_model(loopback.url, model="grader", judge_only=True),
    }
    chat = {"user": "Hi {{ q }}", "turns": ["And?"]}
    project.suite(echo_suite(loopback.url, prompts={"chat": chat}, models=models, metrics=[judge]))
    result = invoke("validate", "suites/suite.yaml")
    assert result.exit_code == 0, result.output
    # The judge-only model is not under test; each record: two turns and a judge's call.
    assert "1 variant × 1 model × 3 cases × 1 repeat = 3 records, 9 calls;" in result.stdout
    tools = {
        "user": "{{ q }}",
        "tools": [{"name": "f", "parameters": {"type": "object"}}],
        "tool_results": {"f": "done"},
        "max_steps": 4,
    }
    project.suite(echo_suite(loopback.url, prompts={"agent": tools}))
    result = invoke("validate", "suites/suite.yaml", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["records"], info["calls"], info["calls_exact"]) == (3, 12, False)
    assert "= 3 records, at most 12 calls;" in invoke("validate", "suites/suite.yaml").stdout
    assert loopback.stats()["requests"] == 0


def test_an_unknown_field_is_one_line_with_file_line_column_and_field(project: Project) -> None:
    path = project.suite(
        "name: bad\n"
        "prompts:\n"
        '  a: "Q: {{ q }}"\n'
        "models:\n"
        "  m: {provider: openai, model: x, temprature: 0}\n"
        "cases:\n"
        "  - {q: 1}\n"
    )
    result = invoke("validate", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "suites/suite.yaml:5:35: models.m.temprature: unknown field; did you mean 'temperature'?"
    ]


def test_every_problem_of_a_section_is_reported(project: Project) -> None:
    path = project.suite(
        "name: bad\n"
        "prompts:\n"
        '  a: "Q: {{ q }}"\n'
        "models:\n"
        "  m: {provider: openai, model: x, temperature: 5}\n"
        "  n: {provider: nope}\n"
        "cases:\n"
        "  - {q: 1}\n"
        "metrics:\n"
        "  - exakt: x\n"
        "gate:\n"
        '  exact: ">= 0.9"\n'
    )
    result = invoke("validate", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 4, lines
    for line in lines:
        assert ISSUE_LINE.match(line), line
    fields = [ISSUE_LINE.match(line)["field"] for line in lines]  # type: ignore[index]
    assert fields == ["models.m.temperature", "models.n.provider", "metrics[0].exakt", "gate.exact"]
    assert "unknown metric 'exakt'; did you mean 'exact'?" in lines[2]


def test_a_yaml_syntax_error_points_at_the_line(project: Project) -> None:
    path = project.suite('name: x\nprompts:\n  a: "Q: {{ q }}\nmodels: {}\n')
    result = invoke("validate", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    assert re.match(r"^suites/suite\.yaml:\d+:\d+: YAML syntax error", result.stderr)


def test_a_template_that_fails_for_a_case_names_the_case(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=[{"id": "ok", "q": "1", "extra": "x"}, {"id": "short", "q": "2"}],
            prompts={"plain": "Q: {{ q }} {{ extra }}"},
        )
    )
    result = invoke("validate", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "case 'short'" in line
    assert "'extra'" in line


def test_a_missing_dataset_is_reported(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(echo_suite(loopback.url, cases="data/missing.jsonl"))
    result = invoke("validate", str(path))
    no_traceback(result)
    assert result.exit_code == 2
    assert re.match(
        r"^suites/suite\.yaml:\d+:\d+: cases: dataset file 'data/missing\.jsonl' not found",
        result.stderr,
    )


def test_several_suites_report_each_and_exit_2_if_any_is_bad(
    loopback: LoopbackServer, project: Project
) -> None:
    project.suite(echo_suite(loopback.url), "suites/good.yaml")
    project.suite("name: bad\n", "suites/bad.yaml")
    good, bad = "suites/good.yaml", "suites/bad.yaml"
    result = invoke("validate", good, bad)
    assert result.exit_code == 2
    assert result.stdout.startswith("✓ suites/good.yaml: 1 variant ")
    assert "suites/bad.yaml" in result.stderr
    result = invoke("validate", good, bad, "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert [(d["suite"], d["valid"]) for d in data] == [
        ("suites/good.yaml", True),
        ("suites/bad.yaml", False),
    ]


def test_a_missing_file_exits_2(project: Project) -> None:
    result = invoke("validate", "nope.yaml")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("nope.yaml: no such suite file")


def test_help_has_an_example() -> None:
    result = invoke("validate", "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
