"""The caller's hard limit on an attempt: asyncio.timeout's semantics, cheaper per call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from promptbench.config import ModelConfig
from promptbench.runner.calls import Caller, ModelHandle, _HardLimit
from promptbench.runner.observer import BaseObserver
from promptbench.runner.retry import Backoff
from promptbench.types import Completion, Message, Prompt
from tests.helpers.ratesim import VirtualLoop


async def _under(limit: float, body: Callable[[], Awaitable[str]], *, ours: bool) -> str:
    """Run ``body`` under the hard limit (or asyncio.timeout); what it came to, as text."""
    try:
        if ours:
            with _HardLimit(limit):
                return await body()
        async with asyncio.timeout(limit):
            return await body()
    except TimeoutError:
        return "timeout"


def _outcome(make: Callable[[bool], Awaitable[str]], ours: bool) -> str:
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(make(ours))
    finally:
        loop.close()


async def _quick(ours: bool) -> str:
    async def body() -> str:
        await asyncio.sleep(1)
        return "done"

    result = await _under(5, body, ours=ours)
    await asyncio.sleep(10)  # past the deadline: the finished limit must not cancel the task
    return f"{result}, cancelling {asyncio.current_task().cancelling()}"  # type: ignore[union-attr]


async def _hung(ours: bool) -> str:
    async def body() -> str:
        await asyncio.sleep(100)
        return "done"

    result = await _under(5, body, ours=ours)
    task = asyncio.current_task()
    assert task is not None
    return f"{result} at {asyncio.get_running_loop().time():g}, cancelling {task.cancelling()}"


async def _swallowed(ours: bool) -> str:
    # The body catches the cancellation and returns: no TimeoutError, as with asyncio's.
    async def body() -> str:
        try:
            await asyncio.sleep(100)
        except asyncio.CancelledError:
            return "swallowed"
        return "done"

    return await _under(5, body, ours=ours)


async def _cancelled_after(seconds: float, ours: bool) -> str:
    """A 5 s limit on a body that sleeps 100 s, the task cancelled from outside at ``seconds``."""

    async def inner() -> str:
        async def body() -> str:
            await asyncio.sleep(100)
            return "done"

        return await _under(5, body, ours=ours)

    task = asyncio.create_task(inner())
    await asyncio.sleep(seconds)
    task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled"


async def _cancelled_from_outside(ours: bool) -> str:
    return await _cancelled_after(1, ours)


async def _cancelled_at_the_deadline(ours: bool) -> str:
    # Ctrl-C and the deadline together: the outer cancellation wins, as with asyncio's.
    return await _cancelled_after(5, ours)


SCENARIOS = {
    "quick": (_quick, "done, cancelling 0"),
    "hung": (_hung, "timeout at 5, cancelling 0"),
    "swallowed": (_swallowed, "swallowed"),
    "cancelled from outside": (_cancelled_from_outside, "cancelled"),
    "cancelled at the deadline": (_cancelled_at_the_deadline, "cancelled"),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_hard_limit_behaves_as_asyncio_timeout(name: str) -> None:
    make, expected = SCENARIOS[name]
    assert _outcome(make, ours=False) == expected  # what asyncio.timeout does
    assert _outcome(make, ours=True) == expected


def test_hard_limit_outside_a_task_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"no running event loop|inside a task"), _HardLimit(1):
        pass


class _Hangs:
    """A provider that never answers, its own timeout ignored (a provider's bug)."""

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, prompt: Prompt) -> Completion:
        self.calls += 1
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


async def _call_hung(provider: _Hangs) -> tuple[str, int, float]:
    model = ModelHandle("m", ModelConfig(provider="mock", model="hang", timeout=1, max_retries=1))
    model._provider = provider
    caller = Caller(BaseObserver(), Backoff(base=0.5, cap=0.5), None, asyncio.Event())
    result = await caller.call(model, Prompt((Message("user", "hi"),)))
    assert result.error is not None and result.completion is None
    return result.error.message, result.retries, asyncio.get_running_loop().time()


def test_a_hung_provider_is_given_up_at_the_hard_limit_and_retried() -> None:
    provider = _Hangs()
    loop = VirtualLoop()
    try:
        message, retries, at = loop.run_until_complete(_call_hung(provider))
    finally:
        loop.close()
    assert (message, retries, provider.calls) == ("the call did not return in time", 1, 2)
    # Each attempt ends at timeout x 2 + 5 = 7 s; the retry waits 0.25-0.5 s between.
    assert 14.25 <= at <= 14.5
