"""A loopback server speaking Azure OpenAI's chat completions, for tests through AsyncAzureOpenAI.

``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` as
Azure's REST reference documents it: the key in the ``api-key`` header, or a
Microsoft Entra token as ``Authorization: Bearer``. Answers are chat
completions naming the deployed model, with Azure's ``prompt_filter_results``
and per-choice ``content_filter_results``; errors are ``{"error": {"code",
"message"}}``, as Azure sends them: a 401 for a missing or wrong key, a 404
``DeploymentNotFound`` for an unknown deployment, a 404 without ``api-version``,
a 429 "Please retry after N seconds" with ``retry-after``, and a 400 whose code
is ``content_filter`` when the prompt filter triggers.

Tools follow chat completions: ``tools`` of ``type: function``, a rule's
``tool_calls`` answered as the assistant's ``tool_calls`` (``finish_reason:
tool_calls``), every call answered by a ``tool`` message with its
``tool_call_id`` before the next message; image parts are checked as on the
OpenAI test server.

Scripted like the OpenAI test server (:mod:`promptbench.testing.wire`). Fault
kinds in this API's terms: ``content_filter`` is the 400 ``content_filter``
error; ``length`` a ``finish_reason: length``; ``401`` echoes the key it was
given.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from promptbench.testing.scenario import ERROR_FAULTS, format_number
from promptbench.testing.tool_script import image_problem, wire_tool_calls
from promptbench.testing.wire import MALFORMED_BODY, Reply, Request, WireServer

__all__ = ["AzureServer"]

_ROUTE: Final = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_VERSION: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_UNFILTERED: Final = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}
ACCESS_DENIED: Final = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


class AzureServer(WireServer):
    """An Azure OpenAI resource on 127.0.0.1; ``url`` is the client's ``azure_endpoint``.

    ``deployments`` maps each deployment name to the model it serves; ``ad_token``,
    when given, is an Entra token accepted besides ``api_key``.
    """

    name: ClassVar[str] = "azure"

    def __init__(
        self,
        *,
        deployments: Mapping[str, str] | None = None,
        ad_token: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.deployments = dict(deployments or {"gpt-4o-mini": "gpt-4o-mini-2024-07-18"})
        self.ad_token = ad_token

    def handle(self, request: Request) -> Reply:
        """Route a deployment's chat completions; anything else is a 404."""
        route = _ROUTE.match(request.path)
        version = request.query.get("api-version", "")
        if route is None or request.method != "POST" or not _VERSION.match(version):
            return _error(404, "404", "Resource not found")
        key = request.headers.get("api-key")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        signed_in = (key and (self.api_key is None or key == self.api_key)) or (
            token and token == self.ad_token
        )
        if not signed_in:
            return _error(401, "401", ACCESS_DENIED)
        deployment = route.group(1)
        if deployment not in self.deployments:
            return _error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.",
            )
        body = request.body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "BadRequest", "'messages' is a required property")
        problem = _tools_problem(body) or image_problem(body["messages"])
        if problem is not None:
            return _error(400, "BadRequest", problem)
        return self._answer(self.deployments[deployment], version, body, key or token)

    def _answer(self, model: str, version: str, body: dict[str, Any], key: str) -> Reply:
        decision = self.decide(body["messages"])
        fault = decision.fault
        kind = fault.kind if fault is not None else "ok"
        headers = list(decision.headers)
        if kind == "content_filter":
            reply = _content_filter_error()
        elif kind in ERROR_FAULTS:
            status, _, _, message = ERROR_FAULTS[kind]
            code = str(status)
            if status == 429:
                wait = fault.arg if kind == "429" and fault is not None and fault.arg else 1.0
                message = (
                    "Requests to the ChatCompletions_Create Operation under Azure OpenAI API "
                    f"version {version} have exceeded token rate limit of your current "
                    f"AIServices S0 pricing tier. Please retry after {math.ceil(wait)} seconds."
                )
                headers += [
                    ("retry-after", str(math.ceil(wait))),
                    ("retry-after-ms", format_number(wait * 1000.0)),
                ]
            elif status == 401:
                message = f"{ACCESS_DENIED} Key: {key}"
            elif status >= 500:
                code = "InternalServerError"
            reply = _error(status, code, f"{message} (promptbench fault injection: {kind})")
            reply.headers += headers
        elif kind == "drop":
            reply = Reply(drop=True)
        elif kind == "malformed":
            reply = Reply(200, MALFORMED_BODY)
        else:
            reply = Reply(200, self._completion(model, body, decision, kind), headers)
        reply.delay = decision.delay
        return reply

    def _completion(self, model: str, body: dict[str, Any], decision: Any, kind: str) -> Any:
        message: dict[str, Any] = {"role": "assistant", "content": decision.content}
        finish = "length" if kind == "length" else "stop"
        if decision.tool_calls:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": wire_tool_calls(decision.tool_calls, self.next_id()),
            }
            finish = "tool_calls"
        choice = {
            "index": 0,
            "finish_reason": finish,
            "message": message,
            "content_filter_results": _UNFILTERED,
        }
        return {
            "id": f"chatcmpl-pb{self.next_id():012d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_promptbench",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _UNFILTERED}],
            "choices": [] if kind == "empty_choices" else [choice],
            "usage": {
                "prompt_tokens": decision.prompt_tokens,
                "completion_tokens": decision.completion_tokens,
                "total_tokens": decision.prompt_tokens + decision.completion_tokens,
            },
        }


def _tools_problem(body: dict[str, Any]) -> str | None:
    """What Azure (as OpenAI) would say is wrong with the tools and tool messages, or None."""
    names = []
    for i, tool in enumerate(body.get("tools") or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function":
            return f"Invalid value for 'tools[{i}].type': expected 'function'."
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return f"Missing required parameter: 'tools[{i}].function.name'."
        names.append(function["name"])
    choice = body.get("tool_choice")
    if choice is not None and not names:
        return (
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
            "are specified."
        )
    pending: list[str] = []
    for i, m in enumerate(body["messages"]):
        role = m.get("role") if isinstance(m, dict) else None
        if role == "tool":
            if m.get("tool_call_id") not in pending:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls'. (messages[{i}])"
                )
            pending.remove(m["tool_call_id"])
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(pending)}"
            )
        calls = m.get("tool_calls") if role == "assistant" else None
        pending = [str(c.get("id")) for c in calls or [] if isinstance(c, dict)]
    return None


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _content_filter_error() -> Reply:
    results = dict(_UNFILTERED, violence={"filtered": True, "severity": "high"})
    return Reply(
        400,
        {
            "error": {
                "message": "The response was filtered due to the prompt triggering Azure "
                "OpenAI's content management policy. Please modify your prompt and retry.",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {
                    "code": "ResponsibleAIPolicyViolation",
                    "content_filter_result": results,
                },
            }
        },
    )
