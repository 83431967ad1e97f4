"""A run's plan, for ``run --dry-run``: calls, cache hits, tokens and cost, per model.

Nothing is called and nothing is written. Prompt tokens of calls not cached are
estimated at four characters a token; answer tokens at ``max_tokens`` when set,
else at the mean of the model's cached answers, else 256. Judge calls made by
model-graded metrics are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptbench.cache import Cache, cache_key
from promptbench.providers.pricing import cost as price_cost
from promptbench.runner.budget import DEFAULT_ANSWER_TOKENS
from promptbench.runner.options import RunOptions
from promptbench.runner.selection import select, selected_cases
from promptbench.suite import Suite


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

    @property
    def to_call(self) -> int:
        """Calls not in the cache."""
        return self.calls - self.cached

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON."""
        return {
            "model": self.model,
            "calls": self.calls,
            "cached": self.cached,
            "to_call": self.to_call,
            "prompt_tokens_estimate": round(self.prompt_tokens),
            "answer_tokens_estimate": round(self.answer_tokens),
            "cost_estimate": None if self.cost is None else round(self.cost, 6),
        }


def plan(suite: Suite, options: RunOptions) -> list[ModelPlan]:
    """Count and price what ``promptbench run`` would do with these options."""
    variants, model_names = select(suite, options)
    repeat = options.repeat or suite.repeat
    cache = Cache(options.cache_path) if options.use_cache else None
    plans = {name: ModelPlan(name) for name in model_names}
    pending_chars: dict[str, int] = dict.fromkeys(model_names, 0)
    try:
        for case in selected_cases(suite, options):
            for variant in (suite.variants[v] for v in variants):
                messages = variant.render(case)
                # A conversation makes a call per user turn at least (tool steps and a
                # simulated user's calls come on top); only its first call can be looked up.
                conversation = suite.conversation(variant, case)
                steps = 1 if conversation.single else max(1, conversation.most_turns)
                extra = conversation.tools.params() if conversation.tools is not None else {}
                for name in model_names:
                    config = suite.models[name]
                    identity = config.cache_identity()
                    if extra:
                        identity = {**identity, **extra}
                    p = plans[name]
                    for rep in range(repeat):
                        p.calls += steps
                        hit = None
                        if cache is not None:
                            key = cache_key(config.provider, identity, messages, rep)
                            hit = cache.get(key)
                        chars = sum(len(m.content) for m in messages)
                        if hit is not None:
                            p.cached += 1
                            p.cached_answer_tokens += hit.usage.completion_tokens
                            pending_chars[name] += chars * (steps - 1)
                        else:
                            pending_chars[name] += chars * steps
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
