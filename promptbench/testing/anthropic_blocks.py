"""Anthropic Messages content blocks for the loopback server (pure logic, no I/O).

The server checks a request's ``tools``, ``tool_choice`` and content blocks as
Anthropic's API does, with its messages: a ``tool_use`` block must be answered
by a ``tool_result`` with its id at the start of the next (user) message, a
``tool_result`` must answer a ``tool_use`` of the message before, an ``image``
block's base64 ``source`` must hold an image of its ``media_type``. It then reads
the request as chat messages for the Scenario (:func:`chat_messages`): tool
results become ``tool`` messages, so that a rule matches on a tool's result as
on the OpenAI test server, and images become data URLs, which the echo names by
type and hash. :func:`tool_use_blocks` writes a rule's ``tool_calls`` as the
API's answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any, Final

from promptbench.testing.tool_script import image_problem

__all__ = ["chat_messages", "check_content", "check_tools", "tool_use_blocks"]

JsonDict = dict[str, Any]

_TOOL_NAME: Final = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_CHOICES: Final = ("auto", "any", "tool", "none")
_MEDIA: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
_BLOCKS: Final = ("text", "image", "tool_use", "tool_result", "document", "thinking")


def check_tools(body: JsonDict) -> str | None:
    """What the API would say is wrong with ``tools`` and ``tool_choice``, or None."""
    tools = body.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list):
            return "tools: Input should be a valid list"
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                return f"tools.{i}: Input should be a valid dictionary"
            name = tool.get("name")
            if not isinstance(name, str) or not _TOOL_NAME.match(name):
                return f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                return f"tools.{i}.input_schema: Field required"
            if schema.get("type") != "object":
                return f"tools.{i}.input_schema.type: Input should be 'object'"
            extra = sorted(set(tool) - {"name", "description", "input_schema", "cache_control"})
            if extra:
                return f"tools.{i}.{extra[0]}: Extra inputs are not permitted"
            names.append(name)
    choice = body.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in _CHOICES:
        return (
            f"tool_choice.type: Input tag '{kind}' found using 'type' does not match any of "
            "the expected tags: 'auto', 'any', 'tool', 'none'"
        )
    if kind in ("any", "tool") and not names:
        return "tool_choice: may only be specified while providing tools"
    if kind == "tool" and choice.get("name") not in names:
        return f"tool_choice.name: tool '{choice.get('name')}' is not among the tools"
    return None


def _blocks(message: JsonDict) -> list[JsonDict]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _image_url(block: JsonDict, where: str) -> tuple[str | None, str | None]:
    """An image block as a URL (a data URL for base64), or what is wrong with it."""
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "url" and isinstance(source, dict) and isinstance(source.get("url"), str):
        return str(source["url"]), None
    if kind != "base64" or not isinstance(source, dict):
        return None, f"{where}.source: Input tag '{kind}' does not match 'base64', 'url', 'file'"
    media = source.get("media_type")
    if media not in _MEDIA:
        return None, (
            f"{where}.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'"
        )
    data = source.get("data")
    try:
        base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        return None, f"{where}.source.base64.data: invalid base64 data"
    return f"data:{media};base64,{data}", None


def check_content(messages: Sequence[JsonDict]) -> str | None:
    """What the API would say is wrong with the messages' content blocks, or None."""
    pending: list[str] = []  # tool_use ids of the message before, to be answered now
    for i, message in enumerate(messages):
        blocks = _blocks(message)
        for j, block in enumerate(blocks):
            kind = block.get("type")
            if kind not in _BLOCKS:
                return f"messages.{i}.content.{j}: Input tag '{kind}' found using 'type' is invalid"
            if kind == "image":
                url, problem = _image_url(block, f"messages.{i}.content.{j}.image")
                if problem is not None:
                    return problem
                bad = image_problem(
                    [{"content": [{"type": "image_url", "image_url": {"url": url}}]}]
                )
                if bad is not None:
                    return (
                        f"messages.{i}.content.{j}.image.source: Image does not match the "
                        "provided media type"
                    )
        results = [b for b in blocks if b.get("type") == "tool_result"]
        answered = [str(b.get("tool_use_id")) for b in results]
        if pending:
            missing = [t for t in pending if t not in answered]
            leading = [b.get("type") for b in blocks[: len(results)]]
            if missing or message.get("role") != "user" or set(leading) != {"tool_result"}:
                return (
                    f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing or pending)}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message."
                )
        for j, block in enumerate(blocks):
            if block.get("type") == "tool_result" and str(block.get("tool_use_id")) not in pending:
                return (
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )
            if block.get("type") == "tool_use" and (
                message.get("role") != "assistant" or not isinstance(block.get("input"), dict)
            ):
                return (
                    f"messages.{i}.content.{j}.tool_use: only an assistant's, with an input object"
                )
        pending = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
    return None


def _result_text(block: JsonDict) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return content if isinstance(content, str) else ""


def chat_messages(body: JsonDict) -> list[JsonDict]:
    """The request as chat messages ({role, content}) for the Scenario to decide on."""
    system = body.get("system")
    if isinstance(system, list):
        system = " ".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    chat: list[JsonDict] = [{"role": "system", "content": system}] if system else []
    for message in body["messages"]:
        if isinstance(message.get("content"), str):
            chat.append({"role": message["role"], "content": message["content"]})
            continue
        parts: list[JsonDict] = []
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "tool_result":
                chat.append({"role": "tool", "content": _result_text(block)})
            elif kind == "text":
                parts.append({"type": "text", "text": str(block.get("text", ""))})
            elif kind == "image":
                url, _ = _image_url(block, "")
                parts.append({"type": "image_url", "image_url": {"url": url or ""}})
            elif kind == "tool_use":
                parts.append({"type": "text", "text": json.dumps(block.get("input"))})
        if parts:
            chat.append({"role": message["role"], "content": parts})
    return chat


def tool_use_blocks(calls: Sequence[JsonDict], request_id: int) -> list[JsonDict]:
    """A rule's ``tool_calls`` as ``tool_use`` blocks; the API's input is always an object."""
    blocks = []
    for i, call in enumerate(calls):
        try:
            arguments = json.loads(call["arguments"])
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            raise ValueError(
                f"tool_calls[{i}]: the Messages API answers with an input object, "
                f"not {call['arguments']!r}"
            )
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_pb{request_id:06d}_{i}",
                "name": call["name"],
                "input": arguments,
            }
        )
    return blocks
