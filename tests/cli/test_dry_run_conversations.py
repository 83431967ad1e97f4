"""``run --dry-run`` counts the calls of tool loops, simulated users and judges.

The suite is scripted so that every bound is reached: the model asks for a tool
after every tool result (so each record takes ``max_steps`` calls), the simulated
user never says its goal is met (so it writes ``max_turns`` turns), and two judges
grade, one of them every turn. The dry run's count must then equal the requests
the real run makes to the server.
"""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

VERDICT = '{"reasoning": "Fine.", "verdict": "pass"}'


def bounded_suite(url: str) -> dict[str, Any]:
    return {
        "name": "bounds",
        "prompts": {
            "agent": {
                "user": "Check the weather in {{ city }}.",
                "tools": [{"name": "get_weather", "parameters": {"type": "object"}}],
                "tool_results": {"get_weather": "Weather unknown; check the weather again."},
                "max_steps": 3,
            },
            "chat": {
                "system": "You sell kettles.",
                "user": {
                    "model": "customer",
                    "persona": "a buyer from {{ city }}",
                    "goal": "a kettle",
                    "max_turns": 3,
                },
            },
        },
        "models": {
            "loop": openai_model(url),
            "customer": openai_model(url, model="customer", judge_only=True),
            "grader": openai_model(url, model="grader", judge_only=True),
        },
        "cases": [{"id": "oslo", "city": "Oslo"}, {"id": "rome", "city": "Rome"}],
        "metrics": [
            {"judge": {"rubric": "Is it polite?", "model": "grader"}},
            {"judge": {"rubric": "Is each reply short?", "model": "grader", "turn": "all",
                       "name": "every_turn"}},
        ],
        "repeat": 2,
    }  # fmt: skip


def test_the_dry_run_says_the_most_calls_and_a_real_run_makes_them(
    project: Project, loopback: LoopbackServer
) -> None:
    loopback.configure(
        rules=[
            {"match": "[Rubric]", "reply": VERDICT},
            {"match": "weather", "tool_calls": [{"name": "get_weather", "arguments": {}}]},
        ]
    )
    path = str(project.suite(bounded_suite(loopback.url)))
    dry = invoke("run", path, "--dry-run", "--json", "--no-cache")
    no_traceback(dry)
    assert dry.exit_code == 0, dry.output
    rows = {p["model"]: p for p in json.loads(dry.stdout)["models"]}
    # Per case and repeat: agent 3 tool steps; chat 3 turns; the user writes all 3 turns
    # (the prompt has no user message of its own); the judges grade once, and once a turn.
    assert {m: (p["calls"], p["calls_exact"]) for m, p in rows.items()} == {
        "loop": (2 * 2 * (3 + 3), False),
        "customer": (2 * 2 * 3, False),
        "grader": (2 * 2 * ((1 + 1) + (1 + 3)), False),
    }
    assert loopback.stats()["requests"] == 0  # nothing called

    real = invoke("run", path, "--no-cache", "-q")
    no_traceback(real)
    assert real.exit_code == 0, real.output
    assert loopback.stats()["requests"] == sum(p["calls"] for p in rows.values())
    recs = project.records()
    assert sorted(r["calls"] for r in recs) == [3] * 4 + [6] * 4  # the user's calls included

    table = invoke("run", path, "--dry-run", "--no-cache")
    assert "≤ 24" in table.stdout and "≤ : at most" in table.stdout


def test_a_plain_suite_counts_exactly(project: Project, loopback: LoopbackServer) -> None:
    suite = bounded_suite(loopback.url)
    suite["prompts"] = {"plain": "Hello from {{ city }}", "turns": {"user": "Hi", "turns": ["Bye"]}}
    kind = {"judge": {"rubric": "Kind?", "model": "grader", "name": "kind"}}
    suite["cases"].append({"id": "kyiv", "vars": {"city": "Kyiv"}, "metrics": [kind]})
    path = str(project.suite(suite))
    dry = invoke("run", path, "--dry-run", "--json", "--no-cache")
    no_traceback(dry)
    rows = {p["model"]: p for p in json.loads(dry.stdout)["models"]}
    # plain: one call; turns: two. Judges: once, and once a turn (1 and 2); Kyiv's own
    # judge once more in each variant.
    assert {m: (p["calls"], p["calls_exact"]) for m, p in rows.items()} == {
        "loop": (3 * 2 * (1 + 2), True),
        "grader": (3 * 2 * ((1 + 1) + (1 + 2)) + 2 * 2, True),
    }
    loopback.configure(rules=[{"match": "[Rubric]", "reply": VERDICT}])
    real = invoke("run", path, "--no-cache", "-q")
    assert real.exit_code == 0, real.output
    assert loopback.stats()["requests"] == sum(p["calls"] for p in rows.values())
    table = invoke("run", path, "--dry-run", "--no-cache")
    assert "≤" not in table.stdout
