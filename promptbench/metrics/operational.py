"""Operational metrics: what a call cost in time, money and tokens, per record.

They read the completion, not the text: ``latency`` its ``latency_ms`` (a cache
hit keeps the original call's), ``tokens`` its usage, ``cost`` the record's cost.
A figure that is unknown gives an error verdict, never a pass: a budget that
cannot be checked has not been kept. (The gate's ``latency_p95``, ``cost`` and
``tokens`` judge a whole group; these judge each call.)
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from promptbench.config import MetricParams
from promptbench.metrics.base import Sample, metric
from promptbench.types import Score


class LatencyParams(MetricParams):
    """Parameters of ``latency``."""

    shorthand = "max_ms"

    max_ms: float = Field(gt=0, description="the call took at most this many milliseconds")


@metric(
    "latency",
    params=LatencyParams,
    summary="the call took at most max_ms milliseconds",
    example="latency: 2000",
)
def latency(sample: Sample, params: LatencyParams) -> Score:
    """Pass when the call's latency is within ``max_ms``."""
    took = sample.completion.latency_ms
    ok = took <= params.max_ms
    sign = "<=" if ok else ">"
    return Score("latency", float(ok), ok, f"{took:.0f} ms {sign} {params.max_ms:g} ms")


class CostParams(MetricParams):
    """Parameters of ``cost``."""

    shorthand = "max_usd"

    max_usd: float = Field(ge=0, description="the call cost at most this many US dollars")


@metric(
    "cost",
    params=CostParams,
    summary="the call cost at most max_usd dollars (unknown cost: an error)",
    example="cost: 0.002",
)
def cost(sample: Sample, params: CostParams) -> Score:
    """Pass when the call's cost is within ``max_usd``; unknown cost is an error verdict."""
    if sample.cost is None:
        return Score(
            "cost",
            None,
            None,
            error="the call's cost is unknown; give the model a price: {input: .., output: ..}",
        )
    ok = sample.cost <= params.max_usd
    sign = "<=" if ok else ">"
    return Score("cost", float(ok), ok, f"${sample.cost:.6f} {sign} ${params.max_usd:g}")


class TokensParams(MetricParams):
    """Parameters of ``tokens``: at least one bound."""

    shorthand = "max_total"

    max_prompt: int | None = Field(default=None, ge=0, description="at most this many in")
    max_completion: int | None = Field(default=None, ge=0, description="at most this many out")
    max_total: int | None = Field(default=None, ge=0, description="at most this many in all")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.max_prompt is None and self.max_completion is None and self.max_total is None:
            raise ValueError("give max_prompt, max_completion or max_total")
        return self


@metric(
    "tokens",
    params=TokensParams,
    summary="the call used at most so many prompt / completion / total tokens",
    example="tokens: {max_completion: 256}",
)
def tokens(sample: Sample, params: TokensParams) -> Score:
    """Pass when every given bound holds; no usage reported is an error verdict."""
    usage = sample.completion.usage
    if usage.total_tokens == 0:
        # Providers that do not report usage leave it at zero; zero would pass every bound.
        return Score("tokens", None, None, error="the provider reported no token usage")
    counts = (
        ("prompt", usage.prompt_tokens, params.max_prompt),
        ("completion", usage.completion_tokens, params.max_completion),
        ("total", usage.total_tokens, params.max_total),
    )
    over = [f"{what} {n} > {limit}" for what, n, limit in counts if limit is not None and n > limit]
    if over:
        return Score("tokens", 0.0, False, "; ".join(over))
    within = [f"{what} {n} <= {limit}" for what, n, limit in counts if limit is not None]
    return Score("tokens", 1.0, True, "; ".join(within))
