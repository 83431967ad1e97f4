"""The Metric protocol, its registry, and the ``@metric`` decorator.

A metric is a function ``(sample, params) -> Score | bool | float`` (or a
coroutine returning one). It is registered with ``@metric(name, params=...)``;
built-ins and plugins register the same way, plugins through the entry-point
group ``promptbench.metrics``::

    class Params(MetricParams):
        word: str

    @metric("mentions", params=Params, summary="output mentions a word",
            example="mentions: {word: refund}")
    def mentions(sample: Sample, params: Params) -> bool:
        return params.word in sample.output

A bool becomes a score of 1 or 0; a float in [0, 1] passes at the threshold
(the metric's default, or the suite's ``threshold``). Raising an exception, or
returning anything else, gives an *error* verdict for that record: never a fail.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from promptbench.config import MetricParams
from promptbench.registry import Registry
from promptbench.types import Case, Completion, Message, Score, ToolCall, Turn

ScoreLike = Score | bool | float | int


class Models(Protocol):
    """Calls to the suite's models on a metric's behalf (judges).

    The runner implements it: the calls go through the same cache, retries and
    per-model concurrency limits as every other call of the run.
    """

    async def complete(
        self, model: str, messages: Sequence[Message], params: Mapping[str, Any] | None = None
    ) -> Completion:
        """Ask the suite's model ``model``; raise ProviderError if it fails after retries."""
        ...


@dataclass(frozen=True, slots=True)
class Sample:
    """What a metric sees: the case and the model's answer to it.

    In a conversation, ``output`` is the scored turn's reply (the last turn's, unless
    the metric says ``turn:``), ``tool_calls`` that turn's calls, ``prompt`` the
    conversation up to that turn's user message, and ``turns`` the whole of it.
    """

    case: Case
    output: str
    completion: Completion
    variant: str = ""
    model: str = ""
    cost: float | None = None  # the answer's cost at its model's price, cached or not
    models: Models | None = None  # for model-graded metrics
    prompt: tuple[Message, ...] = ()  # the rendered messages the output answers
    tool_calls: tuple[ToolCall, ...] = ()  # the calls of the scored turn, in order
    turns: tuple[Turn, ...] = ()  # the whole conversation; empty for a single call
    turn: int | None = None  # the turn scored, from 1; None: a single call


P_contra = TypeVar("P_contra", bound=MetricParams, contravariant=True)


class Metric(Protocol[P_contra]):
    """Scores one sample; sync or async."""

    def __call__(self, sample: Sample, params: P_contra, /) -> ScoreLike | Awaitable[ScoreLike]:
        """Return the verdict on ``sample``."""
        ...


@dataclass(frozen=True)
class MetricDef:
    """A registered metric: its function, parameter model and documentation."""

    name: str
    fn: Metric[Any]
    params: type[MetricParams]
    summary: str
    example: str
    default_threshold: float = 1.0
    blocking: bool = False  # CPU-heavy: run in a worker thread, off the event loop
    is_async: bool = False


# Each built-in metric and the module whose import registers it: a suite that names
# `exact` imports promptbench.metrics.string alone (tests check the table against what
# each module registers). promptbench.metrics.builtin, the entry point, imports them all.
BUILTIN_METRICS: dict[str, str] = {
    **dict.fromkeys(
        (
            "contains",
            "contains_all",
            "contains_any",
            "exact",
            "icontains",
            "length",
            "regex",
            "starts_with",
            "word_count",
        ),
        "promptbench.metrics.string",
    ),
    **dict.fromkeys(
        ("is_refusal", "json_field", "json_schema", "json_valid"), "promptbench.metrics.structure"
    ),
    **dict.fromkeys(
        ("bleu", "chrf", "levenshtein", "rouge1", "rouge2", "rougeL", "similarity"),
        "promptbench.metrics.overlap",
    ),
    **dict.fromkeys(("closedqa", "factuality", "judge"), "promptbench.metrics.judge"),
    **dict.fromkeys(("cost", "latency", "tokens"), "promptbench.metrics.operational"),
    **dict.fromkeys(
        ("no_tool_call", "tool_args", "tool_called", "tool_calls_match"),
        "promptbench.metrics.tools",
    ),
    "canary": "promptbench.metrics.canary",
    "python": "promptbench.metrics.python_metric",
    "semantic_similarity": "promptbench.metrics.semantic",
}

metrics: Registry[MetricDef] = Registry("promptbench.metrics", "metric", BUILTIN_METRICS)

F = TypeVar("F", bound=Callable[..., Any])


def metric(
    name: str,
    *,
    params: type[MetricParams] = MetricParams,
    summary: str,
    example: str,
    default_threshold: float = 1.0,
    blocking: bool = False,
) -> Callable[[F], F]:
    """Register the decorated function as the metric ``name``."""

    def wrap(fn: F) -> F:
        metrics.register(
            name,
            MetricDef(
                name=name,
                fn=fn,
                params=params,
                summary=summary,
                example=example,
                default_threshold=default_threshold,
                blocking=blocking,
                is_async=inspect.iscoroutinefunction(fn),
            ),
            origin=fn.__module__,
        )
        return fn

    return wrap
