"""The one path from rendered messages to a priced completion, for cases and judges.

Cache key, cache lookup, the call (through :class:`~promptbench.runner.calls.Caller`:
budget, limits, retries), storing the answer, and its cost are written once, here.
The run's own calls and the judges' calls (through :class:`Gateway`) both take it.

A completion the cache answers costs nothing: its original cost is kept apart,
as what the cache saved, so that a fully cached re-run reports $0 spent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptbench.cache import RunCache, cache_key
from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.pricing import cost as price_cost
from promptbench.runner.calls import Caller, ModelHandle
from promptbench.types import Completion, Message, Prompt


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request for a completion came to, from the cache or from a call."""

    completion: Completion | None  # None: the call failed after its retries
    error: ProviderError | None = None
    retries: int = 0
    cached: bool = False
    price: float | None = None  # the completion's cost at the model's price; None: unpriced

    @property
    def spent(self) -> float | None:
        """USD this request spent: nothing when the cache answered."""
        if self.price is None:
            return None
        return 0.0 if self.cached else self.price

    @property
    def saved(self) -> float:
        """USD the cache saved: the original cost of a cached completion."""
        return self.price if self.cached and self.price is not None else 0.0


class CompletionPath:
    """Completions for one run: through its cache, then its caller."""

    def __init__(self, caller: Caller, cache: RunCache | None) -> None:
        self.caller = caller
        self.cache = cache

    async def complete(
        self,
        model: ModelHandle,
        messages: Sequence[Message],
        *,
        repeat: int = 0,
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Answer ``messages`` with ``model``; ``params`` add to the model's own.

        The repeat index is part of the key, so that repeats are independent samples;
        raises ``Stopped`` when the run stops before the call starts.
        """
        msgs = messages if isinstance(messages, tuple) else tuple(messages)
        cache = self.cache
        key = ""
        if params:  # a conversation's or a judge's own parameters: part of the identity
            extra = dict(params)
            if cache is not None:
                identity = {**model.identity, **extra}
                key = cache_key(model.config.provider, identity, msgs, repeat)
            sampling = {**model.params, **extra}
        else:
            if cache is not None:
                key = model.keys.key(msgs, repeat)
            sampling = model.params
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return Answer(hit, cached=True, price=_price(model, hit))
        result = await self.caller.call(model, Prompt(msgs, sampling))
        completion = result.completion
        if completion is None:
            return Answer(None, result.error, result.retries)
        if cache is not None:
            cache.put(key, completion)
        return Answer(completion, None, result.retries, price=_price(model, completion))


def _price(model: ModelHandle, completion: Completion) -> float | None:
    usage = completion.usage
    return price_cost(model.price, usage.prompt_tokens, usage.completion_tokens)


class Gateway:
    """The suite's models, called on behalf of one record's metrics (judges).

    Through the run's completion path (keyed with repeat 0: judging the same text
    twice is one call). What the judges spent and what the cache saved them is
    tallied here, for the record's cost.
    """

    def __init__(self, path: CompletionPath, models: Mapping[str, ModelHandle]) -> None:
        self._path = path
        self._models = models
        self.spent: float | None = None  # None: no judge call had a price
        self.saved = 0.0

    async def complete(
        self, model: str, messages: Sequence[Message], params: Mapping[str, Any] | None = None
    ) -> Completion:
        """Ask ``model``; raise ProviderError when the call fails after retries."""
        m = self._models.get(model)
        if m is None:
            raise ProviderError(f"no model named '{model}'", kind=ErrorKind.CONFIG, retryable=False)
        answer = await self._path.complete(m, messages, params=params)
        if answer.completion is None:
            raise answer.error or ProviderError(
                "no completion", kind=ErrorKind.UNKNOWN, retryable=False
            )
        spent = answer.spent
        if spent is not None:
            self.spent = (self.spent or 0.0) + spent
        self.saved += answer.saved
        return answer.completion
