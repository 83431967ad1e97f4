"""A run's plan, for ``run --dry-run``: calls, cache hits, tokens and cost, per model.

Nothing is called and nothing is written. The calls are the most a run can make
when every call succeeds: a tool-using variant can take ``max_steps`` calls a
user turn, a simulated user writes up to its ``max_turns`` (its calls counted
on its model's row), and each model-graded metric calls its judge once a record,
or once a turn with ``turn: all``. Where tools or a simulated user make the
count a bound (the loop stops when the model answers, the user when its goal is
met), the row says so (``exact`` false); otherwise it is the count. Only a
record's first call can be looked up in the cache. Prompt tokens of calls not
cached are estimated at four characters a token; answer tokens at ``max_tokens``
when set, else at the mean of the model's cached answers, else 256.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from promptbench.cache import Cache, cache_key
from promptbench.metrics import metrics
from promptbench.providers.pricing import cost as price_cost
from promptbench.runner.budget import DEFAULT_ANSWER_TOKENS
from promptbench.runner.options import RunOptions
from promptbench.runner.selection import select, selected_cases
from promptbench.suite import Suite
from promptbench.suite.model import Conversation
from promptbench.types import MetricSpec


@dataclass
class ModelPlan:
    """What a run would do with one model."""

    model: str
    calls: int = 0
    cached: int = 0
    prompt_tokens: float = 0.0  # of the calls still to make, estimated
    answer_tokens: float = 0.0  # of the calls still to make, estimated
    cost: float | None = 0.0  # USD of the calls still to make; None when the price is unknown
    cached_answer_tokens: int = 0
    exact: bool = True  # calls is the count; False: the most there can be

    @property
    def to_call(self) -> int:
        """Calls not in the cache."""
        return self.calls - self.cached

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON."""
        return {
            "model": self.model,
            "calls": self.calls,
            "calls_exact": self.exact,
            "cached": self.cached,
            "to_call": self.to_call,
            "prompt_tokens_estimate": round(self.prompt_tokens),
            "answer_tokens_estimate": round(self.answer_tokens),
            "cost_estimate": None if self.cost is None else round(self.cost, 6),
        }


@dataclass(frozen=True)
class CallBound:
    """The most calls one variant x case x repeat makes, by whom, and whether it is the count."""

    model_calls: int  # the model under test: user turns x tool steps
    user_calls: int  # the simulated user's model
    turns: int  # user turns: a judge with ``turn: all`` grades each
    exact: bool

    @classmethod
    def of(cls, conversation: Conversation) -> CallBound:
        """The bound of a conversation (a single call: one call, exactly)."""
        if conversation.single:
            return cls(1, 0, 1, True)
        turns = max(1, conversation.most_turns)
        tools = conversation.tools
        steps = tools.max_steps if tools is not None else 1
        user = conversation.user
        # The simulated user writes every user turn after the scripted ones (the prompt's
        # own user message and ``turns:``), up to its max_turns in all.
        scripted = int(conversation.opens) + len(conversation.turns)
        user_calls = max(0, user.max_turns - scripted) if user is not None else 0
        exact = tools is None and user is None
        return cls(turns * steps, user_calls, turns, exact)


def judges(specs: Iterable[MetricSpec]) -> Iterator[tuple[str, bool]]:
    """Each model-graded metric's judge model, and whether it grades every turn."""
    for spec in specs:
        for field in metrics.get(spec.kind).params.model_fields_named:
            named = spec.params.get(field)
            if isinstance(named, str):
                yield named, spec.params.get("turn") == "all"


def plan(suite: Suite, options: RunOptions) -> list[ModelPlan]:
    """Count and price what ``promptbench run`` would do with these options."""
    variants, model_names = select(suite, options)
    repeat = options.repeat or suite.repeat
    cache = Cache(options.cache_path) if options.use_cache else None
    plans = {name: ModelPlan(name) for name in model_names}
    pending_chars: dict[str, int] = defaultdict(int)

    def also(name: str, calls: int, chars: int, exact: bool) -> None:
        """Calls of a judge or a simulated user: never looked up, so all still to make."""
        p = plans.setdefault(name, ModelPlan(name))
        p.calls += calls
        p.exact = p.exact and exact
        pending_chars[name] += chars * calls

    try:
        for case in selected_cases(suite, options):
            for variant in (suite.variants[v] for v in variants):
                messages = variant.render(case)
                conversation = suite.conversation(variant, case)
                bound = CallBound.of(conversation)
                steps = bound.model_calls
                extra = conversation.tools.params() if conversation.tools is not None else {}
                chars = sum(len(m.content) for m in messages)
                # The suite's metrics, the variant's and the case's own.
                graders = list(judges(suite.metrics_for(variant, case)))
                for name in model_names:
                    config = suite.models[name]
                    identity = config.cache_identity()
                    if extra:
                        identity = {**identity, **extra}
                    p = plans[name]
                    p.exact = p.exact and bound.exact
                    for rep in range(repeat):
                        p.calls += steps
                        hit = None
                        if cache is not None:
                            key = cache_key(config.provider, identity, messages, rep)
                            hit = cache.get(key)
                        if hit is not None:
                            p.cached += 1
                            p.cached_answer_tokens += hit.usage.completion_tokens
                            pending_chars[name] += chars * (steps - 1)
                        else:
                            pending_chars[name] += chars * steps
                        if conversation.user is not None and bound.user_calls:
                            also(conversation.user.model, bound.user_calls, chars, False)
                        for judge, every_turn in graders:
                            also(judge, bound.turns if every_turn else 1, chars, bound.exact)
    finally:
        if cache is not None:
            cache.close()
    for name, p in plans.items():
        config = suite.models[name]
        max_tokens = config.sampling_params().get("max_tokens")
        if isinstance(max_tokens, int):
            per_answer = float(max_tokens)
        elif p.cached:
            per_answer = p.cached_answer_tokens / p.cached
        else:
            per_answer = float(DEFAULT_ANSWER_TOKENS)
        p.prompt_tokens = pending_chars[name] / 4.0
        p.answer_tokens = per_answer * p.to_call
        p.cost = price_cost(
            config.effective_price(), round(p.prompt_tokens), round(p.answer_tokens)
        )
    return list(plans.values())
