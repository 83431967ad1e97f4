"""A loopback server speaking the Gemini API's generateContent, for tests through google-genai.

``POST /v1beta/models/{model}:generateContent`` (or ``/v1/``, which current SDKs
call) as Google's reference documents it: the key in ``x-goog-api-key`` or
``?key=``; a body with ``contents`` (roles
``user`` and ``model`` only: the system prompt is ``systemInstruction``),
``generationConfig`` (``temperature``, ``topP``, ``topK``, ``maxOutputTokens``,
``stopSequences``, ``seed``, ``responseMimeType``, ``responseJsonSchema``,
``thinkingConfig``, ...) and no unknown fields, in the JSON mapping's camelCase
(snake_case is accepted too, as Google's servers do). Answers carry
``candidates`` (``content.parts``, ``finishReason``), ``usageMetadata``
(``promptTokenCount``, ``candidatesTokenCount``, ``thoughtsTokenCount``,
``totalTokenCount``) and ``modelVersion``; errors are ``{"error": {"code",
"message", "status", "details"}}``. A missing key is a 403
``PERMISSION_DENIED``; a wrong one a 400 ``INVALID_ARGUMENT`` with reason
``API_KEY_INVALID``, as Google answers.

Tools, function responses and images are checked and answered as
:mod:`promptbench.testing.gemini_parts` says: a rule's ``tool_calls`` come back as
``functionCall`` parts, and a request ending in function responses is matched
on the last response's JSON text.

Scripted like the OpenAI test server (:mod:`promptbench.testing.wire`). Fault
kinds in this API's terms: ``429[:s]`` is ``RESOURCE_EXHAUSTED`` with a
``RetryInfo`` delay of s seconds; ``429-noretry`` a quota failure without one;
``503`` and ``529`` are ``UNAVAILABLE`` (503); ``length`` a ``MAX_TOKENS`` stop;
``content_filter`` a candidate that ended for ``SAFETY`` without content;
``empty_choices`` a prompt blocked for ``SAFETY`` (``promptFeedback``, no
candidates); ``401`` echoes the key it was given.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final

from promptbench.testing.gemini_parts import (
    chat_messages,
    check_parts,
    check_tools,
    function_call_parts,
)
from promptbench.testing.scenario import ERROR_FAULTS
from promptbench.testing.wire import MALFORMED_BODY, Reply, Request, WireServer, shaped

__all__ = ["GeminiServer"]

_ROUTE: Final = re.compile(r"^/(v1beta|v1)/models/([^/:]+):generateContent$")
STATUS_NAMES: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
REQUEST_FIELDS: Final = frozenset(
    {
        "contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
        "toolConfig", "cachedContent", "labels",
    }
)  # fmt: skip
CONFIG_FIELDS: Final = frozenset(
    {
        "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
        "seed", "responseMimeType", "responseSchema", "responseJsonSchema", "presencePenalty",
        "frequencyPenalty", "responseLogprobs", "logprobs", "thinkingConfig",
        "responseModalities", "mediaResolution", "speechConfig", "imageConfig",
        "enableEnhancedCivicAnswers",
    }
)  # fmt: skip
THOUGHT_TOKENS: Final = 7  # reported when a thinking budget is set, so tests can see them billed


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_keys(obj: object) -> dict[str, Any]:
    return {_camel(k): v for k, v in obj.items()} if isinstance(obj, dict) else {}


def _text(content: object) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    texts = [p.get("text") for p in parts or [] if isinstance(p, dict)]
    return " ".join(t for t in texts if isinstance(t, str))


class GeminiServer(WireServer):
    """The Gemini API on 127.0.0.1; ``url`` is google-genai's ``http_options.base_url``."""

    name: ClassVar[str] = "gemini"

    def error(
        self,
        status: int,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> Reply:
        """An error in Google's shape."""
        err: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
        if details:
            err["details"] = details
        return Reply(status, {"error": err})

    def handle(self, request: Request) -> Reply:
        """Route ``generateContent``; anything else is a 404."""
        route = _ROUTE.match(request.path)
        if route is None or request.method != "POST":
            return self.error(404, f"Method not found: {request.method} {request.path}")
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return self.error(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if self.api_key is not None and key != self.api_key:
            return self.error(
                400,
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )
        if not isinstance(request.body, dict):
            return self.error(400, "Invalid JSON payload received.")
        body = _camel_keys(request.body)
        signed = route.group(2).startswith("gemini-3")  # thought signatures required
        problem = (
            _invalid(body) or check_tools(body) or check_parts(body["contents"], signed=signed)
        )
        if problem is not None:
            return self.error(400, problem)
        return self._answer(route.group(2), body, key)

    def _answer(self, model: str, body: dict[str, Any], key: str) -> Reply:
        system = _text(_camel_keys(body.get("systemInstruction")))
        decision = self.decide(chat_messages(system, body["contents"]))
        fault = decision.fault
        kind = fault.kind if fault is not None else "ok"
        if kind in ERROR_FAULTS:
            status, _, _, message = ERROR_FAULTS[kind]
            details: list[dict[str, Any]] = []
            if status == 429:
                message = "Resource has been exhausted (e.g. check quota)."
                if kind == "429":
                    wait = fault.arg if fault is not None and fault.arg is not None else 1.0
                    details.append(
                        {
                            "@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": f"{wait:g}s",
                        }
                    )
            elif status == 401:
                message = f"Request had invalid authentication credentials: {key}"
            elif status in (503, 529):
                status, message = 503, "The model is overloaded. Please try again later."
            reply = self.error(status, f"{message} (promptbench fault injection: {kind})", details)
            reply.delay = decision.delay
            return reply
        if kind == "drop":
            return Reply(drop=True, delay=decision.delay)
        if kind == "malformed":
            return Reply(200, MALFORMED_BODY, delay=decision.delay)
        config = _camel_keys(body.get("generationConfig"))
        text, ended, _ = shaped(
            decision.content or "", config.get("maxOutputTokens"), config.get("stopSequences") or []
        )
        finish = "MAX_TOKENS" if ended == "max_tokens" or kind == "length" else "STOP"
        parts: list[dict[str, Any]] = [{"text": text}]
        if decision.tool_calls:
            try:
                parts = function_call_parts(
                    decision.tool_calls, signed=model.startswith("gemini-3")
                )
            except ValueError as exc:  # a test scripted what this API cannot answer
                return self.error(500, str(exc))
        candidate: dict[str, Any] = {
            "content": {"parts": parts, "role": "model"},
            "finishReason": finish,
            "index": 0,
        }
        output_tokens = decision.completion_tokens if ended is None else len(text.split())
        usage: dict[str, Any] = {"promptTokenCount": decision.prompt_tokens}
        thinking = _camel_keys(config.get("thinkingConfig"))
        thoughts = THOUGHT_TOKENS if (thinking.get("thinkingBudget") or 0) > 0 else 0
        answer: dict[str, Any] = {"modelVersion": model, "responseId": f"pb{self.next_id():012d}"}
        if kind == "content_filter":
            candidate = {
                "finishReason": "SAFETY",
                "index": 0,
                "safetyRatings": [
                    {
                        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                        "probability": "HIGH",
                        "blocked": True,
                    }
                ],
            }
            output_tokens = 0
        if kind == "empty_choices":
            answer["promptFeedback"] = {
                "blockReason": "SAFETY",
                "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}],
            }
        else:
            answer["candidates"] = [candidate]
            usage["candidatesTokenCount"] = output_tokens
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        usage["totalTokenCount"] = decision.prompt_tokens + output_tokens + thoughts
        answer["usageMetadata"] = usage
        return Reply(200, answer, delay=decision.delay)


def _invalid(body: dict[str, Any]) -> str | None:
    """What the Gemini API would say is wrong with a (camelCased) request body, or None."""
    for name in sorted(set(body) - REQUEST_FIELDS):
        return f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for content in contents:
        if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
            return "Please use a valid role: user, model."
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            return "* GenerateContentRequest.contents.parts: contents.parts must not be empty."
    config = _camel_keys(body.get("generationConfig"))
    for name in sorted(set(config) - CONFIG_FIELDS):
        return (
            f"Invalid JSON payload received. Unknown name \"{name}\" at 'generation_config': "
            "Cannot find field."
        )
    temperature = config.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        return "* GenerateContentRequest.generation_config.temperature: must be in [0.0, 2.0]"
    stops = config.get("stopSequences")
    if stops is not None and (not isinstance(stops, list) or len(stops) > 5):
        return "* GenerateContentRequest.generation_config.stop_sequences: at most 5 allowed"
    return None
