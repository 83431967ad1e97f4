"""Messages, tools and tool calls in the OpenAI chat completions wire form.

Shared by every transport that speaks that API (the SDK, plain HTTP, the local
runtime): images go as ``image_url`` parts (a file as a ``data:`` URL), an
assistant's tool calls as ``tool_calls`` with JSON-text arguments, a tool result
as a ``tool`` message naming the call it answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from promptbench.providers.images import data_url
from promptbench.types import Message, ToolCall


def wire_message(message: Message) -> dict[str, Any]:
    """One message as the API takes it."""
    if message.plain:
        return {"role": message.role, "content": message.content}
    out: dict[str, Any] = {"role": message.role}
    if message.images:
        parts: list[dict[str, Any]] = []
        if message.content:
            parts.append({"type": "text", "text": message.content})
        parts += [
            {"type": "image_url", "image_url": {"url": data_url(image)}} for image in message.images
        ]
        out["content"] = parts
    else:
        # Text, even empty beside tool calls: OpenAI takes "" there, and servers whose
        # templates read every message's content (llama-cpp-python's) refuse null or none.
        out["content"] = message.content
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw_arguments},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def wire_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Every message as the API takes it."""
    return [wire_message(m) for m in messages]


def tool_calls_from_message(message: object) -> tuple[ToolCall, ...]:
    """The ``tool_calls`` of a response's message; a malformed entry is skipped, never fatal.

    Arguments are kept as the model wrote them: text that is not JSON is the model's
    fault, which metrics report; some servers send a parsed object instead of text.
    """
    if not isinstance(message, dict):
        return ()
    raw = message.get("tool_calls")
    if not isinstance(raw, list):
        return ()
    calls = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            continue
        function = entry.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        args = function.get("arguments")
        if args is not None and not isinstance(args, (str, dict)):
            args = json.dumps(args)
        given_id = entry.get("id")
        call_id = given_id if isinstance(given_id, str) else f"call_{i}"
        calls.append(ToolCall.parse(call_id, function["name"], args))
    return tuple(calls)
