"""The ``anthropic`` provider: Claude through the official SDK's Messages API.

The SDK (the ``anthropic`` extra) is imported on the first call, never before:
``promptbench --help`` and ``validate`` stay fast and work without it. Its own
retries are off (``max_retries=0``): the runner retries, with back-off and the
server's ``retry-after``.

The Messages API differs from chat completions in ways this module absorbs:
the system prompt travels apart from the messages; ``max_tokens`` is required
(default 1024 here, so it is also in the cache key and the cost estimate); stop
reasons are mapped to the finish reasons the rest of promptbench uses
(``end_turn`` and ``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``);
a judge's JSON schema goes in ``output_config.format`` (structured outputs).
The API version the SDK pins (2026-10-21) takes no sampling parameters at all:
a suite that sets ``temperature``, ``top_p`` or ``seed`` on an anthropic model
is refused when it loads, and a judge's ``temperature: 0`` is not sent.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import ErrorKind, MissingExtraError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.providers.hosted import (
    EndpointConfig,
    ErrorTable,
    keys_masked,
    lookup_kind,
    status_kind,
)
from promptbench.providers.openai_http import retry_after
from promptbench.providers.tool_wire import (
    anthropic_messages,
    anthropic_tool_calls,
    anthropic_tools,
)
from promptbench.server_limits import RateLimit
from promptbench.types import Completion, Prompt, Usage

if TYPE_CHECKING:
    import anthropic

ANTHROPIC_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 1024

# Stop reasons -> the finish reasons of chat completions, which metrics and reports read.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "model_context_window_exceeded": "length",
}


# Chat-completion parameters the Messages API does not take (the SDK has no such arguments).
UNSUPPORTED = ("temperature", "top_p", "seed")


class AnthropicConfig(EndpointConfig):
    """A Claude model behind the Anthropic Messages API."""

    def takes_tools(self) -> bool:
        """The API takes tools; promptbench maps the suite's OpenAI schemas to it."""
        return True

    model: str = Field(description="the model id, e.g. claude-haiku-4-5")
    max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS,
        ge=1,
        description="most tokens to generate (the Messages API requires a limit)",
    )

    key_envs: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    default_url: ClassVar[str] = ANTHROPIC_URL

    @field_validator(*UNSUPPORTED)
    @classmethod
    def _no_sampling(cls, value: object, info: ValidationInfo) -> object:
        if value is not None:
            raise ValueError(
                f"the Messages API (version 2026-10-21) takes no {info.field_name}; remove it "
                "from this anthropic model (steer the output through the prompt instead)"
            )
        return value

    def preflight(self) -> None:
        """The SDK must be installed and the key findable (no call is made)."""
        import importlib.util

        if importlib.util.find_spec("anthropic") is None:
            raise MissingExtraError("anthropic", "anthropic", "provider: anthropic")
        super().preflight()

    def default_price(self) -> Price | None:
        """The list price of a known Claude model, whatever the endpoint.

        The model id names the model wherever it is served (a gateway passes calls
        on to the same API); an id that is not a known Claude model is unpriced.
        """
        return pricing.lookup_anthropic(self.model)


@cache
def error_table() -> ErrorTable:
    """The anthropic SDK's exceptions -> (kind, retryable); a subclass's own entry wins.

    Newer SDKs raise finer classes (by status and the body's ``error_code``);
    those an older SDK lacks are simply absent from the table.
    """
    import anthropic

    entries: dict[str, tuple[str, bool]] = {
        "APITimeoutError": ("timeout", True),
        "APIConnectionError": ("connection", True),
        "APIResponseValidationError": ("malformed", True),
        "BadRequestError": ("client_error", False),  # 400
        "AuthenticationError": ("auth", False),  # 401
        "PaymentRequiredError": ("quota", False),  # 402: billing
        "PermissionDeniedError": ("auth", False),  # 403
        "NotFoundError": ("client_error", False),  # 404
        "RequestTimeoutError": ("timeout", True),  # 408
        "ConflictError": ("client_error", True),  # 409
        "RequestTooLargeError": ("client_error", False),  # 413
        "ContentTooLargeError": ("client_error", False),  # 413
        "UnprocessableEntityError": ("client_error", False),  # 422
        "RateLimitError": ("rate_limit", True),  # 429
        "ContractSpendLimitReachedError": ("quota", False),  # 429 that waiting does not fix
        "EnforcedSpendLimitReachedError": ("quota", False),
        "InternalServerError": ("server_error", True),  # 5xx
        "HTTPNotImplementedError": ("server_error", False),  # 501
        "OverloadedError": ("server_error", True),  # 529: the API is overloaded
    }
    return {
        getattr(anthropic, name): entry
        for name, entry in entries.items()
        if isinstance(getattr(anthropic, name, None), type)
    }


def _api_message(body: object, fallback: str) -> str:
    """``error.message`` of Anthropic's error body ``{"type": "error", "error": {...}}``."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            kind = err.get("type")
            text = str(err["message"])[:300]
            return f"{kind}: {text}" if isinstance(kind, str) else text
    return fallback[:300]


def classify(exc: Exception) -> ProviderError:
    """Map an exception of the anthropic SDK to a ProviderError that says whether to retry."""
    import anthropic

    if isinstance(exc, ProviderError):
        return exc
    entry = lookup_kind(error_table(), exc)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        kind, retryable = entry if entry is not None else status_kind(status)
        message = _api_message(exc.body, exc.message)
        label = {429: "rate limited", 529: "overloaded"}.get(status)
        headers = exc.response.headers
        if kind == "quota":
            label = "quota exhausted"
        return ProviderError(
            f"{label} ({status}): {message}" if label else f"HTTP {status}: {message}",
            kind=ErrorKind(kind),
            retryable=retryable,
            status=status,
            retry_after=retry_after(headers) if retryable else None,
            rate_limit=rate_limit(headers),
        )
    if entry is not None:
        kind, retryable = entry
        cause = exc.__cause__
        detail = f": {type(cause).__name__}" if cause is not None else ""
        text = {"timeout": "request timed out", "connection": "connection failed"}.get(kind, kind)
        return ProviderError(f"{text}{detail}", kind=ErrorKind(kind), retryable=retryable)
    if isinstance(exc, ValueError):  # a body that is not JSON, or not a message
        return ProviderError(
            f"malformed response: {type(exc).__name__}", kind=ErrorKind.MALFORMED, retryable=True
        )
    return ProviderError(f"{type(exc).__name__}: {exc}", kind=ErrorKind.UNKNOWN, retryable=False)


def _reset_seconds(value: str | None) -> float | None:
    """Seconds until an RFC 3339 reset time (``anthropic-ratelimit-*-reset``)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, when.timestamp() - time.time())


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit(headers: Mapping[str, str] | None) -> RateLimit | None:
    """The ``anthropic-ratelimit-*`` headers, if the server sent any."""
    if not headers or (
        "anthropic-ratelimit-requests-limit" not in headers
        and "anthropic-ratelimit-tokens-limit" not in headers
    ):
        return None
    prefix = "anthropic-ratelimit-"
    return RateLimit(
        limit_requests=_int(headers.get(prefix + "requests-limit")),
        remaining_requests=_int(headers.get(prefix + "requests-remaining")),
        reset_requests=_reset_seconds(headers.get(prefix + "requests-reset")),
        limit_tokens=_int(headers.get(prefix + "tokens-limit")),
        remaining_tokens=_int(headers.get(prefix + "tokens-remaining")),
        reset_tokens=_reset_seconds(headers.get(prefix + "tokens-reset")),
    )


def _output_format(fmt: object) -> tuple[dict[str, Any] | None, str | None]:
    """A judge's ``response_format`` as ``output_config.format``, or as words for the system.

    A JSON schema becomes a structured output; ``json_object`` (no schema) has no
    counterpart in the API, so it is asked for in the system prompt.
    """
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            return {"type": "json_schema", "schema": schema}, None
    if fmt == "json_object" or (
        isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
    ):
        return None, "Answer with a single JSON object and nothing else."
    return None, None


def request_body(prompt: Prompt, config: AnthropicConfig) -> dict[str, Any]:
    """The Messages API request for ``prompt``: the system prompt apart, stop as a list."""
    given_system, messages = anthropic_messages(prompt.messages)
    system = [given_system] if given_system else []
    params = prompt.params
    body: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "max_tokens": params.get("max_tokens") or config.max_tokens,
        **anthropic_tools(params),  # OpenAI-shaped tools as the Messages API takes them
    }
    stop = params.get("stop")
    if stop is not None:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    output_format, instruction = _output_format(params.get("response_format"))
    if output_format is not None:
        body["output_config"] = {"format": output_format}
    if instruction is not None:
        system.append(instruction)
    if system:
        body["system"] = "\n\n".join(system)
    return body


def completion_from_message(
    message: Any, latency_ms: float, headers: Mapping[str, str] | None = None
) -> Completion:
    """A Completion from the SDK's ``Message``; a refusal is a content_filter error."""
    stop_reason = getattr(message, "stop_reason", None)
    if stop_reason == "refusal":
        raise ProviderError(
            "the model declined to answer (stop_reason: refusal)",
            kind=ErrorKind.CONTENT_FILTER,
            retryable=False,
        )
    blocks = getattr(message, "content", None) or []
    text = "".join(getattr(b, "text", "") for b in blocks if getattr(b, "type", None) == "text")
    usage = getattr(message, "usage", None)
    # Prompt tokens include those read from or written to Anthropic's prompt cache.
    prompt_tokens = sum(
        int(getattr(usage, name, 0) or 0)
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    return Completion(
        text=text,
        usage=Usage(prompt_tokens, int(getattr(usage, "output_tokens", 0) or 0)),
        latency_ms=latency_ms,
        finish_reason=FINISH_REASONS.get(stop_reason, stop_reason) if stop_reason else None,
        model=getattr(message, "model", None),
        rate_limit=rate_limit(headers),
        tool_calls=anthropic_tool_calls(blocks),
    )


@provider("anthropic", config=AnthropicConfig, summary="Claude, through Anthropic's Messages API")
class AnthropicProvider:
    """Calls ``messages.create`` on the SDK's AsyncAnthropic client."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, AnthropicConfig)
        self.config = config
        self._key = config.resolve_api_key()
        try:
            import anthropic
        except ImportError:
            raise MissingExtraError("anthropic", "anthropic", "provider: anthropic") from None
        self._client: anthropic.AsyncAnthropic = anthropic.AsyncAnthropic(
            api_key=self._key,
            base_url=config.url(),
            max_retries=0,  # the runner retries, with back-off and retry-after
            timeout=config.timeout,
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one Messages API request; an error never carries the key."""
        with keys_masked(self._key):
            body = request_body(prompt, self.config)
            start = time.perf_counter()
            try:
                raw = await self._client.messages.with_raw_response.create(**body)
                message = raw.parse()
                if inspect.isawaitable(message):  # newer SDKs parse asynchronously
                    message = await message
            except Exception as exc:
                raise classify(exc) from exc
            latency_ms = (time.perf_counter() - start) * 1000
            return completion_from_message(message, latency_ms, raw.headers)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
