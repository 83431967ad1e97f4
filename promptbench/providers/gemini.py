"""The ``gemini`` provider: Google's Gemini API through the official ``google-genai`` SDK.

Calls ``genai.Client(...).aio.models.generate_content``. The SDK (the ``gemini``
extra) is imported on the first call, never before. Its own retries are off
(one attempt in ``retry_options``: the runner retries), and it is given its own
httpx client: on aiohttp, the SDK's default transport when aiohttp is installed,
versions of the SDK sleep 1 to 10 s and try again after a connection error, out
of the runner's sight.

The system prompt goes in ``system_instruction``; ``max_tokens``, ``stop``,
``temperature``, ``top_p`` and ``seed`` in the generation config
(``max_output_tokens``, ``stop_sequences``, ...); a judge's JSON schema in
``response_json_schema``. An answer withheld by the safety filters (a blocked
prompt, or a candidate that ended for ``SAFETY`` and the like) is recorded as a
``content_filter`` error, never as an empty output. Output tokens include the
model's thinking tokens, which Google bills as output.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from promptbench.config import ModelConfig, Price
from promptbench.errors import ErrorKind, MissingExtraError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.providers.hosted import (
    EndpointConfig,
    ErrorTable,
    httpx_module,
    keys_masked,
    lookup_kind,
    status_kind,
)
from promptbench.providers.openai_http import parse_duration
from promptbench.providers.tool_wire import gemini_contents, gemini_tool_calls, gemini_tools
from promptbench.types import Completion, Prompt, Usage

if TYPE_CHECKING:
    from google import genai

GEMINI_URL = "https://generativelanguage.googleapis.com"

FINISH_REASONS: Mapping[str, str] = {"STOP": "stop", "MAX_TOKENS": "length"}
# Finish reasons meaning a filter withheld the answer.
FILTERED = frozenset(
    {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
    }
)  # fmt: skip


class GeminiConfig(EndpointConfig):
    """A Gemini model behind the Gemini API (Google AI Studio keys)."""

    def takes_tools(self) -> bool:
        """The API takes tools; promptbench maps the suite's OpenAI schemas to it."""
        return True

    model: str = Field(description="the model id, e.g. gemini-2.5-flash")
    top_k: int | None = Field(default=None, ge=1, description="sample from the k likeliest tokens")
    thinking_budget: int | None = Field(
        default=None, ge=-1, description="thinking tokens allowed (0: none, -1: dynamic)"
    )

    key_envs: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    default_url: ClassVar[str] = GEMINI_URL
    sampling_fields: ClassVar[tuple[str, ...]] = (
        *ModelConfig.sampling_fields,
        "top_k",
        "thinking_budget",
    )

    def preflight(self) -> None:
        """The SDK must be installed and the key findable (no call is made)."""
        import importlib.util

        if importlib.util.find_spec("google.genai") is None:
            raise MissingExtraError("google-genai", "gemini", "provider: gemini")
        super().preflight()

    def default_price(self) -> Price | None:
        """The list price of a known Gemini model, whatever the endpoint.

        The model id names the model wherever it is served (a gateway passes calls
        on to the same API); an id that is not a known Gemini model is unpriced.
        """
        return pricing.lookup_gemini(self.model)


def _find_spec(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


@cache
def error_table() -> ErrorTable:
    """google-genai's exceptions (and those of the HTTP libraries under it) -> kinds.

    An API error's kind then follows its HTTP status (429 and 5xx retry).
    """
    from google.genai import errors

    table: dict[type[BaseException], tuple[str, bool]] = {
        errors.ServerError: ("server_error", True),
        errors.ClientError: ("client_error", False),
        errors.APIError: ("client_error", False),
        TimeoutError: ("timeout", True),
    }
    for name in ("httpx", "httpx2"):
        if _find_spec(name):
            import importlib

            lib = importlib.import_module(name)
            table[lib.TimeoutException] = ("timeout", True)
            table[lib.TransportError] = ("connection", True)
    if _find_spec("aiohttp"):  # the SDK's transport when it is not given an httpx client
        import aiohttp

        table[aiohttp.ServerTimeoutError] = ("timeout", True)
        table[aiohttp.ClientError] = ("connection", True)
    return table


def _retry_delay(details: object) -> float | None:
    """The ``google.rpc.RetryInfo`` delay of an error body (``"retryDelay": "17s"``)."""
    err = details.get("error", details) if isinstance(details, dict) else None
    items = err.get("details") if isinstance(err, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            delay = item.get("retryDelay")
            if isinstance(delay, str):
                return parse_duration(delay)
    return None


def classify(exc: Exception) -> ProviderError:
    """Map an exception from the SDK to a ProviderError that says whether to retry."""
    from google.genai import errors

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, errors.APIError):
        status = int(exc.code or 0)
        kind, retryable = status_kind(status)
        text = str(exc.message or "")[:300]
        label = "rate limited" if status == 429 else "HTTP"
        where = f" {exc.status}" if exc.status else ""
        return ProviderError(
            f"{label} ({status}{where}): {text}"
            if status == 429
            else f"HTTP {status}{where}: {text}",
            kind=ErrorKind(kind),
            retryable=retryable,
            status=status or None,
            retry_after=_retry_delay(exc.details) if retryable else None,
        )
    entry = lookup_kind(error_table(), exc)
    if entry is not None:
        kind, retryable = entry
        text = {"timeout": "request timed out", "connection": "connection failed"}.get(kind, kind)
        return ProviderError(
            f"{text}: {type(exc).__name__}", kind=ErrorKind(kind), retryable=retryable
        )
    if isinstance(exc, ValueError):  # the SDK could not parse the body
        return ProviderError(
            f"malformed response: {type(exc).__name__}", kind=ErrorKind.MALFORMED, retryable=True
        )
    return ProviderError(f"{type(exc).__name__}: {exc}", kind=ErrorKind.UNKNOWN, retryable=False)


def _schema(fmt: object) -> tuple[str | None, Any]:
    """``response_format`` as Gemini's (response_mime_type, response_json_schema)."""
    if fmt == "json_object" or (isinstance(fmt, dict) and fmt.get("type") == "json_object"):
        return "application/json", None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        return "application/json", spec.get("schema") if isinstance(spec, dict) else None
    return None, None


def request_parts(
    prompt: Prompt, config: GeminiConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The ``contents`` and generation ``config`` for ``prompt``, in the SDK's dict form."""
    given_system, contents = gemini_contents(prompt.messages, raw_bytes=True)
    system = [given_system] if given_system else []
    # The runner sends the model's sampling parameters with each prompt; the fields only
    # this provider has are read from its config too, for a prompt made without them.
    params = {"top_k": config.top_k, "thinking_budget": config.thinking_budget, **prompt.params}
    gen: dict[str, Any] = {}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("top_k", "top_k"),
        ("seed", "seed"),
        ("max_tokens", "max_output_tokens"),
    ):
        if params.get(ours) is not None:
            gen[theirs] = params[ours]
    stop = params.get("stop")
    if stop is not None:
        gen["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    mime, schema = _schema(params.get("response_format"))
    if mime is not None:
        gen["response_mime_type"] = mime
    if schema is not None:
        gen["response_json_schema"] = schema
    if params.get("thinking_budget") is not None:
        gen["thinking_config"] = {"thinking_budget": params["thinking_budget"]}
    if system:
        gen["system_instruction"] = "\n\n".join(system)
    gen.update(gemini_tools(params))  # OpenAI-shaped tools as function declarations
    return contents, gen


def _name(value: object) -> str | None:
    """An SDK enum's wire name (``FinishReason.STOP`` -> ``"STOP"``)."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def completion_from_response(response: Any, latency_ms: float) -> Completion:
    """A Completion from ``GenerateContentResponse``; filtered answers are errors."""
    feedback = getattr(response, "prompt_feedback", None)
    blocked = _name(getattr(feedback, "block_reason", None))
    if blocked:
        raise ProviderError(
            f"the prompt was blocked ({blocked})", kind=ErrorKind.CONTENT_FILTER, retryable=False
        )
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        raise ProviderError(
            "response had no candidates", kind=ErrorKind.EMPTY_RESPONSE, retryable=True
        )
    candidate = candidates[0]
    finish = _name(getattr(candidate, "finish_reason", None))
    if finish in FILTERED:
        raise ProviderError(
            f"the answer was withheld (finish reason {finish})",
            kind=ErrorKind.CONTENT_FILTER,
            retryable=False,
        )
    content = getattr(candidate, "content", None)
    parts = getattr(content, "parts", None) or []
    # Thought summaries are not the answer.
    text = "".join(
        p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False)
    )
    usage = getattr(response, "usage_metadata", None)
    prompt_tokens = int(getattr(usage, "prompt_token_count", 0) or 0)
    output_tokens = int(getattr(usage, "candidates_token_count", 0) or 0) + int(
        getattr(usage, "thoughts_token_count", 0) or 0
    )
    return Completion(
        text=text,
        usage=Usage(prompt_tokens, output_tokens),
        latency_ms=latency_ms,
        finish_reason=FINISH_REASONS.get(finish, finish.lower()) if finish else None,
        model=getattr(response, "model_version", None),
        tool_calls=gemini_tool_calls(parts),
    )


@provider("gemini", config=GeminiConfig, summary="Gemini, through Google's google-genai SDK")
class GeminiProvider:
    """Calls ``aio.models.generate_content`` on a ``genai.Client``."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, GeminiConfig)
        self.config = config
        self._key = config.resolve_api_key()
        try:
            from google import genai
            from google.genai import types
        except ImportError:
            raise MissingExtraError("google-genai", "gemini", "provider: gemini") from None
        options: dict[str, Any] = {
            "timeout": int(config.timeout * 1000),  # milliseconds
            "retry_options": types.HttpRetryOptions(attempts=1),  # the runner retries
        }
        if config.base_url is not None:
            options["base_url"] = config.base_url
        self._http: Any = None
        if "httpx_async_client" in types.HttpOptions.model_fields:
            self._http = httpx_module().AsyncClient(timeout=config.timeout)
            options["httpx_async_client"] = self._http
        self._types = types
        self._client: genai.Client = genai.Client(
            api_key=self._key, vertexai=False, http_options=types.HttpOptions(**options)
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one generateContent request; an error never carries the key."""
        with keys_masked(self._key):
            contents, gen = request_parts(prompt, self.config)
            start = time.perf_counter()
            try:
                response = await self._client.aio.models.generate_content(
                    model=self.config.model,
                    contents=contents,
                    config=self._types.GenerateContentConfig.model_validate(gen),
                )
            except Exception as exc:
                raise classify(exc) from exc
            latency_ms = (time.perf_counter() - start) * 1000
            return completion_from_response(response, latency_ms)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aio.aclose()
        if self._http is not None:
            await self._http.aclose()
