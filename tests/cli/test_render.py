"""``promptbench render``: the prompts a run would send, and no model call."""

from __future__ import annotations

import json

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


@pytest.fixture
def suite(loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch) -> str:
    # The key's variable is unset: render never sets up a provider, so it needs no key.
    monkeypatch.delenv("PB_RENDER_KEY", raising=False)
    project.suite(
        echo_suite(
            loopback.url,
            prompts={
                "terse": "Q: {{ q }}",
                "chat": {"system": "You answer about {{ q }}.", "user": "Tell me: {{ q }}"},
            },
            cases=qa_cases(5),
            model_params={"api_key_env": "PB_RENDER_KEY"},
        )
    )
    return "suites/suite.yaml"


def test_shows_rendered_prompts_without_calling_a_model(
    loopback: LoopbackServer, suite: str
) -> None:
    result = invoke("render", suite)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # The first 3 cases by default, every variant.
    for case in ("q1", "q2", "q3"):
        assert f"case {case} · variant terse" in out
        assert f"case {case} · variant chat" in out
        assert f"Q: {case}" in out
        assert f"You answer about {case}." in out
        assert f"Tell me: {case}" in out
    assert "q4" not in out
    assert "system" in out
    assert "user" in out
    assert loopback.stats()["requests"] == 0


def test_json_filters_and_limit(loopback: LoopbackServer, suite: str) -> None:
    result = invoke("render", suite, "--json", "-v", "chat", "-c", "q4", "-c", "q2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "case_id": case,
            "variant": "chat",
            "messages": [
                {"role": "system", "content": f"You answer about {case}."},
                {"role": "user", "content": f"Tell me: {case}"},
            ],
        }
        for case in ("q2", "q4")  # file order
    ]
    result = invoke("render", suite, "--json", "--limit", "5", "--variant", "terse")
    assert [(d["case_id"], d["variant"]) for d in json.loads(result.stdout)] == [
        (f"q{i}", "terse") for i in range(1, 6)
    ]
    assert loopback.stats()["requests"] == 0


def test_vars_are_shown_verbatim(loopback: LoopbackServer, project: Project) -> None:
    # Braces in data are not templates, and brackets are not terminal markup.
    tricky = "{{ not_a_var }} [bold]x[/bold] {% raw %}"
    project.suite(echo_suite(loopback.url, cases=[{"id": "t", "q": tricky}]))
    result = invoke("render", "suites/suite.yaml")
    assert result.exit_code == 0, result.output
    assert f"Q: {tricky}" in result.stdout
    result = invoke("render", "suites/suite.yaml", "--json")
    assert json.loads(result.stdout)[0]["messages"][0]["content"] == f"Q: {tricky}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-v", "nope"], "unknown variant 'nope'; the suite has: terse, chat"),
        (["-c", "q9"], "q9"),
    ],
)
def test_unknown_variant_or_case_exits_2(
    loopback: LoopbackServer, suite: str, args: list[str], message: str
) -> None:
    result = invoke("render", suite, *args)
    no_traceback(result)
    assert result.exit_code == 2
    assert message in result.stderr
    assert loopback.stats()["requests"] == 0


def test_an_invalid_suite_exits_2(project: Project) -> None:
    project.suite("name: x\nprompts: {a: 'Q'}\nmodels: {}\ncases: []\n")
    result = invoke("render", "suites/suite.yaml")
    no_traceback(result)
    assert result.exit_code == 2
    assert result.stderr.startswith("suites/suite.yaml:")


def test_help_has_an_example() -> None:
    result = invoke("render", "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_render_shows_a_conversations_turns_tools_and_user(project: Project) -> None:
    suite = project.suite(
        {
            "name": "conv",
            "prompts": {
                "chat": {
                    "user": "Hi, I am {{ name }}.",
                    "turns": ["Where is {{ order }}?"],
                    "tools": [{"name": "lookup", "parameters": {"type": "object"}}],
                },
                "sim": {
                    "system": "Support.",
                    "user": {"model": "m", "persona": "{{ name }}", "goal": "a refund"},
                },
            },
            "models": {"m": {"provider": "mock"}},
            "cases": [{"id": "a", "name": "Ana", "order": "A7"}],
        }
    )
    result = invoke("render", str(suite), "--json")
    assert result.exit_code == 0, result.output
    chat, sim = json.loads(result.stdout)
    assert chat["turns"] == ["Where is A7?"]
    assert chat["tools"]["tools"][0]["function"]["name"] == "lookup"
    assert sim["user"] == {"model": "m", "persona": "Ana", "goal": "a refund", "max_turns": 5}
    text = invoke("render", str(suite)).stdout
    assert "user, turn 2" in text and "Where is A7?" in text
    assert "simulated user" in text and "tools lookup" in text
