"""Tool calls and image parts for the fake OpenAI server (pure logic, no I/O).

A rule may answer with tool calls instead of text::

    {"match": "weather", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}

``arguments`` is sent as JSON text; a string is sent as written, so a test can
script arguments that are not valid JSON. A request whose last message is a
``tool`` result is matched on that result's text, so a second rule scripts the
model's answer after the tool ran (``{"match": "sunny", "reply": "It is sunny."}``).

Image parts (``image_url``) are checked as a vision model's API checks them: a
``data:`` URL must hold base64 bytes of a PNG, JPEG, GIF or WebP image, else the
request gets a 400. The echo reply names each image it saw by type and hash, so
a test can tell that the bytes arrived intact.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

JsonDict = dict[str, Any]

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ToolScriptError(ValueError):
    """A rule's ``tool_calls`` is malformed."""


def parse_tool_calls(value: object, name: str) -> tuple[JsonDict, ...]:
    """Validate a rule's ``tool_calls``: a list of ``{name, arguments}``."""
    if not isinstance(value, list) or not value:
        raise ToolScriptError(f"{name} must be a non-empty list of {{name, arguments}}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ToolScriptError(f"{name}[{i}] must be an object with a string 'name'")
        if set(item) - {"name", "arguments"}:
            raise ToolScriptError(f"{name}[{i}]: only 'name' and 'arguments' are allowed")
        args = item.get("arguments", {})
        out.append(
            {"name": item["name"], "arguments": args if isinstance(args, str) else json.dumps(args)}
        )
    return tuple(out)


def wire_tool_calls(calls: Sequence[JsonDict], request_id: int) -> list[JsonDict]:
    """The ``tool_calls`` of an assistant message, with ids unique to the request."""
    return [
        {
            "id": f"call_pb{request_id:06d}_{i}",
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for i, c in enumerate(calls)
    ]


def matched_text(messages: Sequence[object], last_user: str) -> str:
    """What rules match: a trailing tool result's text, else the last user message."""
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        content = messages[-1].get("content")
        return content if isinstance(content, str) else json.dumps(content)
    return last_user


def _image_parts(message: object) -> list[str]:
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return []
    urls = []
    for part in message["content"]:
        if isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            urls.append(url if isinstance(url, str) else "")
    return urls


def _decode(url: str) -> tuple[bytes | None, str]:
    """The bytes of a ``data:`` URL and why they are not an image ("" when they are)."""
    if not url.startswith("data:"):
        return None, "" if url.startswith(("http://", "https://")) else "not a URL"
    head, sep, payload = url.partition(",")
    if not sep or not head.endswith(";base64"):
        return None, "a data URL image must be base64"
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None, "the base64 data is invalid"
    if not any(data.startswith(m) for m, _ in _MAGIC) and not (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    ):
        return None, "the data is not a PNG, JPEG, GIF or WebP image"
    return data, ""


def image_problem(messages: Sequence[object]) -> str | None:
    """Why the request's image parts would be refused, or None."""
    for i, message in enumerate(messages):
        for url in _image_parts(message):
            _, problem = _decode(url)
            if problem:
                return f"Invalid image in messages[{i}]: {problem}."
    return None


def image_note(messages: Sequence[object]) -> str:
    """What the echo says of the last user message's images: type and hash of each."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            notes = []
            for url in _image_parts(message):
                data, _ = _decode(url)
                if data is None:
                    notes.append(f"[image {url[:40]}]")
                    continue
                media = url[5 : url.index(";")]
                notes.append(f"[image {media} {hashlib.sha256(data).hexdigest()[:12]}]")
            return " ".join(notes)
    return ""
