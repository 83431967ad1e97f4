"""What the providers of hosted APIs share: where the key comes from, masking it, error tables.

Each hosted provider (``anthropic``, ``gemini``, ``azure``) reads its key from a
file the suite names or from an environment variable, never from the suite
itself; keeps it out of every error message (some gateways echo the key they
were sent, and messages go into records, reports and W&B); and maps its SDK's
exceptions to error kinds through one table, :data:`ErrorTable`, looked up
along the exception's class hierarchy so that the most specific entry wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from promptbench.config import ModelConfig
from promptbench.errors import ProviderConfigError, ProviderError

MIN_SECRET = 8  # shorter keys are not masked: they would mask ordinary words

# An SDK exception class -> (error kind, retryable).
ErrorTable = Mapping[type[BaseException], tuple[str, bool]]


def httpx_module() -> Any:
    """The httpx the SDKs run on: httpx2 (pydantic's fork, which newer SDKs use) or httpx."""
    import importlib
    import importlib.util

    return importlib.import_module("httpx2" if importlib.util.find_spec("httpx2") else "httpx")


def lookup_kind(table: ErrorTable, exc: BaseException) -> tuple[str, bool] | None:
    """The entry for ``exc``'s class or its nearest base class in ``table``, if any."""
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def status_kind(status: int) -> tuple[str, bool]:
    """The kind of an HTTP error status: 429 and 5xx (529 included) retry, other 4xx do not."""
    if status == 429:
        return "rate_limit", True
    if status >= 500:
        return "server_error", True
    if status in (408, 409):
        return "client_error", True  # a request timeout or a conflict: trying again can work
    if status in (401, 403):
        return "auth", False  # the key is wrong or may not do this, as for OpenAI
    return "client_error", False


def http_url(value: str | None) -> str | None:
    """``value`` without a trailing slash; a ValueError unless it is an http(s) URL."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/") if value else value


class HostedConfig(ModelConfig):
    """A model behind a hosted API with a key: the key lookup every such provider shares.

    Subclasses name their default variables in ``key_envs``, tried in order, and
    say where calls go in :meth:`url`.
    """

    api_key_env: str | None = Field(
        default=None, description="environment variable holding the key"
    )
    api_key_file: str | None = Field(
        default=None, description="file holding the key, relative to the suite"
    )

    path_fields: ClassVar[tuple[str, ...]] = ("api_key_file",)
    key_envs: ClassVar[tuple[str, ...]] = ()

    def url(self) -> str:
        """The endpoint calls go to."""
        raise NotImplementedError

    def cache_identity(self) -> dict[str, Any]:
        """As for every model, with the default endpoint named: it is part of the identity."""
        ident = super().cache_identity()
        ident["base_url"] = self.url()
        return ident

    def rate_key(self) -> tuple[str, ...] | None:
        """An API limits per account key and model."""
        key = self.api_key_file or self.api_key_env or (self.key_envs[0] if self.key_envs else "")
        return (self.provider, self.url(), key, self.model or "")

    def preflight(self) -> None:
        """The key must be findable before the run starts (no call is made)."""
        self.resolve_api_key()

    def key_variables(self) -> tuple[str, ...]:
        """The environment variables looked at, in order."""
        return (self.api_key_env,) if self.api_key_env else self.key_envs

    def find_api_key(self) -> str | None:
        """The key from the named file or the first set variable; None when there is none."""
        if self.api_key_file:
            path = Path(self.api_key_file)  # made absolute by the suite loader
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ProviderConfigError(
                    f"api_key_file {self.api_key_file}: cannot read ({exc.strerror}); "
                    "check the path, which is relative to the suite"
                ) from None
        for env in self.key_variables():
            value = os.environ.get(env, "").strip()
            if value:
                return value
        return None

    def resolve_api_key(self) -> str:
        """The key, or a ProviderConfigError naming the variables to set."""
        key = self.find_api_key()
        if key:
            return key
        names = " or ".join(self.key_variables())
        first = self.key_variables()[0]
        raise ProviderConfigError(
            f"provider {self.provider}: the environment variable {names} is not set; "
            f"export {first}=... or name another variable with api_key_env"
        )


class EndpointConfig(HostedConfig):
    """A hosted API at a default URL that ``base_url`` may replace (a gateway, a test server)."""

    base_url: str | None = Field(
        default=None, description="another endpoint for the same API (a gateway, a test server)"
    )
    default_url: ClassVar[str] = ""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        return http_url(v)

    def url(self) -> str:
        """``base_url``, else the API's own."""
        return self.base_url or self.default_url


def masked(exc: ProviderError, secrets: tuple[str, ...]) -> ProviderError:
    """``exc`` with every secret of at least MIN_SECRET characters replaced by ``[redacted]``."""
    message = exc.message
    for secret in secrets:
        if len(secret) >= MIN_SECRET:
            message = message.replace(secret, "[redacted]")
    if message == exc.message:
        return exc
    return ProviderError(
        message,
        kind=exc.kind,
        retryable=exc.retryable,
        status=exc.status,
        retry_after=exc.retry_after,
        rate_limit=exc.rate_limit,
    )


@contextmanager
def keys_masked(*secrets: str | None) -> Iterator[None]:
    """Re-raise a ProviderError from the block with the secrets masked in its message."""
    try:
        yield
    except ProviderError as exc:
        clean = masked(exc, tuple(s for s in secrets if s))
        if clean is exc:
            raise
        raise clean from None
