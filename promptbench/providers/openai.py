"""The ``openai`` provider: hosted OpenAI, or any OpenAI-compatible server via ``base_url``.

Two transports, chosen by ``transport`` (default ``auto``):

- hosted OpenAI (no ``base_url``, or ``https://api.openai.com/v1``) goes through the
  official SDK (:mod:`promptbench.providers.openai_sdk`), on httpx (``sdk``) or on
  aiohttp (``sdk-aiohttp``);
- any other ``base_url`` goes through the aiohttp client
  (:mod:`promptbench.providers.openai_aiohttp`, ``aiohttp``), which sends the same JSON
  at a fraction of the SDK's cost per call (``bench/run_bench.py`` prints the figures).

Every transport trusts the same certificates (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else
the system's) and honours ``HTTP(S)_PROXY`` and ``NO_PROXY``; a proxy never changes
which transport is used. Nothing is imported until the first call, so
``promptbench --help`` and ``validate`` stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import ErrorKind, ProviderConfigError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.providers.openai_wire import wire_messages
from promptbench.providers.tls import CERT_DIR_ENV, CERT_FILE_ENV, tls_context
from promptbench.types import Completion, Prompt

if TYPE_CHECKING:
    from promptbench.providers.openai_aiohttp import AiohttpTransport
    from promptbench.providers.openai_sdk import SdkTransport

Transport = Literal["auto", "sdk", "sdk-aiohttp", "aiohttp"]

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
    transport: Transport = Field(
        default="auto",
        description="how requests are sent: the official SDK on httpx (sdk) or on aiohttp "
        "(sdk-aiohttp), or the aiohttp client (aiohttp); auto: the SDK for hosted OpenAI, "
        "aiohttp for any other base_url",
    )

    call_fields: ClassVar[tuple[str, ...]] = (*ModelConfig.call_fields, "transport")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return v.rstrip("/") if v else v

    @field_validator("transport", mode="before")
    @classmethod
    def _no_lean(cls, v: object) -> object:
        if v == "lean":
            raise ValueError(
                "transport 'lean' was removed; use aiohttp (the default for a base_url)"
            )
        return v

    def chosen_transport(self) -> Transport:
        """The transport ``auto`` stands for: the SDK for hosted OpenAI, else aiohttp."""
        if self.transport != "auto":
            return self.transport
        return "sdk" if self.base_url is None or self.base_url == OPENAI_URL else "aiohttp"

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
        """The key, and any CA bundle named in the environment, must load before the run."""
        self.resolve_api_key()
        # The aiohttp client makes no TLS context for a plain http:// server (a local one,
        # usually), so the bundle cannot fail that run: parsing it would only cost ~20 ms.
        plain = self.chosen_transport() == "aiohttp" and (self.base_url or "").startswith("http://")
        if not plain and (os.environ.get(CERT_FILE_ENV) or os.environ.get(CERT_DIR_ENV)):
            tls_context()

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


@provider("openai", config=OpenAIConfig, summary="hosted OpenAI, or any OpenAI-compatible server")
class OpenAIProvider:
    """Calls the chat completions API through the official SDK or the aiohttp client."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, OpenAIConfig)
        self.config = config
        api_key = config.resolve_api_key()
        self._secret = api_key if len(api_key) >= MIN_SECRET and api_key != NO_KEY else None
        self.transport = config.chosen_transport()
        self._refused: ProviderError | None = None  # the server's certificate, once refused
        self._http: AiohttpTransport | None = None
        self._sdk: SdkTransport | None = None
        if self.transport == "aiohttp":
            from promptbench.providers.openai_aiohttp import AiohttpTransport

            self._http = AiohttpTransport(
                config.base_url or OPENAI_URL,
                api_key,
                timeout=config.timeout,
                pool_size=config.concurrency,
            )
        else:
            from promptbench.providers.openai_sdk import SdkTransport

            self._sdk = SdkTransport(
                config.base_url,
                api_key,
                timeout=config.timeout,
                flavour=self.transport,
            )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one chat completion request; an error never carries the key."""
        if self._refused is not None:
            # Every later call would meet the same certificate: fail without connecting.
            raise ProviderError.tls(self._refused.message)
        try:
            http = self._http
            if http is None:
                return await self._complete_sdk(prompt)
            # The aiohttp client, the default: its body built here, one coroutine fewer.
            body = request_body(prompt, self.config)
            if self.config.extra_body:
                body.update(self.config.extra_body)
            return await http.create(body)
        except ProviderError as exc:
            if exc.kind is ErrorKind.TLS:
                self._refused = exc.redacted(self._secret) if self._secret else exc
            # Some servers echo the key they were given ("Incorrect API key provided:
            # sk-..."); the message goes into records, reports and W&B.
            if self._secret is not None and self._secret in exc.message:
                raise exc.redacted(self._secret) from None
            raise

    async def _complete_sdk(self, prompt: Prompt) -> Completion:
        """Through the SDK."""
        body = request_body(prompt, self.config)
        assert self._sdk is not None
        return await self._sdk.create(body, self.config.extra_body)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.close()
        if self._sdk is not None:
            await self._sdk.close()
