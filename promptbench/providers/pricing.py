"""Prices of hosted OpenAI models, in USD per one million tokens.

A suite can override the price of any model (``price: {input: .., output: ..}``);
a model that is neither here nor priced in the suite has an unknown cost (None),
never a made-up one.
"""

from __future__ import annotations

import re

from promptbench.config import Price

# Standard (non-batch) list prices, input / output, USD per 1M tokens.
OPENAI_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o1": (15.00, 60.00),
    "o1-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}

# A dated snapshot of a model: "-2024-07-18" or "-0613".
_SNAPSHOT = re.compile(r"^(.+?)-(?:\d{4}-\d{2}-\d{2}|\d{4})$")


def lookup(model: str | None) -> Price | None:
    """Return the list price of a known OpenAI model, matching dated snapshots too."""
    if not model:
        return None
    if model in OPENAI_PRICES:
        i, o = OPENAI_PRICES[model]
        return Price(input=i, output=o)
    # "gpt-4o-mini-2024-07-18" (or "gpt-4-0613") is a snapshot of "gpt-4o-mini". Any other
    # suffix is another model with its own price ("o3-pro", "gpt-4o-audio-preview"): unknown.
    match = _SNAPSHOT.match(model)
    if match is None or match.group(1) not in OPENAI_PRICES:
        return None
    i, o = OPENAI_PRICES[match.group(1)]
    return Price(input=i, output=o)


def cost(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for one call, or None when the price is unknown."""
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000
