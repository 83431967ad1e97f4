"""``promptbench import promptfoo``: the suite written, what is left out, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from promptbench.importers.promptfoo_prompts import variants_take_tools
from promptbench.suite import load_suite
from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.project import Project
from tests.helpers.promptfoo import CONFIGS


def _copy(name: str, project: Project) -> Path:
    target = project.root / name
    shutil.copytree(CONFIGS / name, target)
    return target / "promptfooconfig.yaml"


def test_what_is_left_out_is_listed_with_its_place_and_the_rest_is_written(
    project: Project,
) -> None:
    config = _copy("11-left-out", project)
    result = invoke("import", "promptfoo", str(config), "-o", "suites/agent.yaml")
    no_traceback(result)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("left out: ")]
    expected = [
        "promptfooconfig.yaml: nunjucksFilters: nunjucksFilters; custom template filters run "
        "JavaScript; rewrite them as Jinja2",
        "promptfooconfig.yaml: redteam: redteam; red-team generation is promptfoo's",
        "promptfooconfig.yaml: prompts[1]: a prompt function (prompts/agent.py:build_prompt)",
        "promptfooconfig.yaml: defaultTest.options.transform: transform; not converted",
        "promptfooconfig.yaml: tests[0].assert[0]: javascript assertion: output.includes('Oslo'); "
        "write a python: metric instead",
        "promptfooconfig.yaml: tests[0].assert[1]: webhook assertion: https://example.com/grade",
        "promptfooconfig.yaml: tests[0].assert[2]: contains assertion with a transform",
        "promptfooconfig.yaml: tests[1].assert[0]: is-valid-openai-tools-call assertion; "
        "promptbench has no is-valid-openai-tools-call metric",
        # Before conversations and tools, tools are not converted; after, only tools that
        # every provider has are (a variant's tools go to every model).
        "promptfooconfig.yaml: providers[0].config.tools: tools that not every provider has"
        if variants_take_tools()
        else "promptfooconfig.yaml: providers[0].config.tools: tools; not converted yet",
        "promptfooconfig.yaml: providers[3]: provider a custom provider",
    ]
    # Where the anthropic provider is installed (its entry point), the provider converts.
    from promptbench.providers import providers

    if "anthropic" not in providers:
        expected.append(
            "promptfooconfig.yaml: providers[2]: provider anthropic:messages:claude-sonnet-4-5; "
            "promptbench has no anthropic provider yet"
        )
    for want in expected:
        assert any(line.removeprefix("left out: ").startswith(want) for line in lines), (
            want,
            lines,
        )
    assert len(lines) == len(expected)
    # The rest is a suite that validates.
    suite = load_suite(project.root / "suites" / "agent.yaml")
    converted = ["agent", "llama3.2"] + (["claude-sonnet-4-5"] if "anthropic" in providers else [])
    assert sorted(suite.models) == sorted(converted)
    assert len(suite.cases) == 2
    data = yaml.safe_load((project.root / "suites" / "agent.yaml").read_text())
    agent = data["models"]["agent"]
    assert agent["api_key_env"] == "TRAVEL_OPENAI_KEY"
    assert agent["extra_body"] == {"frequency_penalty": 0.5}
    assert agent["response_format"] == "json_object"
    assert data["models"]["llama3.2"] == {
        "provider": "openai",
        "base_url": "http://localhost:11434/v1",
        "model": "llama3.2",
        "max_tokens": 64,
    }
    metrics = data["cases"][0]["metrics"]
    assert metrics == [
        {"semantic_similarity": {"reference": "I booked your flight to Oslo.", "threshold": 0.75}},
        {"icontains": {"value": "oslo"}},
    ]


def test_an_api_key_in_the_config_is_never_written(project: Project) -> None:
    config = _copy("11-left-out", project)
    invoke("import", "promptfoo", str(config), "-o", "suites/agent.yaml")
    for path in (project.root / "suites").iterdir():
        assert "sk-secret-not-to-be-copied" not in path.read_text()


def test_output_is_deterministic_and_commented(project: Project) -> None:
    config = _copy("02-prompt-files", project)
    first = invoke("import", "promptfoo", str(config), "-o", "suites/a.yaml")
    second = invoke("import", "promptfoo", str(config), "-o", "suites/b.yaml")
    assert first.exit_code == second.exit_code == 0, first.output
    a = (project.root / "suites" / "a.yaml").read_text()
    b = (project.root / "suites" / "b.yaml").read_text()
    assert a.replace("name: a", "name: b") == b
    assert "# from prompts/qa.txt, prompt 2 of 2; nunjucks → Jinja2: .length is | length" in a
    assert "{% if hints | length > 0 %}Hints: {{ hints | tojson }}{% endif %}" in a


def test_existing_files_are_not_overwritten_without_force(project: Project) -> None:
    config = _copy("01-triage", project)
    suite = project.root / "suites" / "t.yaml"
    suite.parent.mkdir()
    suite.write_text("keep me\n")
    refused = invoke("import", "promptfoo", str(config), "-o", str(suite))
    no_traceback(refused)
    assert refused.exit_code == 2
    assert "exists" in refused.stderr and "--force" in refused.stderr
    assert suite.read_text() == "keep me\n"
    forced = invoke("import", "promptfoo", str(config), "-o", str(suite), "--force")
    assert forced.exit_code == 0, forced.output
    assert load_suite(suite).name == "t"


def test_default_output_is_named_after_the_description(project: Project) -> None:
    config = _copy("01-triage", project)
    result = invoke("import", "promptfoo", str(config), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["suite"] == "suites/support-ticket-triage.yaml"
    assert report["variants"] == 2 and report["models"] == 1 and report["cases"] == 4
    assert report["left_out"] == [] and report["invalid"] == []


def test_bad_configs_are_one_line_and_exit_2(project: Project) -> None:
    missing = invoke("import", "promptfoo", "nope.yaml")
    assert missing.exit_code == 2
    assert "nope.yaml: no such file" in missing.stderr
    (project.root / "bad.yaml").write_text("prompts: [unclosed\n")
    bad = invoke("import", "promptfoo", "bad.yaml")
    assert bad.exit_code == 2 and "cannot be read as YAML" in bad.stderr
    (project.root / "promptfooconfig.js").write_text("module.exports = {}\n")
    js = invoke("import", "promptfoo", "promptfooconfig.js")
    assert js.exit_code == 2 and "JavaScript config" in js.stderr
    for result in (missing, bad, js):
        no_traceback(result)
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (project.root / "suites").exists()


def test_undefined_vars_are_empty_as_in_promptfoo(project: Project) -> None:
    (project.root / "promptfooconfig.yaml").write_text(
        "prompts: ['Hi {{ name }}{{ suffix }}']\n"
        "providers: [openai:gpt-4o-mini]\n"
        "tests:\n"
        "  - vars: {name: Ada, suffix: '!'}\n"
        "  - vars: {name: Grace}\n"
    )
    result = invoke("import", "promptfoo", "-o", "suites/s.yaml")
    assert result.exit_code == 0, result.output
    suite = load_suite(project.root / "suites" / "s.yaml")
    assert suite.render_issues() == []
    rendered = [suite.variants["prompt1"].render(c)[0].content for c in suite.iter_cases()]
    assert rendered == ["Hi Ada!", "Hi Grace"]
    assert (
        "suffix undefined in promptfoo, so empty"
        in (project.root / "suites" / "s.yaml").read_text()
    )


def test_many_cases_go_to_a_data_file_beside_the_suite(project: Project) -> None:
    rows = "\n".join(f"q{i},contains:q{i}" for i in range(60))
    (project.root / "tests.csv").write_text("question,__expected\n" + rows + "\n")
    (project.root / "promptfooconfig.yaml").write_text(
        "prompts: ['{{ question }}']\nproviders: [openai:gpt-4o-mini]\ntests: file://tests.csv\n"
    )
    result = invoke("import", "promptfoo", "-o", "suites/big.yaml")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((project.root / "suites" / "big.yaml").read_text())
    assert data["cases"] == "big.cases.yaml"
    suite = load_suite(project.root / "suites" / "big.yaml")
    cases = list(suite.iter_cases())
    assert len(cases) == 60
    assert cases[59].vars == {"question": "q59"}
    assert [m.params for m in cases[59].metrics] == [{"value": "q59"}]


def test_tools_of_every_provider_go_on_every_variant(project: Project) -> None:
    (project.root / "promptfooconfig.yaml").write_text(
        """
prompts: ["Book {{ trip }}"]
providers:
  - id: openai:chat:gpt-4o-mini
    config:
      tool_choice: {type: function, function: {name: book}}
      tools:
        - type: function
          function:
            name: book
            parameters: {type: object, properties: {to: {type: string}}}
tests:
  - vars: {trip: Oslo}
    assert:
      - type: tool-call-f1
        value: [book]
"""
    )
    result = invoke("import", "promptfoo", "-o", "suites/s.yaml", "--json")
    report = json.loads(result.stdout)
    data = yaml.safe_load((project.root / "suites" / "s.yaml").read_text())
    if variants_take_tools():
        assert result.exit_code == 0, report
        assert data["prompts"]["prompt1"]["tool_choice"] == "book"
        assert data["prompts"]["prompt1"]["tools"][0]["function"]["name"] == "book"
        assert data["cases"][0]["metrics"] == [
            {"tool_calls_match": {"expected": [{"name": "book"}], "threshold": 1.0}}
        ]
        assert report["invalid"] == []
    else:
        assert result.exit_code == 1
        wheres = [x["where"] for x in report["left_out"]]
        assert wheres == [
            "promptfooconfig.yaml: providers[0].config.tools",
            "promptfooconfig.yaml: tests[0].assert[0]",
        ]
        assert "tools" not in data["prompts"]["prompt1"]


def test_hosted_providers_where_promptbench_has_them(project: Project) -> None:
    from promptbench.providers import providers

    (project.root / "promptfooconfig.yaml").write_text(
        """
prompts: ["{{ q }}"]
providers:
  - id: anthropic:messages:claude-haiku-4-5
    config: {max_tokens: 64}
  - id: azure:chat:triage-deploy
    config: {apiHost: acme.openai.azure.com, apiVersion: "2024-10-21"}
  - id: google:gemini-2.5-flash
  - id: vertex:gemini-2.5-pro
tests: [{vars: {q: hi}}]
"""
    )
    result = invoke("import", "promptfoo", "-o", "suites/s.yaml", "--json")
    report = json.loads(result.stdout)
    assert report["invalid"] == []
    data = yaml.safe_load((project.root / "suites" / "s.yaml").read_text())
    expected = {
        "anthropic": (
            "claude-haiku-4-5",
            {
                "provider": "anthropic",
                "model": "claude-haiku-4-5",
                "max_tokens": 64,
            },
        ),
        "azure": (
            "triage-deploy",
            {
                "provider": "azure",
                "deployment": "triage-deploy",
                "endpoint": "https://acme.openai.azure.com",
                "api_version": "2024-10-21",
            },
        ),
        "gemini": ("gemini-2.5-flash", {"provider": "gemini", "model": "gemini-2.5-flash"}),
    }
    left = " ".join(x["what"] + x["instead"] for x in report["left_out"])
    for provider, (name, entry) in expected.items():
        if provider in providers:
            assert data["models"][name] == entry
        else:
            assert f"promptbench has no {provider} provider yet" in left
