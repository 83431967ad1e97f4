"""The OpenAI chat completions API on the wire: what every transport shares.

Parsing a response body (:func:`completion_from_json`), the rate-limit and
Retry-After headers, and what an HTTP error status means (``STATUS_KINDS`` and
:func:`classify_status`), with the SDK's meaning of each status: 429 and 5xx are
retried, 408 and 409 too, other 4xx are not. The transports themselves are the
official SDK (:mod:`promptbench.providers.openai`) and the aiohttp client
(:mod:`promptbench.providers.openai_aiohttp`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Final

from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.openai_wire import tool_calls_from_message
from promptbench.server_limits import RateLimit
from promptbench.types import Completion, Usage

#: What an HTTP error status means, where it is not the rule "5xx: server_error, 4xx:
#: client_error". A 429 whose body says ``insufficient_quota`` is a ``quota`` error.
STATUS_KINDS: Final[Mapping[int, ErrorKind]] = {
    401: ErrorKind.AUTH,
    403: ErrorKind.AUTH,
    429: ErrorKind.RATE_LIMIT,
}
#: Client errors worth another try: a request timeout and a conflict, as the SDK retries.
RETRYABLE_STATUSES: Final = frozenset({408, 409})


def status_kind(status: int) -> ErrorKind:
    """The kind of an HTTP error status (>= 300: a redirect is not followed for a POST)."""
    kind = STATUS_KINDS.get(status)
    if kind is not None:
        return kind
    return ErrorKind.SERVER_ERROR if status >= 500 else ErrorKind.CLIENT_ERROR


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
    kind = status_kind(status)
    if kind is ErrorKind.RATE_LIMIT and _error_code(body) == "insufficient_quota":
        # Out of credit: waiting does not help, so fail at once.
        return ProviderError.quota_exhausted(
            f"quota exhausted (429): {message}; check the account's plan and billing",
            status=status,
        )
    if kind is ErrorKind.RATE_LIMIT:
        return ProviderError.rate_limited(
            f"rate limited ({status}): {message}",
            status=status,
            retry_after=retry_after(headers),
            rate_limit=limits,
        )
    if kind is ErrorKind.AUTH:
        return ProviderError.auth(
            f"HTTP {status}: {message}; check the API key",
            status=status,
        )
    if kind is ErrorKind.SERVER_ERROR:
        return ProviderError.server_error(
            f"HTTP {status}: {message}",
            status=status,
            retry_after=retry_after(headers),
            rate_limit=limits,
        )
    retryable = status in RETRYABLE_STATUSES
    return ProviderError.bad_request(
        f"HTTP {status}: {message}",
        status=status,
        retryable=retryable,
        retry_after=retry_after(headers) if retryable else None,
        rate_limit=limits,
    )


def completion_from_json(
    data: object, latency_ms: float, headers: Mapping[str, str] | None = None
) -> Completion:
    """Parse a chat completion response body; a body without an answer is a ProviderError."""
    if not isinstance(data, dict):
        raise ProviderError.malformed("malformed response: not a JSON object")
    choices = data.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ProviderError.empty_response("response had no choices")
    choice = choices[0]
    finish = choice.get("finish_reason")
    if finish == "content_filter":
        raise ProviderError.content_filter("the server's content filter withheld the answer")
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ProviderError.malformed("malformed response: content is not text")
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
