"""Conversations, tool loops and images through the runner, with the scripted mock model.

The mock provider is the in-process double (no I/O); the same suites run end to
end over HTTP in tests/e2e/test_tools_loopback.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from promptbench.api import run_suite
from promptbench.runner.engine import _may_converse
from promptbench.suite import load_suite
from tests.helpers.images import write_png
from tests.helpers.project import Project


def mock(**script: Any) -> dict[str, Any]:
    return {"provider": "mock", **script}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_turns_are_sent_one_by_one_each_after_the_reply(project: Project) -> None:
    path = project.suite(
        {
            "name": "chat",
            "prompts": {
                "agent": {
                    "system": "You are a travel agent.",
                    "user": "I want to visit {{ city }}.",
                    "turns": ["What should I pack for {{ city }}?", "Thanks!"],
                }
            },
            "models": {"m": mock(answers={"visit": "Lovely choice.", "pack": "A coat."})},
            "cases": [{"id": "oslo", "city": "Oslo"}],
            "metrics": [
                {"icontains": {"value": "coat", "turn": 2}},
                {"icontains": {"value": "lovely", "turn": 1, "name": "first"}},
                {"exact": {"expected": "Thanks!", "name": "last"}},  # the mock echoes turn 3
                {"not_": {"icontains": {"value": "zzz", "turn": "all", "name": "never_zzz"}}},
            ],
        }
    )
    result = run_suite(path)
    (record,) = project.records(result.run_dir)
    assert record["error"] is None
    roles = [(m["role"], m["content"]) for m in record["transcript"]]
    assert roles == [
        ("system", "You are a travel agent."),
        ("user", "I want to visit Oslo."),
        ("assistant", "Lovely choice."),
        ("user", "What should I pack for Oslo?"),
        ("assistant", "A coat."),
        ("user", "Thanks!"),
        ("assistant", "Thanks!"),
    ]
    assert record["calls"] == 3
    assert record["output"] == "Thanks!"
    assert {n: s["passed"] for n, s in record["scores"].items()} == {
        "icontains": True,
        "first": True,
        "last": True,
        "never_zzz": True,
    }
    assert record["passed"] is True


def test_a_case_gives_its_own_turns(project: Project) -> None:
    path = project.suite(
        {
            "name": "chat",
            "prompts": {"agent": {"system": "Echo.", "turns": ["default turn"]}},
            "models": {"m": mock()},
            "cases": [
                {"id": "own", "vars": {"x": "X"}, "turns": ["first {{ x }}", "second {{ x }}"]},
                {"id": "default", "vars": {}},
            ],
        }
    )
    records = {r["case_id"]: r for r in project.records(run_suite(path).run_dir)}
    own = [m["content"] for m in records["own"]["transcript"] if m["role"] == "user"]
    assert own == ["first X", "second X"]
    assert records["default"]["output"] == "default turn"


def test_tool_loop_runs_until_the_model_answers(project: Project) -> None:
    project.write(
        "suites/tools.py",
        "def lookup(order_id):\n    return {'order': order_id, 'status': 'shipped'}\n",
    )
    path = project.suite(
        {
            "name": "tools",
            "prompts": {
                "agent": {
                    "user": "Where is order {{ order }} and what is the weather in {{ city }}?",
                    "tools": [
                        WEATHER_TOOL,
                        {"name": "lookup_order", "parameters": {"type": "object"}},
                    ],
                    "tool_choice": "auto",
                    "tool_results": {
                        "get_weather": "Sunny in {{ args.city }}",
                        "lookup_order": {"python": "tools.py:lookup"},
                    },
                }
            },
            "models": {
                "m": mock(
                    tool_calls={
                        "Where is": [
                            {"name": "get_weather", "arguments": {"city": "Paris"}},
                            {"name": "lookup_order", "arguments": '{"order_id": "A7"}'},
                        ]
                    },
                    answers={"shipped": "Your order shipped; it is sunny."},
                )
            },
            "cases": [{"id": "a7", "order": "A7", "city": "Paris"}],
            "metrics": [
                {"tool_called": {"tool": "get_weather", "times": 1}},
                {"tool_args": {"tool": "get_weather", "path": "city", "equals": "{{ city }}"}},
                {
                    "tool_calls_match": {
                        "expected": [
                            {"name": "lookup_order", "arguments": {"order_id": "{{ order }}"}},
                            {"name": "get_weather"},
                        ]
                    }
                },
                {"contains": "shipped"},
                {
                    "contains": {
                        "value": "A7",
                        "target": {"tool": "lookup_order", "arg": "order_id"},
                        "name": "order_arg",
                    }
                },
            ],
        }
    )
    (record,) = project.records(run_suite(path).run_dir)
    steps = record["transcript"][1:]
    assert [m["role"] for m in steps] == ["assistant", "tool", "tool", "assistant"]
    calls = steps[0]["tool_calls"]
    assert [c["name"] for c in calls] == ["get_weather", "lookup_order"]
    assert calls[1]["raw_arguments"] == '{"order_id": "A7"}'
    assert calls[1]["arguments"] == {"order_id": "A7"}
    assert steps[1]["content"] == "Sunny in Paris"
    assert steps[1]["tool_call_id"] == calls[0]["id"]
    assert steps[2]["content"] == '{"order": "A7", "status": "shipped"}'
    assert record["output"] == "Your order shipped; it is sunny."
    assert record["calls"] == 2
    assert all(s["passed"] for s in record["scores"].values()), record["scores"]


def test_max_steps_ends_a_loop_that_keeps_calling(project: Project) -> None:
    path = project.suite(
        {
            "name": "loop",
            "prompts": {
                "agent": {
                    "user": "weather please",
                    "tools": [WEATHER_TOOL],
                    "tool_results": {"get_weather": {"value": {"sky": "weather again"}}},
                    "max_steps": 3,
                }
            },
            # Every tool result mentions "weather", so the model calls again and again.
            "models": {
                "m": mock(
                    tool_calls={"weather": [{"name": "get_weather", "arguments": {}}]},
                    answers={"zzz": "never"},
                )
            },
            "cases": [{"id": "1"}],
        }
    )
    (record,) = project.records(run_suite(path).run_dir)
    assert record["error"] is None
    assert record["calls"] == 3
    roles = [m["role"] for m in record["transcript"]]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant", "tool"]


def test_a_tool_without_a_result_ends_the_loop_after_its_call(project: Project) -> None:
    path = project.suite(
        {
            "name": "first-call",
            "prompts": {"agent": {"user": "weather in Rome", "tools": [WEATHER_TOOL]}},
            "models": {
                "m": mock(
                    tool_calls={"Rome": [{"name": "get_weather", "arguments": "{city: Rome"}]}
                )
            },
            "cases": [{"id": "1"}],
            "metrics": [
                {"tool_called": "get_weather"},
                {"tool_args": {"path": "city", "equals": "Rome"}},
            ],
        }
    )
    (record,) = project.records(run_suite(path).run_dir)
    assert record["error"] is None and record["calls"] == 1
    assert record["scores"]["tool_called"]["passed"] is True
    bad = record["scores"]["tool_args"]
    assert bad["passed"] is False and "{city: Rome" in bad["reason"]
    call = record["transcript"][-1]["tool_calls"][0]
    assert call["arguments"] is None and "not valid JSON" in call["parse_error"]


def test_the_loop_is_cached_call_by_call(project: Project) -> None:
    path = project.suite(
        {
            "name": "cached",
            "prompts": {
                "agent": {
                    "user": "weather in Rome",
                    "tools": [WEATHER_TOOL],
                    "tool_results": {"get_weather": "Rainy"},
                }
            },
            "models": {
                "m": mock(
                    tool_calls={"Rome": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}
                )
            },
            "cases": [{"id": "1"}],
        }
    )
    first = project.records(run_suite(path).run_dir)[0]
    again = project.records(run_suite(path, resume=False).run_dir)[0]
    assert first["cached"] is False and again["cached"] is True
    assert again["transcript"] == first["transcript"]


def test_a_simulated_user_talks_until_its_goal_is_met(project: Project) -> None:
    path = project.suite(
        {
            "name": "sim",
            "prompts": {
                "support": {
                    "system": "You are a support agent.",
                    "user": {
                        "model": "customer",
                        "persona": "an impatient customer of {{ shop }}",
                        "goal": "get a refund",
                        "max_turns": 4,
                    },
                }
            },
            "models": {
                "agent": mock(answers={"refund": "Refund issued.", "broken": "Sorry! Refund?"}),
                "customer": mock(
                    replies=["My kettle is broken.", "Yes, a refund.", "GOAL_MET"],
                    judge_only=True,
                    price={"input": 1_000_000, "output": 0},  # $1 per prompt token
                ),
            },
            "cases": [{"id": "1", "shop": "Kettles Ltd"}],
            "metrics": [{"icontains": "refund issued"}],
        }
    )
    (record,) = project.records(run_suite(path).run_dir)
    said = [(m["role"], m["content"]) for m in record["transcript"]]
    assert said == [
        ("system", "You are a support agent."),
        ("user", "My kettle is broken."),
        ("assistant", "Sorry! Refund?"),
        ("user", "Yes, a refund."),
        ("assistant", "Refund issued."),
    ]
    assert record["calls"] == 5  # three of the user's, two of the agent's
    assert record["passed"] is True
    # The agent is free; the simulated user's calls are priced into the record.
    assert record["cost"] is not None and record["cost"] >= 3


def test_images_go_with_the_message_by_path_and_hash(project: Project) -> None:
    digest = write_png(project.root / "images" / "red.png")
    other = write_png(project.root / "images" / "blue.png", (0, 0, 200))
    path = project.suite(
        {
            "name": "vision",
            "prompts": {"look": {"user": "What colour is it?", "image": "{{ photo }}"}},
            "models": {"m": mock()},
            "cases": [
                {"id": "red", "photo": "images/red.png"},
                {"id": "blue", "photo": "images/blue.png"},
            ],
        }
    )
    records = {r["case_id"]: r for r in project.records(run_suite(path).run_dir)}
    red = records["red"]["messages"][-1]["images"][0]
    assert red["path"].endswith("red.png") and red["sha256"].startswith(digest)
    assert red["media_type"] == "image/png"
    assert "data" not in red and all(len(v) < 200 for v in red.values())  # no bytes
    # The mock read the file: its echo names the bytes' hash.
    assert records["red"]["output"] == f"What colour is it? [image image/png {digest}]"
    assert records["blue"]["output"].endswith(f"{other}]")


def test_a_model_known_not_to_take_images_fails_validation(project: Project) -> None:
    from promptbench.errors import SuiteError

    write_png(project.root / "suites" / "a.png")
    path = project.suite(
        {
            "name": "vision",
            "prompts": {"look": {"user": "What is it?", "image": "a.png"}},
            "models": {"m": mock(vision=False)},
            "cases": [{"id": "1"}],
        }
    )
    with pytest.raises(SuiteError) as info:
        run_suite(path)
    assert "model 'm' does not take images, and variant 'look' sends some" in str(info.value)
    assert not project.runs


def test_known_text_only_models_and_tool_less_providers_fail_validation(project: Project) -> None:
    from promptbench.errors import SuiteError
    from promptbench.suite import load_suite

    write_png(project.root / "suites" / "a.png")
    path = project.suite(
        {
            "name": "caps",
            "prompts": {
                "look": {"user": "What is it?", "image": "a.png"},
                "agent": {"user": "Hi", "tools": [WEATHER_TOOL]},
            },
            "models": {
                "old": {"provider": "openai", "model": "gpt-3.5-turbo"},
                "tiny": {"provider": "local"},
                "vision": {"provider": "openai", "model": "gpt-4o-mini"},
            },
            "cases": [{"id": "1"}],
        }
    )
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    lines = str(info.value).splitlines()
    assert any("model 'old' does not take images, and variant 'look'" in line for line in lines)
    assert any("model 'tiny' does not take images" in line for line in lines)
    assert any(
        "provider 'local' of model 'tiny' cannot call tools, and variant 'agent' gives tools"
        in line
        for line in lines
    )
    assert not any("'vision'" in line for line in lines)
    assert all(line.startswith("suites/suite.yaml:") for line in lines)


def test_a_failed_call_mid_conversation_is_the_records_error(project: Project) -> None:
    path = project.suite(
        {
            "name": "broken",
            "prompts": {
                "chat": {
                    "system": "Help.",
                    "messages": [{"user": "Hi"}],
                    "turns": [],
                }
            },
            "models": {"m": mock(answers={"Hi": "Hello!"})},
            "cases": [
                {
                    "id": "1",
                    "vars": {},
                    "user": {"model": "u", "goal": "chat", "max_turns": 3},
                }
            ],
        }
    )
    text = path.read_text(encoding="utf-8")
    # The simulated user's model fails at once and is not retried.
    text = text.replace(
        "models:\n",
        "models:\n"
        "  u: {provider: mock, faults: [client_error], max_retries: 0, judge_only: true}\n",
    )
    path.write_text(text, encoding="utf-8")
    (record,) = project.records(run_suite(path).run_dir)
    assert record["error"]["kind"] == "client_error"
    assert [m["role"] for m in record["transcript"]] == ["system", "user", "assistant"]
    assert record["transcript"][-1]["content"] == "Hello!"
    assert record["calls"] == 2 and record["output"] is None


def test_a_call_is_taken_as_single_exactly_when_its_conversation_is(project: Project) -> None:
    # The runner tells a single call from its fields, without rendering a Conversation;
    # every way a variant or a case makes one (turns, a simulated user, tools) is here.
    sim = {"model": "u", "goal": "chat", "max_turns": 2}
    path = project.suite(
        {
            "name": "kinds",
            "prompts": {
                "plain": "Q: {{ x }}",
                "turns": {"user": "Hi {{ x }}", "turns": ["more {{ x }}"]},
                "empty_turns": {"system": "s", "messages": [{"user": "Hi"}], "turns": []},
                "tools": {"user": "weather", "tools": [WEATHER_TOOL]},
                "sim": {"system": "Help.", "user": {**sim, "persona": "a {{ x }}"}},
            },
            "models": {"m": mock(), "u": mock(judge_only=True)},
            "cases": [
                {"id": "1", "x": "a"},
                {"id": "2", "vars": {"x": "b"}, "turns": ["own {{ x }}"]},
                {"id": "3", "vars": {"x": "c"}, "user": sim},
            ],
        }
    )
    suite = load_suite(path)
    seen = set()
    for case in suite.cases:
        for variant in suite.variants.values():
            single = suite.conversation(variant, case).single
            assert _may_converse(variant, case) is not single, (case.id, variant.name)
            seen.add(single)
    assert seen == {True, False}
