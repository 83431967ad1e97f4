"""The ``mock`` provider: scripted answers without any I/O, for unit tests and dry runs.

End-to-end tests use the loopback HTTP server instead; this provider is the
in-process double, selectable by name like any other provider. It can script
tool calls (``tool_calls``: the calls made when a key occurs in the last user
message, or in the tool result just sent), answers after a tool result (``answers``
matched against the result, else the result echoed), and reads the images it is
sent, naming each one's type and hash in an echo.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from typing import Any, Literal

from pydantic import Field

from promptbench.config import ModelConfig, Price, StrictModel
from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.base import provider
from promptbench.providers.images import image_bytes
from promptbench.types import Completion, Message, Prompt, ToolCall, Usage

FaultKind = Literal["rate_limit", "server_error", "timeout", "connection", "client_error"]


class MockCall(StrictModel):
    """A scripted tool call: the tool and its arguments (text is sent as written)."""

    name: str
    arguments: str | dict[str, Any] = Field(default_factory=dict)


class MockConfig(ModelConfig):
    """A scripted model."""

    model: str = "mock"
    answers: dict[str, str] = Field(
        default_factory=dict,
        description="reply with the value whose key occurs in the last user message "
        "(or in the tool result just sent)",
    )
    replies: list[str] = Field(
        default_factory=list, description="replies given in turn when no answer matches"
    )
    tool_calls: dict[str, list[MockCall]] = Field(
        default_factory=dict,
        description="call these tools when the key occurs in the last user message "
        "(or in the tool result just sent)",
    )
    latency_ms: float = Field(default=0.0, ge=0)
    faults: list[FaultKind] = Field(
        default_factory=list, description="the first calls fail with these, in order"
    )

    def default_price(self) -> Price | None:
        """Mock calls are free."""
        return Price(input=0, output=0)

    def takes_tools(self) -> bool:
        """It scripts tool calls."""
        return True


def _image_note(message: Message) -> str:
    """What the mock saw of a message's images: type and the hash of the bytes it read."""
    notes = []
    for image in message.images:
        if image.url is not None and image.path is None:
            notes.append(f"[image {image.url[:40]}]")
            continue
        data, media = image_bytes(image)
        notes.append(f"[image {media} {hashlib.sha256(data).hexdigest()[:12]}]")
    return " ".join(notes)


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
        words = sum(len(m.content.split()) for m in prompt.messages)
        user = next((m for m in reversed(prompt.messages) if m.role == "user"), None)
        last = user.content if user is not None else ""
        after_tool = bool(prompt.messages) and prompt.messages[-1].role == "tool"
        if after_tool:  # what the script matches: the tool's result, as the server does
            last = prompt.messages[-1].content
        if prompt.params.get("tools") and prompt.params.get("tool_choice") != "none":
            script = next((v for k, v in self.config.tool_calls.items() if k in last), None)
            if script:
                calls = tuple(
                    ToolCall.parse(f"call_{self.calls}_{i}", c.name, c.arguments)
                    for i, c in enumerate(script)
                )
                return self._completion("", words, calls)
        text = next((v for k, v in self.config.answers.items() if k in last), None)
        if text is None and after_tool:
            text = last
        if text is None:
            text = next(self._replies) if self._replies is not None else last
            if user is not None and user.images and self._replies is None:
                text = f"{text} {_image_note(user)}".strip()
        return self._completion(text, words)

    def _completion(self, text: str, words: int, calls: tuple[ToolCall, ...] = ()) -> Completion:
        return Completion(
            text=text,
            usage=Usage(words, len(text.split()) + 5 * len(calls)),
            latency_ms=self.config.latency_ms,
            finish_reason="tool_calls" if calls else "stop",
            model=self.config.model,
            tool_calls=calls,
        )

    async def aclose(self) -> None:
        """Nothing to release."""
