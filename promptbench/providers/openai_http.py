"""The OpenAI chat completions API over plain HTTP: shared parsing, errors, and a lean transport.

Two transports serve the ``openai`` provider. The official SDK is the way to
hosted OpenAI. For OpenAI-compatible servers (``base_url``), the lean transport
posts the same JSON over a small keep-alive HTTP/1.1 client and parses the answer
directly: on a loopback server it makes several times as many calls per second
per CPU as the SDK, whose per-call work (request building, validation into typed
models, httpx) then dominates; ``bench/run_bench.py`` prints the figures.
Both map failures the same way (:func:`classify_status`), with the SDK's meaning
of each status: 429 and 5xx are retried, 400/401/403/404/422 are not.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from promptbench.errors import ProviderError
from promptbench.providers.http11 import HTTPClient, HTTPError
from promptbench.providers.openai_wire import tool_calls_from_message
from promptbench.server_limits import RateLimit
from promptbench.types import Completion, Usage


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """OpenAI's reset durations: ``"1s"``, ``"120ms"``, ``"6m0s"``, ``"1h2m3.5s"``."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip().replace(" ", ""):
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit(headers: Mapping[str, str] | None) -> RateLimit | None:
    """The ``x-ratelimit-*`` headers, if the server sent any."""
    if not headers or (
        "x-ratelimit-limit-requests" not in headers and ("x-ratelimit-limit-tokens" not in headers)
    ):
        return None
    reset_r = headers.get("x-ratelimit-reset-requests")
    reset_t = headers.get("x-ratelimit-reset-tokens")
    return RateLimit(
        limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
        remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
        reset_requests=parse_duration(reset_r) if reset_r else None,
        limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
        reset_tokens=parse_duration(reset_t) if reset_t else None,
    )


def api_message(body: object, fallback: str) -> str:
    """The ``error.message`` of an OpenAI-shaped error body, else ``fallback``."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:300]
    return fallback[:300]


def _error_code(body: object) -> str | None:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("code") is not None:
            return str(err["code"])
    return None


def classify_status(
    status: int, headers: Mapping[str, str] | None, body: object, fallback: str = ""
) -> ProviderError:
    """The ProviderError for an HTTP error status, saying whether to retry."""
    message = api_message(body, fallback or f"HTTP {status}")
    limits = rate_limit(headers)
    if status == 429 and _error_code(body) == "insufficient_quota":
        # Out of credit: waiting does not help, so fail at once.
        return ProviderError(
            f"quota exhausted (429): {message}; check the account's plan and billing",
            kind="quota",
            retryable=False,
            status=status,
        )
    if status == 429:
        return ProviderError(
            f"rate limited (429): {message}",
            kind="rate_limit",
            retryable=True,
            status=status,
            retry_after=retry_after(headers),
            rate_limit=limits,
        )
    retryable = status >= 500 or status in (408, 409)
    return ProviderError(
        f"HTTP {status}: {message}",
        kind="server_error" if status >= 500 else "client_error",
        retryable=retryable,
        status=status,
        retry_after=retry_after(headers) if retryable else None,
        rate_limit=limits,
    )


def completion_from_json(
    data: object, latency_ms: float, headers: Mapping[str, str] | None = None
) -> Completion:
    """Parse a chat completion response body; a body without an answer is a ProviderError."""
    if not isinstance(data, dict):
        raise ProviderError(
            "malformed response: not a JSON object", kind="malformed", retryable=True
        )
    choices = data.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ProviderError("response had no choices", kind="empty_response", retryable=True)
    choice = choices[0]
    finish = choice.get("finish_reason")
    if finish == "content_filter":
        raise ProviderError(
            "the server's content filter withheld the answer",
            kind="content_filter",
            retryable=False,
        )
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ProviderError(
            "malformed response: content is not text", kind="malformed", retryable=True
        )
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    return Completion(
        text=content or "",
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        latency_ms=latency_ms,
        finish_reason=finish,
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        rate_limit=rate_limit(headers),
        tool_calls=tool_calls_from_message(message),
    )


class LeanTransport:
    """POSTs chat completions over :mod:`promptbench.providers.http11`'s keep-alive pool."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self._client = HTTPClient(base_url, {"Authorization": f"Bearer {api_key}"})
        self._timeout = timeout

    async def create(self, body: Mapping[str, Any]) -> Completion:
        """Send one request; return the completion or raise a classified ProviderError."""
        payload = json.dumps(body).encode("utf-8")
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post("/chat/completions", payload)
        except TimeoutError:
            raise ProviderError("request timed out", kind="timeout", retryable=True) from None
        except HTTPError as exc:
            raise ProviderError(
                f"connection failed: {exc}", kind="connection", retryable=True
            ) from None
        latency_ms = (time.perf_counter() - start) * 1000
        status, headers = response.status, response.headers
        try:
            data = json.loads(response.body)
        except ValueError:
            if status >= 400:
                text = response.body[:200].decode("utf-8", "replace")
                raise classify_status(status, headers, None, text) from None
            raise ProviderError(
                "malformed response: the body is not JSON", kind="malformed", retryable=True
            ) from None
        if status >= 400:
            raise classify_status(status, headers, data)
        return completion_from_json(data, latency_ms, headers)

    async def close(self) -> None:
        """Close the connections."""
        await self._client.close()
