"""Gemini ``generateContent`` tools and parts for the loopback server (pure logic, no I/O).

The server checks a request's ``tools`` (``functionDeclarations``),
``toolConfig`` and parts as the Gemini API does, with its messages: a model turn
of ``functionCall`` parts comes after a user turn or a turn of function
responses, and the turn after it answers every call with a ``functionResponse``
of the same name; ``inlineData`` must be base64 bytes of an image. The JSON
mapping takes camelCase and snake_case field names alike (``inlineData`` or
``inline_data``, ``mimeType`` or ``mime_type``), as Google's servers do. The
request is then read as chat messages for the Scenario (:func:`chat_messages`):
function responses become ``tool`` messages (their ``response`` as JSON text),
images data URLs. :func:`function_call_parts` writes a rule's ``tool_calls``
as the API's answer. Gemini 3 models (``gemini-3*``) sign the first call of an
answer with a ``thoughtSignature`` and refuse a later request whose function call
turn does not carry it back, as Google's API does.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any, Final

from promptbench.testing.tool_script import image_problem

__all__ = [
    "chat_messages",
    "check_parts",
    "check_tools",
    "field",
    "function_call_parts",
    "signature",
]

JsonDict = dict[str, Any]

_FUNCTION_NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$")
_MODES: Final = ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED")


def field(obj: object, camel: str) -> Any:
    """``obj[camel]``, or its snake_case spelling: the JSON mapping accepts both."""
    if not isinstance(obj, dict):
        return None
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def check_tools(body: JsonDict) -> str | None:
    """What the API would say is wrong with ``tools`` and ``toolConfig``, or None."""
    names: list[str] = []
    for i, tool in enumerate(body.get("tools") or []):
        for j, decl in enumerate(field(tool, "functionDeclarations") or []):
            where = f"* GenerateContentRequest.tools[{i}].function_declarations[{j}]"
            name = field(decl, "name")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                return (
                    f"{where}.name: Invalid function name. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), "
                    "colons (:), or dashes (-), with a maximum length of 64."
                )
            plain, json_schema = field(decl, "parameters"), field(decl, "parametersJsonSchema")
            if plain is not None and json_schema is not None:
                return f"{where}: parameters and parameters_json_schema cannot both be set"
            if json_schema is not None and not isinstance(json_schema, dict):
                return f"{where}.parameters_json_schema: must be a JSON Schema object"
            names.append(name)
    config = field(field(body.get("toolConfig"), "functionCallingConfig"), "mode")
    allowed = field(field(body.get("toolConfig"), "functionCallingConfig"), "allowedFunctionNames")
    if config is not None and config not in _MODES:
        return f"Invalid value at 'tool_config.function_calling_config.mode', \"{config}\""
    if allowed and config != "ANY":
        return "allowed_function_names may only be set with mode ANY"
    for name in allowed or []:
        if name not in names:
            return f"allowed_function_names: {name} is not a declared function"
    return None


def _calls(content: JsonDict) -> list[str]:
    return [
        str(field(field(p, "functionCall"), "name"))
        for p in field(content, "parts") or []
        if field(p, "functionCall") is not None
    ]


def _responses(content: JsonDict) -> list[str]:
    return [
        str(field(field(p, "functionResponse"), "name"))
        for p in field(content, "parts") or []
        if field(p, "functionResponse") is not None
    ]


def _image_url(part: JsonDict) -> str | None:
    inline = field(part, "inlineData")
    if isinstance(inline, dict):
        return f"data:{field(inline, 'mimeType')};base64,{field(inline, 'data')}"
    uri = field(field(part, "fileData"), "fileUri")
    return str(uri) if uri is not None else None


def signature(call: JsonDict) -> str:
    """The thought signature this server gives a function call (base64, opaque to clients)."""
    token = f"pb-thought:{field(call, 'name')}:{json.dumps(field(call, 'args'), sort_keys=True)}"
    return base64.b64encode(token.encode()).decode("ascii")


def _unsigned(content: JsonDict, position: int) -> str | None:
    """Gemini 3's refusal of a model turn whose first call lacks the signature it was given."""
    parts = [p for p in field(content, "parts") or [] if field(p, "functionCall") is not None]
    if not parts or field(content, "role") != "model":
        return None
    first = parts[0]
    if field(first, "thoughtSignature") == signature(field(first, "functionCall")):
        return None
    return (
        "Function call is missing a thought_signature in functionCall parts. This is required "
        "for tools to work correctly, and missing thought_signature may lead to degraded model "
        f"performance. Additional data, function call `default_api:"
        f"{field(field(first, 'functionCall'), 'name')}` , position {position}. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )


def check_parts(contents: Sequence[JsonDict], *, signed: bool = False) -> str | None:
    """What the API would say is wrong with the turns' parts, or None.

    ``signed``: the model is one (Gemini 3) that requires every function call turn sent
    back to carry the thought signature of its first call.
    """
    before: JsonDict | None = None
    for position, content in enumerate(contents, 1):
        if signed:
            unsigned = _unsigned(content, position)
            if unsigned is not None:
                return unsigned
        calls, responses = _calls(content), _responses(content)
        if calls and (before is not None and _calls(before)):
            return (
                "Please ensure that function call turn comes immediately after a user turn "
                "or after a function response turn."
            )
        if before is not None and _calls(before):
            if sorted(responses) != sorted(_calls(before)):
                return (
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn."
                )
        elif responses:
            return (
                "Please ensure that function response turn comes immediately after a "
                "function call turn."
            )
        for part in field(content, "parts") or []:
            response = field(field(part, "functionResponse"), "response")
            if field(part, "functionResponse") is not None and not isinstance(response, dict):
                return (
                    "* GenerateContentRequest.contents.parts.function_response.response: "
                    "must be an object"
                )
            url = _image_url(part)
            if url is not None and image_problem(
                [{"content": [{"type": "image_url", "image_url": {"url": url}}]}]
            ):
                return (
                    "Unable to process input image. Please retry or report in "
                    "https://developers.generativeai.google/guide/troubleshooting"
                )
        before = content
    return None


def chat_messages(system: str, contents: Sequence[JsonDict]) -> list[JsonDict]:
    """The request as chat messages ({role, content}) for the Scenario to decide on."""
    chat: list[JsonDict] = [{"role": "system", "content": system}] if system else []
    for content in contents:
        role = "assistant" if field(content, "role") == "model" else "user"
        parts: list[JsonDict] = []
        for part in field(content, "parts") or []:
            response = field(part, "functionResponse")
            if response is not None:
                chat.append({"role": "tool", "content": json.dumps(field(response, "response"))})
                continue
            url = _image_url(part)
            if url is not None:
                parts.append({"type": "image_url", "image_url": {"url": url}})
            elif isinstance(field(part, "text"), str):
                parts.append({"type": "text", "text": field(part, "text")})
            elif field(part, "functionCall") is not None:
                parts.append({"type": "text", "text": json.dumps(field(part, "functionCall"))})
        if parts:
            chat.append({"role": role, "content": parts})
    return chat


def function_call_parts(calls: Sequence[JsonDict], *, signed: bool = False) -> list[JsonDict]:
    """A rule's ``tool_calls`` as ``functionCall`` parts; the API's args are always an object.

    ``signed``: the first part carries a ``thoughtSignature``, as Gemini 3 answers.
    """
    parts: list[JsonDict] = []
    for i, call in enumerate(calls):
        try:
            args = json.loads(call["arguments"])
        except ValueError:
            args = None
        if not isinstance(args, dict):
            raise ValueError(
                f"tool_calls[{i}]: the Gemini API answers with an args object, "
                f"not {call['arguments']!r}"
            )
        parts.append({"functionCall": {"name": call["name"], "args": args}})
    if signed and parts:
        parts[0]["thoughtSignature"] = signature(parts[0]["functionCall"])
    return parts
