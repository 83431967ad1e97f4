"""The Provider protocol and its registry.

A provider does I/O and nothing else: it sends one rendered prompt to a model
and returns the completion, or raises :class:`~promptbench.errors.ProviderError`
saying whether the failure is worth retrying. The runner owns retries,
concurrency, caching and rate limits.

Providers register with ``@provider(name, config=...)``; built-ins register
through the entry-point group ``promptbench.providers`` exactly like plugins.
A provider's config class (a :class:`~promptbench.config.ModelConfig`
subclass) declares the fields its model entries accept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from promptbench.config import ModelConfig
from promptbench.registry import Registry
from promptbench.types import Completion, Prompt


@runtime_checkable
class Provider(Protocol):
    """Sends prompts to one configured model."""

    async def complete(self, prompt: Prompt) -> Completion:
        """Return the model's answer; raise ProviderError when the call fails."""
        ...

    async def aclose(self) -> None:
        """Release connections, models and threads."""
        ...


C = TypeVar("C", bound=ModelConfig)
ProviderFactory = Callable[[C], Provider]


@dataclass(frozen=True)
class ProviderDef:
    """A registered provider: how to build it, and what its model entries accept."""

    name: str
    factory: Callable[[ModelConfig], Provider]
    config: type[ModelConfig]
    summary: str = ""


# Each built-in provider and the module whose import registers it, as pyproject.toml's
# entry points name them (a test checks that the two agree): a suite's `provider: local`
# imports promptbench.providers.local alone.
BUILTIN_PROVIDERS: dict[str, str] = {
    name: f"promptbench.providers.{name}"
    for name in ("openai", "mock", "local", "anthropic", "gemini", "azure")
}

providers: Registry[ProviderDef] = Registry("promptbench.providers", "provider", BUILTIN_PROVIDERS)

T = TypeVar("T")


def provider(name: str, *, config: type[ModelConfig], summary: str = "") -> Callable[[T], T]:
    """Register the decorated class (or factory function) as the provider ``name``.

    The factory is called with one validated config per model entry of a suite.
    """

    def wrap(factory: T) -> T:
        providers.register(
            name,
            ProviderDef(name=name, factory=factory, config=config, summary=summary),  # type: ignore[arg-type]
            origin=getattr(factory, "__module__", ""),
        )
        return factory

    return wrap
