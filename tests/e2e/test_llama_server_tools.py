"""A tool-calling suite against llama.cpp's own server: a real peer's reading of the tools API.

``python -m llama_cpp.server --chat_format chatml-function-calling`` serves the bundled
SmolLM2 model; promptbench talks to it through the official openai SDK. With a named
``tool_choice`` the server constrains the answer to the tool's schema, so the call and
its arguments are the server's own, not a script's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from promptbench.api import run_suite
from promptbench.providers.local import bundled_gguf
from tests.helpers.llama_server import LlamaServer
from tests.helpers.project import Project

LOOKUP = {
    "name": "lookup_order",
    "description": "Look up an order by its id.",
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}


@pytest.fixture(scope="module")
def function_server() -> Iterator[LlamaServer]:
    with LlamaServer(bundled_gguf(), chat_format="chatml-function-calling") as server:
        yield server


def test_tool_calls_from_llama_cpp_server_through_the_sdk(
    project: Project, function_server: LlamaServer
) -> None:
    path = project.suite(
        {
            "name": "llama-tools",
            "prompts": {
                "lookup": {
                    "system": "You are a shop assistant. Look orders up with the tool.",
                    "user": "Where is my order {{ order_id }}?",
                    "tools": [LOOKUP],
                    "tool_choice": "lookup_order",
                    "tool_results": {"lookup_order": '{"status": "shipped"}'},
                    "max_steps": 2,
                }
            },
            "models": {
                "smol": {
                    "provider": "openai",
                    "base_url": function_server.url,
                    "model": "smollm2",
                    "transport": "sdk",
                    "temperature": 0,
                    "max_tokens": 48,
                }
            },
            "cases": [{"id": "a1001", "order_id": "A1001"}],
            "metrics": [
                {"tool_called": {"tool": "lookup_order", "min": 1}},
                {"tool_args": {"tool": "lookup_order", "schema": LOOKUP["parameters"]}},
            ],
        }
    )
    (record,) = project.records(run_suite(path).run_dir)
    assert record["error"] is None, record["error"]
    first = next(m for m in record["transcript"] if m.get("tool_calls"))
    call = first["tool_calls"][0]
    assert call["name"] == "lookup_order"
    assert call["arguments"] is not None, call  # the server's JSON, parsed
    assert isinstance(call["arguments"]["order_id"], str)
    assert call["id"]  # the server's id, which the tool result then names
    roles = [m["role"] for m in record["transcript"]]
    assert roles[:4] == ["system", "user", "assistant", "tool"]
    tool_message = record["transcript"][3]
    assert tool_message["tool_call_id"] == call["id"]
    assert record["calls"] == 2  # the tool result went back to the server and it answered
    assert record["scores"]["tool_called"]["passed"] is True
    assert record["scores"]["tool_args"]["passed"] is True, record["scores"]["tool_args"]
    assert function_server.process.poll() is None
