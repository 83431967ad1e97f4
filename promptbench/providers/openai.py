"""The ``openai`` provider: hosted OpenAI, or any OpenAI-compatible server via ``base_url``.

Hosted OpenAI goes through the official SDK's async client, with its own retries
switched off (the runner retries); OpenAI-compatible servers go through the lean
transport of :mod:`promptbench.providers.openai_http` by default, which is
measured several times faster (``bench/run_bench.py`` prints the figures). Nothing is imported
until the first call, so ``promptbench --help`` and ``validate`` stay fast.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import ProviderConfigError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.providers.openai_http import (
    LeanTransport,
    classify_status,
    completion_from_json,
)
from promptbench.providers.openai_wire import wire_messages
from promptbench.types import Completion, Prompt

if TYPE_CHECKING:
    import openai

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # what servers that take any key are sent
MIN_SECRET = 8  # shorter keys are not masked in messages: they would mask ordinary words
# Hosted models that take no image parts (prefixes); others are assumed to, or the server says.
TEXT_ONLY_MODELS = (
    "gpt-3.5",
    "gpt-4-0613",
    "gpt-4-32k",
    "o1-mini",
    "o3-mini",
    "davinci",
    "babbage",
)


class OpenAIConfig(ModelConfig):
    """A model behind the OpenAI chat completions API."""

    model: str = Field(description="the model name the server knows, e.g. gpt-4o-mini")
    base_url: str | None = Field(
        default=None, description="an OpenAI-compatible server, e.g. http://localhost:11434/v1"
    )
    api_key_env: str | None = Field(
        default=None,
        description="environment variable holding the key (default OPENAI_API_KEY)",
    )
    api_key_file: str | None = Field(
        default=None, description="file holding the key, relative to the suite"
    )
    path_fields: ClassVar[tuple[str, ...]] = ("api_key_file",)

    extra_body: dict[str, Any] | None = Field(
        default=None, description="extra JSON fields sent with every request"
    )
    transport: Literal["auto", "sdk", "sdk-aiohttp", "lean"] = Field(
        default="auto",
        description="how requests are sent: the official SDK (on httpx or aiohttp), or lean "
        "HTTP/1.1 posts; auto: the SDK for hosted OpenAI or behind a proxy, else lean",
    )

    call_fields: ClassVar[tuple[str, ...]] = (*ModelConfig.call_fields, "transport")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return v.rstrip("/") if v else v

    def cache_identity(self) -> dict[str, Any]:
        """As for every model, with the default server named: it is part of the identity."""
        ident = super().cache_identity()
        ident["base_url"] = self.base_url or OPENAI_URL
        return ident

    def default_price(self) -> Price | None:
        """List price for hosted OpenAI models; unknown for other servers."""
        if self.base_url is None or self.base_url.startswith(OPENAI_URL):
            return pricing.lookup(self.model)
        return None

    def takes_tools(self) -> bool:
        """The chat completions API takes tools (a server that cannot answers with an error)."""
        return True

    def takes_images(self) -> bool | None:
        """The suite's ``vision``; else False for hosted models known to take text only."""
        if self.vision is not None:
            return self.vision
        hosted = self.base_url is None or self.base_url.startswith(OPENAI_URL)
        if hosted and self.model.startswith(TEXT_ONLY_MODELS):
            return False
        return None

    def rate_key(self) -> tuple[str, ...] | None:
        """A server limits per account key and model."""
        key = self.api_key_file or self.api_key_env or "OPENAI_API_KEY"
        return ("openai", self.base_url or OPENAI_URL, key, self.model)

    def preflight(self) -> None:
        """The key must be findable before the run starts."""
        self.resolve_api_key()

    def resolve_api_key(self) -> str:
        """The key from the named environment variable or file; never from the suite itself."""
        if self.api_key_file:
            path = Path(self.api_key_file)  # made absolute by the suite loader
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ProviderConfigError(
                    f"api_key_file {self.api_key_file}: cannot read ({exc.strerror}); "
                    "check the path, which is relative to the suite"
                ) from None
        env = self.api_key_env or "OPENAI_API_KEY"
        key = os.environ.get(env)
        if key:
            return key
        if self.base_url is not None and self.api_key_env is None:
            # Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) take any key.
            return NO_KEY
        raise ProviderConfigError(
            f"the environment variable {env} is not set; "
            f"export {env}=... or name another variable with api_key_env"
        )


def request_body(prompt: Prompt, config: OpenAIConfig) -> dict[str, Any]:
    """The chat completions request for ``prompt`` (without the transport's fields)."""
    body: dict[str, Any] = {
        "model": config.model,
        "messages": wire_messages(prompt.messages),
    }
    for name, value in prompt.params.items():
        if name == "response_format" and isinstance(value, str):
            body[name] = {"type": value}  # the shorthand "json_object"
        else:
            body[name] = value
    return body


def classify(exc: Exception) -> ProviderError:
    """Map an SDK exception to a ProviderError that says whether to retry."""
    import openai

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("request timed out", kind="timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return ProviderError(
            f"connection failed: {type(cause).__name__}", kind="connection", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        return classify_status(exc.status_code, exc.response.headers, exc.body, exc.message)
    if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        return ProviderError(
            f"malformed response: {type(exc).__name__}", kind="malformed", retryable=True
        )
    return ProviderError(f"{type(exc).__name__}: {exc}", kind="unknown", retryable=False)


def redacted(exc: ProviderError, secret: str) -> ProviderError:
    """``exc`` with ``secret`` masked in its message."""
    return ProviderError(
        exc.message.replace(secret, "[redacted]"),
        kind=exc.kind,
        retryable=exc.retryable,
        status=exc.status,
        retry_after=exc.retry_after,
        rate_limit=exc.rate_limit,
    )


@provider("openai", config=OpenAIConfig, summary="hosted OpenAI, or any OpenAI-compatible server")
class OpenAIProvider:
    """Calls the chat completions API: through the official SDK, or the lean transport."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, OpenAIConfig)
        self.config = config
        api_key = config.resolve_api_key()
        self._secret = api_key if len(api_key) >= MIN_SECRET and api_key != NO_KEY else None
        self.transport = config.transport
        if self.transport == "auto":
            # The lean client knows no proxies; the SDK honours HTTP(S)_PROXY.
            proxied = any(
                os.environ.get(v)
                for v in (
                    "HTTPS_PROXY",
                    "https_proxy",
                    "HTTP_PROXY",
                    "http_proxy",
                    "ALL_PROXY",
                    "all_proxy",
                )
            )
            self.transport = "lean" if config.base_url and not proxied else "sdk"
        self._lean: LeanTransport | None = None
        self._client: openai.AsyncOpenAI | None = None
        if self.transport == "lean":
            self._lean = LeanTransport(config.base_url or OPENAI_URL, api_key, config.timeout)
            return
        import openai

        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=config.base_url,
            max_retries=0,  # the runner retries, with backoff and Retry-After
            timeout=config.timeout,
            http_client=openai.DefaultAioHttpClient() if self.transport == "sdk-aiohttp" else None,
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one chat completion request; an error never carries the key."""
        try:
            return await self._complete(prompt)
        except ProviderError as exc:
            # Some servers echo the key they were given ("Incorrect API key provided:
            # sk-..."); the message goes into records, reports and W&B.
            if self._secret is not None and self._secret in exc.message:
                raise redacted(exc, self._secret) from None
            raise

    async def _complete(self, prompt: Prompt) -> Completion:
        body = request_body(prompt, self.config)
        if self._lean is not None:
            if self.config.extra_body:
                body.update(self.config.extra_body)
            return await self._lean.create(body)
        assert self._client is not None
        start = time.perf_counter()
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                **body, extra_body=self.config.extra_body
            )
            response = raw.parse()
        except Exception as exc:
            raise classify(exc) from exc
        latency_ms = (time.perf_counter() - start) * 1000
        return completion_from_json(response.model_dump(), latency_ms, raw.headers)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._lean is not None:
            await self._lean.close()
        if self._client is not None:
            await self._client.close()
