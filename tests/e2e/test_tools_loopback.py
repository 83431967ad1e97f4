"""Tool loops, conversations and images over HTTP to the loopback server, on every transport.

The server is a real child process; what it recorded of each request is the ground
truth for what promptbench sent (tools, tool results, image data URLs).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from promptbench.api import run_suite
from tests.helpers.images import png_bytes, write_png
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

TRANSPORTS = ["sdk", "sdk-aiohttp", "aiohttp"]  # every transport a user can get

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def tool_suite(url: str, transport: str, **variant: Any) -> dict[str, Any]:
    return {
        "name": "tools-e2e",
        "prompts": {
            "agent": {
                "system": "You can look up the weather.",
                "user": "What is the weather in {{ city }}?",
                "tools": [WEATHER],
                "tool_results": {"get_weather": "{{ args.city }}: sunny, 21 C"},
                **variant,
            }
        },
        "models": {"loop": openai_model(url, transport=transport)},
        "cases": [{"id": "paris", "city": "Paris"}],
        "metrics": [
            {"tool_called": {"tool": "get_weather", "times": 1}},
            {"tool_args": {"tool": "get_weather", "path": "city", "equals": "{{ city }}"}},
            {"icontains": "sunny"},
        ],
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_tool_loop_over_http(loopback: LoopbackServer, project: Project, transport: str) -> None:
    loopback.configure(
        record_requests=10,
        rules=[
            {
                "match": "weather in",
                "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
            },
            {"match": "sunny", "reply": "It is sunny in Paris."},
        ],
    )
    path = project.suite(tool_suite(loopback.url, transport, tool_choice="auto"))
    result = run_suite(path)
    (record,) = project.records(result.run_dir)
    assert record["error"] is None, record["error"]
    assert record["output"] == "It is sunny in Paris."
    assert all(s["passed"] for s in record["scores"].values()), record["scores"]
    first, second = (r["body"] for r in loopback.requests())
    # What went over the wire: the tools and tool_choice, then the call and its result.
    assert first["tools"] == [{"type": "function", "function": {**WEATHER}}]
    assert first["tool_choice"] == "auto"
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] == ""
    (sent_call,) = assistant["tool_calls"]
    assert sent_call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert tool == {
        "role": "tool",
        "content": "Paris: sunny, 21 C",
        "tool_call_id": sent_call["id"],
    }


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_arguments_that_are_not_json_are_a_failed_check(
    loopback: LoopbackServer, project: Project, transport: str
) -> None:
    loopback.configure(
        rules=[
            {"match": "weather in", "tool_calls": [{"name": "get_weather", "arguments": "{city"}]}
        ],
    )
    suite = tool_suite(loopback.url, transport)
    suite["prompts"]["agent"].pop("tool_results")
    result = run_suite(project.suite(suite))
    (record,) = project.records(result.run_dir)
    assert record["error"] is None
    assert record["scores"]["tool_called"]["passed"] is True
    args = record["scores"]["tool_args"]
    assert args["passed"] is False and "{city" in args["reason"]
    assert record["passed"] is False


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_conversation_over_http(
    loopback: LoopbackServer, project: Project, transport: str
) -> None:
    loopback.configure(
        record_requests=10,
        rules=[
            {"match": "pack", "reply": "A warm coat."},
            {"match": "Oslo", "reply": "Nice city."},
        ],
    )
    suite = {
        "name": "chat-e2e",
        "prompts": {
            "agent": {
                "system": "You are a travel agent.",
                "user": "I fly to {{ city }}.",
                "turns": ["What should I pack?"],
            }
        },
        "models": {"loop": openai_model(loopback.url, transport=transport)},
        "cases": [{"id": "oslo", "city": "Oslo"}],
        "metrics": [
            {"icontains": {"value": "coat"}},
            {"icontains": {"value": "nice", "turn": 1, "name": "first"}},
        ],
    }
    (record,) = project.records(run_suite(project.suite(suite)).run_dir)
    assert record["passed"] is True, record["scores"]
    second = loopback.requests()[1]["body"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "Nice city."


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_image_goes_as_a_data_url(
    loopback: LoopbackServer, project: Project, transport: str
) -> None:
    digest = write_png(project.root / "data" / "red.png")
    loopback.configure(record_requests=5)
    suite = {
        "name": "vision-e2e",
        "prompts": {"look": {"user": "What colour?", "image": "{{ photo }}"}},
        "models": {"loop": openai_model(loopback.url, transport=transport)},
        "cases": [
            {"id": "red", "photo": "data/red.png"},
            {"id": "web", "photo": "https://example.com/cat.png"},
        ],
    }
    records = {r["case_id"]: r for r in project.records(run_suite(project.suite(suite)).run_dir)}
    # The server decoded the data URL and hashed the bytes it got.
    assert records["red"]["output"] == f"What colour? [image image/png {digest}]"
    assert records["web"]["output"] == "What colour? [image https://example.com/cat.png]"
    sent = {
        r["body"]["messages"][-1]["content"][1]["image_url"]["url"][:30]
        for r in loopback.requests()
    }
    assert sent == {
        "data:image/png;base64," + base64.b64encode(png_bytes()).decode()[:8],
        "https://example.com/cat.png",
    }
    # The record keeps the path and hash, never the bytes.
    image = records["red"]["messages"][-1]["images"][0]
    assert set(image) == {"path", "sha256", "media_type"}


def test_the_server_refuses_an_image_that_is_not_one(loopback: LoopbackServer) -> None:
    import openai

    client = openai.OpenAI(base_url=loopback.url, api_key="x", max_retries=0)
    bad = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="m",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": bad}},
                    ],
                }
            ],
        )
    assert "Invalid image" in str(info.value)
