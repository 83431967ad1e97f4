"""One call to a model, made well: budget, concurrency limit, rate gate, retries.

Providers only do I/O and classify failures; everything about *how* a call is
made lives here. Retryable failures (429, 5xx, timeouts, dropped connections)
back off exponentially with jitter, or as the server's Retry-After says; others
fail at once. The run's own calls and the judges' calls both reach the
:class:`Caller` through :mod:`promptbench.runner.completion`, which adds the cache
and the cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from typing import NamedTuple

from promptbench.cache import KeyMaker
from promptbench.config import ModelConfig
from promptbench.errors import ErrorKind, ProviderError, UsageError
from promptbench.providers import Provider, providers
from promptbench.providers.pricing import cost as price_cost
from promptbench.runner.budget import Budget
from promptbench.runner.observer import Observer
from promptbench.runner.ratelimit import RateGate, estimate_tokens
from promptbench.runner.retry import Backoff
from promptbench.suite import Suite
from promptbench.types import Completion, Prompt


class CallResult(NamedTuple):
    """What the attempts at one call came to: the completion or the last error, and retries."""

    completion: Completion | None
    error: ProviderError | None
    retries: int


class ModelHandle:
    """A model of the run: its config, provider and concurrency bound.

    The provider is created on the first call that misses the cache, so that a
    fully cached run never imports an SDK nor loads a model; ``preflight`` checks
    beforehand that it can be created (a key is set, a runtime is installed).
    """

    def __init__(self, name: str, config: ModelConfig, gate: RateGate | None = None) -> None:
        self.name = name
        self.config = config
        self._provider: Provider | None = None
        self.gate = gate
        self.limit = asyncio.Semaphore(config.concurrency) if config.concurrency else None
        self.identity = config.cache_identity()
        self.keys = KeyMaker(config.provider, self.identity)  # the identity's JSON, once
        self.params = config.sampling_params()
        self.price = config.effective_price()

    @property
    def provider(self) -> Provider:
        """The provider, created on first use."""
        if self._provider is None:
            self._provider = providers.get(self.config.provider).factory(self.config)
        return self._provider

    async def aclose(self) -> None:
        """Close the provider if it was ever created."""
        if self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.aclose()


def model_handles(suite: Suite) -> dict[str, ModelHandle]:
    """Every model of the suite, judges included; models behind one limit share a gate."""
    gates: dict[tuple[object, ...], RateGate] = {}

    def gate(name: str, config: ModelConfig) -> RateGate | None:
        key = config.rate_key()
        if key is None and config.rpm is None and config.tpm is None:
            return None  # nothing to pace (a local model, a mock)
        full_key = (key or ("model", name), config.rpm, config.tpm)
        if full_key not in gates:
            gates[full_key] = RateGate(rpm=config.rpm, tpm=config.tpm)
        return gates[full_key]

    return {name: ModelHandle(name, c, gate(name, c)) for name, c in suite.models.items()}


async def close_all(models: Mapping[str, ModelHandle]) -> None:
    """Close every provider that was created."""
    for m in models.values():
        await m.aclose()


class Stopped(BaseException):
    """A call given up because the run is stopping; it leaves no record.

    A BaseException, so that a metric waiting on a judge call does not turn it into
    an error verdict: the whole record is abandoned.
    """


class Caller:
    """Makes calls for one run; ``stop`` set means no new call starts."""

    def __init__(
        self,
        observer: Observer,
        backoff: Backoff,
        budget: Budget | None,
        stop: asyncio.Event,
    ) -> None:
        self.observer = observer
        self.backoff = backoff
        self.budget = budget
        self.stop = stop
        self.in_flight = 0
        self._rng = random.Random()

    async def _attempt(self, model: ModelHandle, prompt: Prompt) -> Completion:
        """One try, through the model's rate gate when it has one."""
        gate = model.gate
        if gate is None:
            return await model.provider.complete(prompt)
        estimate = 0.0
        if gate.tokens is not None:
            chars = sum(len(m.content) for m in prompt.messages)
            estimate = estimate_tokens(chars, prompt.params.get("max_tokens"))
        seq = await gate.acquire(estimate)
        if self.stop.is_set():
            gate.release(seq, limits=None, rate_limited=False, retry_after=None)
            raise Stopped
        try:
            completion = await model.provider.complete(prompt)
        except ProviderError as exc:
            gate.release(
                seq,
                limits=exc.rate_limit,
                rate_limited=exc.kind is ErrorKind.RATE_LIMIT,
                retry_after=exc.retry_after,
                tokens_estimated=estimate,
                tokens_used=estimate,
            )
            raise
        except BaseException:
            gate.release(seq, limits=None, rate_limited=False, retry_after=None)
            raise
        gate.release(
            seq,
            limits=completion.rate_limit,
            rate_limited=False,
            retry_after=None,
            tokens_used=completion.usage.total_tokens,
            tokens_estimated=estimate,
        )
        return completion

    async def call(self, model: ModelHandle, prompt: Prompt) -> CallResult:
        """Call with retries: the completion, or the last error; and how many retries.

        Under a budget, a call that would take the spend past it is not started: the
        run stops starting calls (``Stopped``), as on Ctrl-C.
        """
        budget, price = self.budget, model.price
        if budget is None or price is None:
            self.in_flight += 1  # as _counted, one coroutine fewer on every call's path
            try:
                return await self._with_retries(model, prompt)
            finally:
                self.in_flight -= 1
        estimate = budget.estimate(model.name, price, prompt)
        if not budget.reserve(estimate):
            self.stop.set()
            raise Stopped
        completion: Completion | None = None
        try:
            result = await self._counted(model, prompt)
            completion = result.completion
            return result
        finally:
            usage = completion.usage if completion is not None else None
            cost = price_cost(price, usage.prompt_tokens, usage.completion_tokens) if usage else 0
            budget.settle(model.name, estimate, cost, usage.completion_tokens if usage else None)

    async def _counted(self, model: ModelHandle, prompt: Prompt) -> CallResult:
        self.in_flight += 1
        try:
            return await self._with_retries(model, prompt)
        finally:
            self.in_flight -= 1

    async def _with_retries(self, model: ModelHandle, prompt: Prompt) -> CallResult:
        attempts = model.config.max_retries + 1
        # A hung provider must not hang the run: give up on an attempt well past its timeout.
        hard_limit = model.config.timeout * 2 + 5
        for attempt in range(attempts):
            try:
                async with _acquire(model.limit):
                    if self.stop.is_set():  # waited for the model's limit past a Ctrl-C
                        raise Stopped
                    with _HardLimit(hard_limit):
                        # The attempt's index is how many retries came before it.
                        return CallResult(await self._attempt(model, prompt), None, attempt)
            except (Stopped, UsageError):
                raise
            except TimeoutError:
                err = ProviderError.timeout("the call did not return in time")
            except ProviderError as exc:
                err = exc
            except Exception as exc:  # a provider bug must not stop the run
                err = ProviderError.provider_bug(f"{type(exc).__name__}: {exc}")
            if not err.retryable or attempt == attempts - 1:
                return CallResult(None, err, attempt)
            if self.stop.is_set():
                raise Stopped
            delay = self.backoff.delay(attempt, err.retry_after, self._rng)
            gate = model.gate
            if (
                err.kind is ErrorKind.RATE_LIMIT
                and gate is not None
                and gate.retry_now(err.retry_after)
            ):
                delay = 0.0  # the gate paces the retry at the rate it learned
            self.observer.on_retry(model.name, attempt + 1, err.message, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), delay)  # a sleep that Ctrl-C ends
                raise Stopped
        raise AssertionError("unreachable: the last attempt returns")


class _HardLimit:
    """``asyncio.timeout(seconds)`` for the task that enters it, at a fraction of its cost.

    The same semantics (the task is cancelled at the deadline and the cancellation is
    raised as TimeoutError; a cancellation from elsewhere stays one), without its
    per-use coroutines and rescheduling: every call enters one, and asyncio's cost a
    few microseconds each time.
    """

    __slots__ = ("_cancelling", "_expired", "_handle", "_seconds", "_task")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._expired = False

    def __enter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a hard limit must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = asyncio.get_running_loop().call_later(self._seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        self._handle.cancel()
        if (
            self._expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc


class _Unlimited:
    """The limit of a model without its own concurrency: nothing to wait for."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNLIMITED = _Unlimited()


def _acquire(sem: asyncio.Semaphore | None) -> asyncio.Semaphore | _Unlimited:
    # A class, not a generator-based context manager: this runs for every call.
    return _UNLIMITED if sem is None else sem
