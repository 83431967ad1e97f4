"""The ``mock`` provider: scripted answers without any I/O, for unit tests and dry runs.

End-to-end tests use the loopback HTTP server instead; this provider is the
in-process double, selectable by name like any other provider.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Literal

from pydantic import Field

from promptbench.config import ModelConfig, Price
from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.base import provider
from promptbench.types import Completion, Prompt, Usage

FaultKind = Literal["rate_limit", "server_error", "timeout", "connection", "client_error"]


class MockConfig(ModelConfig):
    """A scripted model."""

    model: str = "mock"
    answers: dict[str, str] = Field(
        default_factory=dict,
        description="reply with the value whose key occurs in the last user message",
    )
    replies: list[str] = Field(
        default_factory=list, description="replies given in turn when no answer matches"
    )
    latency_ms: float = Field(default=0.0, ge=0)
    faults: list[FaultKind] = Field(
        default_factory=list, description="the first calls fail with these, in order"
    )

    def default_price(self) -> Price | None:
        """Mock calls are free."""
        return Price(input=0, output=0)


@provider("mock", config=MockConfig, summary="scripted answers, no I/O (for tests)")
class MockProvider:
    """Answers from a script; echoes the last user message by default."""

    def __init__(self, config: ModelConfig) -> None:
        assert isinstance(config, MockConfig)
        self.config = config
        self._replies = itertools.cycle(config.replies) if config.replies else None
        self._faults = list(config.faults)
        self.calls = 0

    async def complete(self, prompt: Prompt) -> Completion:
        """Return the scripted answer."""
        self.calls += 1
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self._faults:
            kind = ErrorKind(self._faults.pop(0))
            raise ProviderError(f"mock {kind}", kind=kind)
        last = next((m.content for m in reversed(prompt.messages) if m.role == "user"), "")
        text = next((v for k, v in self.config.answers.items() if k in last), None)
        if text is None:
            text = next(self._replies) if self._replies is not None else last
        words = sum(len(m.content.split()) for m in prompt.messages)
        return Completion(
            text=text,
            usage=Usage(words, len(text.split())),
            latency_ms=self.config.latency_ms,
            finish_reason="stop",
            model=self.config.model,
        )

    async def aclose(self) -> None:
        """Nothing to release."""
