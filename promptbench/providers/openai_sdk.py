"""The chat completions API through the official openai SDK: the way to hosted OpenAI.

The SDK's async client runs on httpx (``transport: sdk``) or on aiohttp
(``transport: sdk-aiohttp``, the ``aiohttp`` extra), with its own retries switched
off: the runner retries, with back-off and Retry-After. Both are given the
certificates of :func:`promptbench.providers.tls.tls_context` (so ``SSL_CERT_FILE``
works on each) and honour ``HTTP(S)_PROXY`` and ``NO_PROXY`` (httpx's and aiohttp's
``trust_env``).

``OPENAI_EXC_MAP`` says what each of the SDK's exceptions means. This module imports
the SDK, so it is imported only when a model first needs it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import openai

from promptbench.errors import ErrorKind, MissingExtraError, ProviderError
from promptbench.providers.openai_http import classify_status, completion_from_json
from promptbench.providers.tls import tls_context, tls_failure, tls_message
from promptbench.types import Completion

#: The SDK's exceptions and the kind each means, looked up along the exception's class
#: hierarchy; None: the HTTP status of the response decides (``STATUS_KINDS``), so that a
#: RateLimitError saying insufficient_quota is a quota error. A test checks that every
#: exception class the SDK exports is here.
_BY_NAME: Final[Mapping[str, ErrorKind | None]] = {
    "OpenAIError": ErrorKind.UNKNOWN,
    "APIError": ErrorKind.UNKNOWN,
    "APIConnectionError": ErrorKind.CONNECTION,  # or tls, by its cause
    "APITimeoutError": ErrorKind.TIMEOUT,
    "APIResponseValidationError": ErrorKind.MALFORMED,
    "APIStatusError": None,
    "BadRequestError": None,
    "AuthenticationError": None,
    "OAuthError": ErrorKind.AUTH,  # an Entra/OAuth token was refused
    "PermissionDeniedError": None,
    "NotFoundError": None,
    "ConflictError": None,
    "UnprocessableEntityError": None,
    "RateLimitError": None,
    "InternalServerError": None,
    "LengthFinishReasonError": ErrorKind.MALFORMED,  # raised by .parse() helpers only
    "ContentFilterFinishReasonError": ErrorKind.CONTENT_FILTER,
    # Webhooks and the realtime API's websockets: never raised by a chat completion.
    "InvalidWebhookSignatureError": ErrorKind.UNKNOWN,
    "WebSocketConnectionClosedError": ErrorKind.CONNECTION,
    "WebSocketQueueFullError": ErrorKind.UNKNOWN,
}

#: The SDK's exceptions and the kind each means, looked up along the exception's class
#: hierarchy; None: the HTTP status of the response decides (``STATUS_KINDS``), so that a
#: RateLimitError saying insufficient_quota is a quota error. A test checks that every
#: exception class the SDK exports is here.
OPENAI_EXC_MAP: Final[Mapping[type[BaseException], ErrorKind | None]] = {
    ValueError: ErrorKind.MALFORMED,  # a body that is not JSON
    **{
        getattr(openai, name): kind
        for name, kind in _BY_NAME.items()
        if isinstance(getattr(openai, name, None), type)
    },
}


def classify(exc: BaseException, host: str = "the server") -> ProviderError:
    """Map an SDK exception to a ProviderError that says whether to retry."""
    if isinstance(exc, ProviderError):
        return exc
    kind = next(
        (OPENAI_EXC_MAP[c] for c in type(exc).__mro__ if c in OPENAI_EXC_MAP), ErrorKind.UNKNOWN
    )
    if kind is None:
        assert isinstance(exc, openai.APIStatusError)
        return classify_status(exc.status_code, exc.response.headers, exc.body, exc.message)
    if kind in (ErrorKind.CONNECTION, ErrorKind.TIMEOUT):
        # The SDK on aiohttp reports any failure to connect (a refused certificate, a
        # refused connection) as a connect timeout: the first cause says what it was.
        tls = tls_failure(exc)
        if tls is not None:
            return ProviderError.tls(tls_message(host, tls))
        if kind is ErrorKind.TIMEOUT and _refused(exc):
            kind = ErrorKind.CONNECTION
    if kind is ErrorKind.CONNECTION:
        cause = exc.__cause__ or exc
        return ProviderError.connection(f"connection failed: {type(cause).__name__}")
    if kind is ErrorKind.TIMEOUT:
        return ProviderError.timeout()
    if kind is ErrorKind.MALFORMED:
        return ProviderError.malformed(f"malformed response: {type(exc).__name__}")
    return ProviderError(f"{type(exc).__name__}: {exc}", kind=kind)


def _refused(exc: BaseException) -> bool:
    """Whether a connection error that is not a timeout lies behind ``exc``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(current, TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def http_client(flavour: str) -> openai.DefaultAsyncHttpxClient:
    """The SDK's HTTP client on httpx (``sdk``) or aiohttp (``sdk-aiohttp``), with our TLS."""
    context = tls_context()
    if flavour == "sdk-aiohttp":
        try:
            client: openai.DefaultAsyncHttpxClient = openai.DefaultAioHttpClient(verify=context)
        except RuntimeError:  # the SDK says its aiohttp extra is missing
            raise MissingExtraError("aiohttp", "aiohttp", "transport: sdk-aiohttp") from None
        return client
    return openai.DefaultAsyncHttpxClient(verify=context)


class SdkTransport:
    """Sends chat completions through the SDK's async client."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        *,
        timeout: float,
        flavour: str = "sdk",
    ) -> None:
        self.host = (urlsplit(base_url).hostname or base_url) if base_url else "api.openai.com"
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,  # the runner retries, with backoff and Retry-After
            timeout=timeout,
            http_client=http_client(flavour),  # its own pool: up to 1,000, 100 kept alive
        )

    async def create(
        self, body: Mapping[str, Any], extra_body: Mapping[str, Any] | None
    ) -> Completion:
        """Send one request; return the completion or raise a classified ProviderError."""
        start = time.perf_counter()
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                **body, extra_body=extra_body
            )
            response = raw.parse()
        except Exception as exc:
            raise classify(exc, self.host) from exc
        latency_ms = (time.perf_counter() - start) * 1000
        return completion_from_json(response.model_dump(), latency_ms, raw.headers)

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
