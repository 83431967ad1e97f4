"""The ``openai`` provider: hosted OpenAI, or any OpenAI-compatible server via ``base_url``.

Built on the official SDK's async client with its own retries switched off: the
runner retries. The SDK is imported when the first model is set up, so that
``promptbench --help`` and ``validate`` do not pay for it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from promptbench.config import ModelConfig, Price
from promptbench.errors import ProviderConfigError, ProviderError
from promptbench.providers import pricing
from promptbench.providers.base import provider
from promptbench.types import Completion, Prompt, Usage

if TYPE_CHECKING:
    import openai

OPENAI_URL = "https://api.openai.com/v1"


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
            return "not-needed"
        raise ProviderConfigError(
            f"model '{self.model}': the environment variable {env} is not set; "
            f"export {env}=... or name another variable with api_key_env"
        )


def request_body(prompt: Prompt, config: OpenAIConfig) -> dict[str, Any]:
    """The chat completions request for ``prompt`` (without the transport's fields)."""
    body: dict[str, Any] = {
        "model": config.model,
        "messages": [m.to_json() for m in prompt.messages],
    }
    for name, value in prompt.params.items():
        if name == "response_format" and isinstance(value, str):
            body[name] = {"type": value}  # the shorthand "json_object"
        else:
            body[name] = value
    return body


def _retry_after(headers: Any) -> float | None:
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
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def classify(exc: Exception) -> ProviderError:
    """Map an SDK exception to a ProviderError that says whether to retry."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("request timed out", kind="timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return ProviderError(
            f"connection failed: {type(cause).__name__}", kind="connection", retryable=True
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = _api_message(exc)
        if status == 429 and getattr(exc, "code", None) == "insufficient_quota":
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
                retry_after=_retry_after(exc.response.headers),
            )
        retryable = status >= 500 or status in (408, 409)
        return ProviderError(
            f"HTTP {status}: {message}",
            kind="server_error" if status >= 500 else "client_error",
            retryable=retryable,
            status=status,
            retry_after=_retry_after(exc.response.headers) if retryable else None,
        )
    if isinstance(exc, (openai.APIResponseValidationError, ValueError)):
        return ProviderError(
            f"malformed response: {type(exc).__name__}", kind="malformed", retryable=True
        )
    return ProviderError(f"{type(exc).__name__}: {exc}", kind="unknown", retryable=False)


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])[:300]
    return str(exc.message)[:300]


@provider("openai", config=OpenAIConfig, summary="hosted OpenAI, or any OpenAI-compatible server")
class OpenAIProvider:
    """Calls the chat completions API through the official SDK."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, OpenAIConfig)
        self.config = config
        api_key = config.resolve_api_key()
        import openai

        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=config.base_url,
            max_retries=0,  # the runner retries, with backoff and Retry-After
            timeout=config.timeout,
        )

    async def complete(self, prompt: Prompt) -> Completion:
        """Send one chat completion request."""
        body = request_body(prompt, self.config)
        extra = self.config.extra_body
        start = time.perf_counter()
        try:
            response = await self._client.chat.completions.create(**body, extra_body=extra)
        except Exception as exc:
            raise classify(exc) from exc
        latency_ms = (time.perf_counter() - start) * 1000
        if not response.choices:
            raise ProviderError("response had no choices", kind="empty_response", retryable=True)
        choice = response.choices[0]
        content = choice.message.content
        finish = choice.finish_reason
        if finish == "content_filter":
            raise ProviderError(
                "the server's content filter withheld the answer",
                kind="content_filter",
                retryable=False,
            )
        usage = response.usage
        return Completion(
            text=content or "",
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
            latency_ms=latency_ms,
            finish_reason=finish,
            model=response.model,
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()
