"""A loopback server speaking Anthropic's Messages API, for end-to-end tests through the SDK.

``POST /v1/messages`` as Anthropic's API reference documents it: the key in
``x-api-key`` (or ``Authorization: Bearer``, which current SDKs send), an
``anthropic-version`` header,
a body with ``model``, ``max_tokens`` (required), ``messages`` whose roles are
only ``user`` and ``assistant`` (the system prompt is the top-level ``system``),
and no fields the API does not know. Answers are ``message`` objects with text
content blocks, a ``stop_reason`` (``end_turn``, ``max_tokens``,
``stop_sequence``, ``tool_use``, ``refusal``) and ``usage`` (``input_tokens``,
``output_tokens``). From ``anthropic-version`` 2026-10-21 (the version current
SDKs pin) ``temperature``, ``top_p`` and ``top_k`` are refused; structured output
is ``output_config.format``. Errors are ``{"type": "error", "error": {"type", "message"},
"request_id"}`` with 400/401/403/404/413/429/500/529 and their error types.

Tools, tool results and images are checked and answered as
:mod:`promptbench.testing.anthropic_blocks` says: a rule's ``tool_calls`` come back
as ``tool_use`` blocks, and a request ending in ``tool_result`` blocks is
matched on the last result's text.

Scripted like the OpenAI test server (:mod:`promptbench.testing.wire`); the
fault kinds map to this API: ``529`` is ``overloaded_error``, ``length`` a
``max_tokens`` stop, ``content_filter`` a ``refusal``, ``empty_choices`` an
empty content list, and ``401`` echoes the key it was given (as some gateways
do, so that a test can check the key is masked).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

from promptbench.testing.anthropic_blocks import (
    chat_messages,
    check_content,
    check_tools,
    tool_use_blocks,
)
from promptbench.testing.scenario import ERROR_FAULTS
from promptbench.testing.wire import MALFORMED_BODY, Reply, Request, WireServer, shaped

__all__ = ["AnthropicServer"]

ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
SAMPLING: Final = ("temperature", "top_p", "top_k")
NO_SAMPLING_SINCE: Final = (
    "2026-10-21"  # the API version from which any sampling parameter is a 400
)
REQUEST_FIELDS: Final = frozenset(
    {
        "model", "messages", "max_tokens", "system", "temperature", "top_p", "top_k",
        "stop_sequences", "metadata", "stream", "tools", "tool_choice", "thinking",
        "service_tier", "container", "mcp_servers", "context_management", "output_config",
        "cache_control", "diagnostics", "inference_geo", "speed", "user_profile_id",
        "workspace_id",
    }
)  # fmt: skip


class AnthropicServer(WireServer):
    """Anthropic's Messages API on 127.0.0.1; ``url`` is the SDK's ``base_url``."""

    name: ClassVar[str] = "anthropic"

    def error(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Reply:
        """An error in Anthropic's shape."""
        n = self.next_id()
        body = {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": f"req_pb{n:012d}",
        }
        return Reply(status, body, [("request-id", f"req_pb{n:012d}"), *(headers or [])])

    def handle(self, request: Request) -> Reply:
        """Route ``POST /v1/messages``; anything else is a 404."""
        if request.path != "/v1/messages":
            return self.error(404, f"Not found: {request.method} {request.path}")
        if request.method != "POST":
            return self.error(405, f"Method {request.method} not allowed")
        key = request.headers.get("x-api-key") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        if not key:
            return self.error(401, "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            return self.error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            return self.error(400, "anthropic-version: header is required")
        problem = _invalid(request.body, version)
        if problem is None:
            assert isinstance(request.body, dict)
            problem = check_tools(request.body) or check_content(request.body["messages"])
        if problem is not None:
            return self.error(400, problem)
        assert isinstance(request.body, dict)
        return self._answer(request.body, key)

    def _answer(self, body: dict[str, Any], key: str) -> Reply:
        decision = self.decide(chat_messages(body))
        fault = decision.fault
        kind = fault.kind if fault is not None else "ok"
        headers = list(decision.headers)
        if kind in ERROR_FAULTS:
            status, _, _, message = ERROR_FAULTS[kind]
            if status == 429 and kind == "429":
                wait = fault.arg if fault is not None and fault.arg is not None else 1.0
                headers += [("retry-after", str(math.ceil(wait)))]
                message = "Number of requests has exceeded your rate limit."
            elif status == 401:
                message = f"invalid x-api-key: {key}"
            reply = self.error(status, f"{message} (promptbench fault injection: {kind})", headers)
            reply.delay = decision.delay
            return reply
        if kind == "drop":
            return Reply(drop=True, delay=decision.delay)
        if kind == "malformed":
            return Reply(200, MALFORMED_BODY, headers, delay=decision.delay)
        n = self.next_id()
        text, ended, stop = shaped(
            decision.content or "", int(body["max_tokens"]), body.get("stop_sequences") or []
        )
        stop_reason = ended or "end_turn"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if kind == "length":
            stop_reason = "max_tokens"
        elif kind == "content_filter":
            stop_reason, content = "refusal", []
        elif kind == "empty_choices":
            content = []
        elif decision.tool_calls:
            try:
                content = tool_use_blocks(decision.tool_calls, n)
            except ValueError as exc:  # a test scripted what this API cannot answer
                return self.error(500, str(exc))
            stop_reason = "tool_use"
        output_tokens = decision.completion_tokens  # a rule's usage override included
        if ended is not None or not content:
            output_tokens = len(" ".join(str(b["text"]) for b in content).split())
        answer: dict[str, Any] = {
            "id": f"msg_pb{n:012d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop,
            "usage": {
                "input_tokens": decision.prompt_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        headers.append(("request-id", f"req_pb{n:012d}"))
        return Reply(200, answer, _ratelimit_headers(headers), delay=decision.delay)


def _invalid(body: object, version: str) -> str | None:
    """What Anthropic's API (at ``anthropic-version`` ``version``) would say is wrong, or None."""
    if not isinstance(body, dict):
        return "There was an error parsing the body of your request as JSON."
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    extra = sorted(set(body) - REQUEST_FIELDS)
    if extra:
        return f"{extra[0]}: Extra inputs are not permitted"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a valid string"
    tokens = body["max_tokens"]
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        return "max_tokens: Input should be a positive integer"
    for name in SAMPLING:
        if name in body and version >= NO_SAMPLING_SINCE:
            return (
                f"{name}: sampling parameters are not supported with anthropic-version "
                f"{version}; remove {name}"
            )
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        return "temperature: range: 0 <= temperature <= 1"
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None and (
        fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict)
    ):
        return "output_config.format: a json_schema format needs a schema object"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role == "system":
            return (
                f'messages.{i}.role: Unexpected role "system". The Messages API accepts a '
                'top-level `system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = m.get("content")
        if not isinstance(content, (str, list)):
            return f"messages.{i}.content: Input should be a valid string or list"
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        return "system: Input should be a valid string or list"
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
    ):
        return "stop_sequences: Input should be a valid list of strings"
    return None


_RENAMED: Final = {
    "x-ratelimit-limit-requests": "anthropic-ratelimit-requests-limit",
    "x-ratelimit-remaining-requests": "anthropic-ratelimit-requests-remaining",
}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)")
_UNIT: Final = {"ms": 0.001, "s": 1.0, "m": 60.0}


def _reset_time(duration: str) -> str:
    """An OpenAI reset duration ("120ms", "1m3s") as Anthropic's RFC 3339 reset time."""
    seconds = sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(duration))
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ratelimit_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The Scenario's OpenAI-named rate-limit headers under Anthropic's names and forms."""
    out = []
    for name, value in headers:
        if name == "x-ratelimit-reset-requests":
            out.append(("anthropic-ratelimit-requests-reset", _reset_time(value)))
        else:
            out.append((_RENAMED.get(name, name), value))
    return out
