"""List prices of hosted models (OpenAI, Anthropic, Google Gemini), in USD per one million tokens.

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

# Anthropic's standard (non-batch) list prices, input / output, USD per 1M tokens, taken on
# 2026-12-01 from Anthropic's pricing page (docs.anthropic.com/en/docs/about-claude/pricing) as
# stored copies and price tables dated March 2026 show it. Prompt-cache reads and writes are
# priced as ordinary input here (promptbench sets no cache breakpoints).
ANTHROPIC_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-6": (5.00, 25.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4-0": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-haiku": (0.25, 1.25),
}

# Google's paid-tier list prices for the Gemini API (text input, output including thinking
# tokens), USD per 1M tokens, taken on 2026-12-01 from ai.google.dev/gemini-api/docs/pricing as
# stored copies dated March-July 2026 show it. The Pro models cost more for prompts over 200k
# tokens; the price here is the tier up to 200k.
GEMINI_PRICES: dict[str, tuple[float, float]] = {
    "gemini-3.1-pro-preview": (2.00, 12.00),
    "gemini-3-pro-preview": (2.00, 12.00),
    "gemini-3-flash-preview": (0.50, 3.00),
    "gemini-2.5-pro": (1.25, 10.00),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-flash-lite": (0.10, 0.40),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.0-flash-lite": (0.075, 0.30),
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


# A Claude snapshot or alias: "claude-sonnet-4-5-20250929", "claude-3-5-haiku-latest".
_CLAUDE_SNAPSHOT = re.compile(r"^(.+?)-(?:\d{8}|latest)$")
# A Gemini version: "gemini-2.0-flash-001", "gemini-2.5-flash-latest".
_GEMINI_VERSION = re.compile(r"^(.+?)-(?:\d{3}|latest)$")


def _price(table: dict[str, tuple[float, float]], name: str) -> Price | None:
    if name not in table:
        return None
    i, o = table[name]
    return Price(input=i, output=o)


def lookup_anthropic(model: str | None) -> Price | None:
    """The list price of a known Claude model, its dated snapshots and ``-latest`` aliases too."""
    if not model:
        return None
    match = _CLAUDE_SNAPSHOT.match(model)
    return _price(ANTHROPIC_PRICES, model) or (
        _price(ANTHROPIC_PRICES, match.group(1)) if match else None
    )


def lookup_gemini(model: str | None) -> Price | None:
    """The list price of a known Gemini model (``models/`` prefix and ``-001`` versions too)."""
    if not model:
        return None
    name = model.removeprefix("models/")
    match = _GEMINI_VERSION.match(name)
    return _price(GEMINI_PRICES, name) or (_price(GEMINI_PRICES, match.group(1)) if match else None)


def cost(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for one call, or None when the price is unknown."""
    if price is None:
        return None
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1_000_000
