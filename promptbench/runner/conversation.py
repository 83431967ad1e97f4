"""Conversations and tool loops: the calls of one variant x case x repeat after the first.

The model's reply to each user turn is appended before the next turn is sent. In a
turn, a reply that calls tools gets each tool's result appended, and the model is
called again, until it answers without a call, calls a tool that has no result, or
``max_steps`` calls were made. A simulated user (a model of the suite) writes the
next user message from the conversation so far, until it says its goal is met or
its ``max_turns`` are used. Every call, the simulated user's included, goes
through the one call path the engine hands in (cache, retries, rate limits,
budget, price), so a conversation is cached, retried and priced like any call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptbench.runner.calls import ModelHandle
from promptbench.suite.model import Conversation
from promptbench.types import CallError, Completion, Message, SimulatedUser, Usage

GOAL_MET = "GOAL_MET"

USER_SYSTEM = (
    "You are role-playing a user who is talking to an AI assistant, to test the assistant. "
    "Stay in character. Who you are: {persona}. What you want: {goal}. Write only your next "
    "message to the assistant, as that user would, with nothing else. When your goal has been "
    f"met, or clearly cannot be, answer with exactly {GOAL_MET}."
)
OPENING = "(The conversation has not started. Write your first message to the assistant.)"
NO_REPLY = "(The assistant gave no text this time. Write your next message.)"


@dataclass
class StepResult:
    """One call made through the engine's completion path.

    ``spent`` is what it cost the run (nothing when the cache answered), ``saved``
    what the cache saved, ``price`` what the answer costs either way (None: unpriced).
    """

    completion: Completion | None
    error: CallError | None = None
    retries: int = 0
    cached: bool = False
    spent: float | None = None
    saved: float = 0.0
    price: float | None = None


CallFn = Callable[[ModelHandle, tuple[Message, ...], Mapping[str, Any]], Awaitable[StepResult]]


@dataclass
class Exchange:
    """What a conversation came to: its transcript and the totals of its calls."""

    transcript: list[Message]
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    cost: float | None = 0.0  # spent by the run; None when a call had no price
    saved: float = 0.0  # what the cache saved
    price: float | None = 0.0  # what the calls cost, cached or not
    retries: int = 0
    calls: int = 0
    cached_calls: int = 0
    finish_reason: str | None = None
    error: CallError | None = None
    reply: str | None = None  # the last assistant text

    def add(self, step: StepResult) -> Completion | None:
        """Count one call; return its completion, or None when it failed."""
        self.calls += 1
        self.retries += step.retries
        self.cached_calls += step.cached
        if step.error is not None or step.completion is None:
            self.error = step.error or CallError("unknown", "no completion")
            return None
        c = step.completion
        self.usage = Usage(
            self.usage.prompt_tokens + c.usage.prompt_tokens,
            self.usage.completion_tokens + c.usage.completion_tokens,
        )
        self.latency_ms += c.latency_ms
        self.cost = None if self.cost is None or step.spent is None else self.cost + step.spent
        self.price = None if self.price is None or step.price is None else self.price + step.price
        self.saved += step.saved
        return c

    @property
    def cached(self) -> bool:
        """Every call came from the cache."""
        return self.calls > 0 and self.cached_calls == self.calls


async def converse(
    prompt: tuple[Message, ...],
    conversation: Conversation,
    model: ModelHandle,
    call: CallFn,
    *,
    context: Mapping[str, Any],
    where: str,
    user_model: ModelHandle | None = None,
) -> Exchange:
    """Run the conversation that starts with ``prompt``; return its transcript and totals."""
    ex = Exchange(list(prompt))
    tools = conversation.tools
    params = tools.params() if tools is not None else {}
    pending = list(conversation.turns)
    user_turns = 0
    if conversation.opens:
        user_turns = 1
    else:
        opening = (
            pending.pop(0) if pending else await _user_says(ex, conversation, user_model, call)
        )
        if opening is None:
            return ex
        ex.transcript.append(Message("user", opening))
        user_turns = 1
    while True:
        steps = tools.max_steps if tools is not None else 1
        for _ in range(steps):
            step = await call(model, tuple(ex.transcript), params)
            completion = ex.add(step)
            if completion is None:
                return ex
            ex.finish_reason = completion.finish_reason
            ex.reply = completion.text
            ex.transcript.append(
                Message("assistant", completion.text, tool_calls=completion.tool_calls)
            )
            if not completion.tool_calls or tools is None:
                break
            answered = True
            for tc in completion.tool_calls:
                result = tools.results.get(tc.name)
                if result is None:  # a tool with no result (or no such tool): nothing to send
                    answered = False
                    break
                text = await result.answer(tc, context, where=where)
                ex.transcript.append(Message("tool", text, tool_call_id=tc.id, name=tc.name))
            if not answered:
                return ex  # the API takes no further turn with a call left unanswered
        if pending:
            nxt: str | None = pending.pop(0)
        elif conversation.user is not None and user_turns < conversation.user.max_turns:
            nxt = await _user_says(ex, conversation, user_model, call)
            if ex.error is not None:
                return ex
        else:
            nxt = None
        if nxt is None:
            return ex
        ex.transcript.append(Message("user", nxt))
        user_turns += 1


async def _user_says(
    ex: Exchange, conversation: Conversation, user_model: ModelHandle | None, call: CallFn
) -> str | None:
    """The simulated user's next message, or None when it says its goal is met."""
    sim = conversation.user
    if sim is None or user_model is None:
        return None
    step = await call(user_model, user_prompt(sim, ex.transcript), {})
    completion = ex.add(step)
    if completion is None:
        return None
    text = completion.text.strip()
    if not text or GOAL_MET in text:
        return None
    return text


def user_prompt(sim: SimulatedUser, transcript: list[Message]) -> tuple[Message, ...]:
    """What the simulated user is asked: its part, and the conversation with roles swapped.

    The assistant's words are the user model's input (``user``); the user's own words
    are its earlier replies (``assistant``). Tool traffic is the assistant's business.
    """
    out = [Message("system", USER_SYSTEM.format(persona=sim.persona, goal=sim.goal))]
    for m in transcript:
        if m.role == "assistant" and m.content:
            out.append(Message("user", m.content))
        elif m.role == "user":
            out.append(Message("assistant", m.content))
    if out[-1].role != "user":
        out.append(Message("user", OPENING if len(out) == 1 else NO_REPLY))
    return tuple(out)
