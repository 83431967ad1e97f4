"""Tools, tool calls, tool results and images in the Anthropic and Gemini request shapes.

Suites write tools once, as OpenAI function schemas (``ToolSet.params()`` gives
``tools`` and ``tool_choice`` in that shape); each provider maps them here to its
own API, as plain JSON so that the SDK's typed helpers and raw HTTP both take them:

- Anthropic Messages: ``tools: [{name, description, input_schema}]``, ``tool_choice``
  ``{type: auto | any | none | tool}``, calls as ``tool_use`` blocks, results as
  ``tool_result`` blocks in a user message, images as base64 or URL ``image`` blocks.
- Gemini ``generateContent``: ``tools: [{function_declarations}]`` (each schema as
  ``parameters_json_schema``), ``tool_config.function_calling_config.mode`` AUTO /
  ANY / NONE, calls as ``function_call`` parts (with the ``thought_signature`` the
  model gave them), results as ``function_response`` parts, images inline
  (``inline_data``) or by URI (``file_data``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from promptbench.providers.images import image_bytes
from promptbench.types import Image, Message, ToolCall

JsonDict = dict[str, Any]


def _functions(params: Mapping[str, Any]) -> list[JsonDict]:
    return [t["function"] for t in params.get("tools") or () if t.get("type") == "function"]


def _chosen(choice: Any) -> str | None:
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    return None


# --------------------------------------------------------------------------- Anthropic


def anthropic_tools(params: Mapping[str, Any]) -> JsonDict:
    """``tools`` and ``tool_choice`` for the Messages API (empty without tools)."""
    functions = _functions(params)
    if not functions:
        return {}
    out: JsonDict = {
        "tools": [
            {
                "name": f["name"],
                "description": f.get("description", ""),
                "input_schema": f.get("parameters") or {"type": "object"},
            }
            for f in functions
        ]
    }
    choice = params.get("tool_choice")
    name = _chosen(choice)
    if name is not None:
        out["tool_choice"] = {"type": "tool", "name": name}
    elif choice in ("auto", "none"):
        out["tool_choice"] = {"type": choice}
    elif choice == "required":
        out["tool_choice"] = {"type": "any"}
    return out


def _anthropic_image(image: Image) -> JsonDict:
    if image.path is None and image.url is not None and not image.url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    if image.path is None and image.url is not None:
        head, _, data = image.url.partition(",")
        media = head[5:].split(";")[0]
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}
    data_bytes, media = image_bytes(image)
    encoded = base64.b64encode(data_bytes).decode("ascii")
    return {"type": "image", "source": {"type": "base64", "media_type": media, "data": encoded}}


def anthropic_messages(messages: Sequence[Message]) -> tuple[str | None, list[JsonDict]]:
    """The system text and the messages; consecutive tool results share one user message."""
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    out: list[JsonDict] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}
            if (
                out
                and out[-1]["role"] == "user"
                and isinstance(out[-1]["content"], list)
                and all(b.get("type") == "tool_result" for b in out[-1]["content"])
            ):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        if m.plain:
            out.append({"role": m.role, "content": m.content})
            continue
        blocks: list[JsonDict] = []
        if m.content:
            blocks.append({"type": "text", "text": m.content})
        blocks += [_anthropic_image(i) for i in m.images]
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments or {})}
            for c in m.tool_calls
        ]
        out.append({"role": m.role, "content": blocks})
    return system, out


def anthropic_tool_calls(blocks: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The ``tool_use`` blocks of a response (SDK objects or dicts)."""
    calls = []
    for block in blocks:
        get = block.get if isinstance(block, dict) else lambda k, b=block: getattr(b, k, None)
        if get("type") != "tool_use":
            continue
        raw = get("input")
        calls.append(
            ToolCall.parse(str(get("id")), str(get("name")), raw if raw is not None else {})
        )
    return tuple(calls)


# --------------------------------------------------------------------------- Gemini


def gemini_tools(params: Mapping[str, Any]) -> JsonDict:
    """``tools`` and ``tool_config`` for ``generateContent`` (empty without tools)."""
    functions = _functions(params)
    if not functions:
        return {}
    out: JsonDict = {
        "tools": [
            {
                "function_declarations": [
                    {
                        **{k: f[k] for k in ("name", "description") if k in f},
                        # The whole JSON Schema: ``parameters`` takes only the OpenAPI
                        # subset, and the SDK refuses a schema with $ref, const or a
                        # list of types there.
                        **(
                            {"parameters_json_schema": f["parameters"]} if "parameters" in f else {}
                        ),
                    }
                    for f in functions
                ]
            }
        ]
    }
    choice = params.get("tool_choice")
    name = _chosen(choice)
    if name is not None:
        config: JsonDict = {"mode": "ANY", "allowed_function_names": [name]}
    elif choice in ("auto", "none", "required"):
        config = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]}
    else:
        return out
    out["tool_config"] = {"function_calling_config": config}
    return out


def _gemini_image(image: Image, raw_bytes: bool) -> JsonDict:
    # The REST API takes base64 text; the SDK's dict form takes the bytes themselves.
    if image.path is None and image.url is not None and not image.url.startswith("data:"):
        return {"file_data": {"file_uri": image.url, "mime_type": image.media_type or "image/jpeg"}}
    if image.path is None and image.url is not None:
        head, _, text = image.url.partition(",")
        media = head[5:].split(";")[0]
        data_bytes = base64.b64decode(text)
    else:
        data_bytes, media = image_bytes(image)
    data: bytes | str = data_bytes if raw_bytes else base64.b64encode(data_bytes).decode()
    return {"inline_data": {"mime_type": media, "data": data}}


def gemini_contents(
    messages: Sequence[Message], *, raw_bytes: bool = False
) -> tuple[str | None, list[JsonDict]]:
    """The system instruction and the contents (``user`` / ``model`` turns of parts).

    ``raw_bytes``: images as bytes (the SDK's dict form), else as base64 text (REST).
    """
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    out: list[JsonDict] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            part = {"function_response": {"name": m.name or "", "response": {"result": m.content}}}
            if (
                out
                and out[-1]["role"] == "user"
                and all("function_response" in p for p in out[-1]["parts"])
            ):
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part]})
            continue
        parts: list[JsonDict] = []
        if m.content or not (m.images or m.tool_calls):  # a turn has at least one part
            parts.append({"text": m.content})
        parts += [_gemini_image(i, raw_bytes) for i in m.images]
        for c in m.tool_calls:
            called: JsonDict = {"function_call": {"name": c.name, "args": dict(c.arguments or {})}}
            if c.signature is not None:  # sent back as given: Gemini 3 requires it
                called["thought_signature"] = (
                    base64.b64decode(c.signature) if raw_bytes else c.signature
                )
            parts.append(called)
        out.append({"role": "model" if m.role == "assistant" else "user", "parts": parts})
    return system, out


def gemini_tool_calls(parts: Sequence[Any]) -> tuple[ToolCall, ...]:
    """The ``function_call`` parts of a response (SDK objects or dicts)."""
    calls = []
    for i, part in enumerate(parts):
        fc = (
            part.get("function_call")
            if isinstance(part, dict)
            else getattr(part, "function_call", None)
        )
        if fc is None:
            continue
        get = fc.get if isinstance(fc, dict) else lambda k, f=fc: getattr(f, k, None)
        args = get("args")
        call_id = get("id") or f"call_{i}"
        call = ToolCall.parse(str(call_id), str(get("name")), dict(args) if args else {})
        signature = (
            part.get("thought_signature", part.get("thoughtSignature"))
            if isinstance(part, dict)
            else getattr(part, "thought_signature", None)
        )
        if isinstance(signature, bytes):  # the SDK's form; records keep text
            signature = base64.b64encode(signature).decode("ascii")
        if isinstance(signature, str) and signature:
            call = replace(call, signature=signature)
        calls.append(call)
    return tuple(calls)
