"""Bind a suite's metric specs to cases, and score outputs with them.

Parameters that are Jinja2 templates (``expected: "{{ label }}"``) are rendered
per case with the case's vars, then validated by the metric's parameter model.
Static parameters are validated once.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from pydantic import ValidationError

from promptbench.config import MetricParams, ToolTarget
from promptbench.errors import RenderError
from promptbench.metrics.base import MetricDef, Sample, metrics
from promptbench.render import Renderer, is_template
from promptbench.types import Case, MetricSpec, Score


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return False


class BoundMetric:
    """A metric spec ready to score: its definition, and its parameters per case."""

    def __init__(self, spec: MetricSpec, renderer: Renderer) -> None:
        self.spec = spec
        self.definition: MetricDef = metrics.get(spec.kind)
        self._renderer = renderer
        # Defaults count too: exact's expected defaults to "{{ expected }}".
        validated = self.definition.params.model_validate(dict(spec.params))
        self._raw = validated.model_dump()
        # Only the fields holding templates are rendered per case.
        self._templated = [k for k, v in self._raw.items() if _has_template(v)]
        self._static: MetricParams | None = None if self._templated else validated
        # Scored on the loop's thread as it is called: no coroutine, no thread.
        self.synchronous = not (self.definition.is_async or self.definition.blocking)

    @property
    def name(self) -> str:
        """The metric's label in records and tables."""
        return self.spec.name

    def params_for(self, case: Case) -> MetricParams:
        """Return the parameters for ``case``, rendering templates; raises RenderError."""
        if self._static is not None:
            return self._static
        where = f"case '{case.id}', metric '{self.name}'"
        ctx = case.context()
        rendered = dict(self._raw)
        for field in self._templated:
            rendered[field] = self._render(self._raw[field], ctx, where, field)
        try:
            return self.definition.params.model_validate(rendered)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            raise RenderError(f"{where}: parameter {field}: {first['msg']}") from None

    def _render(self, value: Any, ctx: Mapping[str, Any], where: str, field: str = "") -> Any:
        if isinstance(value, str) and is_template(value):
            # The origin names the parameter, not the case: compiled once, not once per case.
            origin = f"{self.name}.{field}" if field else self.name
            return self._renderer.from_string(value, origin).render(ctx, where=where)
        if isinstance(value, Mapping):
            return {
                k: self._render(v, ctx, where, f"{field}.{k}" if field else str(k))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._render(v, ctx, where, f"{field}[{i}]") for i, v in enumerate(value)]
        return value

    async def score(self, sample: Sample) -> Score:
        """Score ``sample``: a metric that raises gives an error verdict, never a fail.

        In a conversation the metric scores the turn it names (the last by default),
        or each turn with ``turn: all``: then it passes when every turn passes.
        """
        if self.synchronous:
            return self.score_now(sample)
        try:
            params = self.params_for(sample.case)
        except Exception as exc:
            return self._error(exc)
        if params.turn == "all" and len(sample.turns) > 1:
            scores = [await self._score_turn(sample, params, t.index) for t in sample.turns]
            return combine_turns(self.name, scores, self.spec.weight)
        turn = params.turn if isinstance(params.turn, int) else None
        return await self._score_turn(sample, params, turn)

    def score_now(self, sample: Sample) -> Score:
        """:meth:`score` for a metric that is neither async nor blocking, without a coroutine."""
        try:
            params = self.params_for(sample.case)
        except Exception as exc:
            return self._error(exc)
        if params.turn == "all" and len(sample.turns) > 1:
            scores = [self._score_turn_now(sample, params, t.index) for t in sample.turns]
            return combine_turns(self.name, scores, self.spec.weight)
        turn = params.turn if isinstance(params.turn, int) else None
        return self._score_turn_now(sample, params, turn)

    def _error(self, exc: Exception) -> Score:
        return Score(
            self.name, None, None, error=f"{type(exc).__name__}: {exc}", weight=self.spec.weight
        )

    def _scored(self, sample: Sample, params: MetricParams, turn: int | None) -> Sample | Score:
        """The sample narrowed to what the metric scores, or the verdict when there is none."""
        focused = focus(sample, turn)
        if isinstance(focused, Score):  # the turn did not take place
            return replace(focused, name=self.name, weight=self.spec.weight)
        targeted = target(focused, params)
        if isinstance(targeted, Score):  # nothing to score: a fail, with the reason
            return self._negated(replace(targeted, name=self.name, weight=self.spec.weight))
        return targeted

    async def _score_turn(self, sample: Sample, params: MetricParams, turn: int | None) -> Score:
        try:
            scored = self._scored(sample, params, turn)
            if isinstance(scored, Score):
                return scored
            fn = self.definition.fn
            if self.definition.is_async:
                result = await cast(Any, fn(scored, params))
            elif self.definition.blocking:
                result = await asyncio.to_thread(fn, scored, params)
            else:
                result = fn(scored, params)
            return self._negated(self._to_score(result, params))
        except Exception as exc:
            return self._error(exc)

    def _score_turn_now(self, sample: Sample, params: MetricParams, turn: int | None) -> Score:
        try:
            scored = self._scored(sample, params, turn)
            if isinstance(scored, Score):
                return scored
            return self._negated(self._to_score(self.definition.fn(scored, params), params))
        except Exception as exc:
            return self._error(exc)

    def _to_score(self, result: object, params: MetricParams) -> Score:
        # ``object``, not ScoreLike: user metrics return whatever they return.
        threshold = params.threshold
        if threshold is None:
            threshold = self.definition.default_threshold
        details = None
        if isinstance(result, Score):
            value, passed, reason, error = result.value, result.passed, result.reason, result.error
            details = result.details
            if error is not None:
                return Score(self.name, None, None, reason, error, self.spec.weight, details)
            if value is not None and params.threshold is not None:
                passed = value >= threshold
            if passed is None and value is not None:
                passed = value >= threshold
            if passed is None:  # an error verdict must say why
                error = "metric returned a Score with neither a value nor a verdict"
                return Score(self.name, None, None, reason, error, self.spec.weight)
        elif isinstance(result, bool):
            value, passed, reason = float(result), result, ""
        elif isinstance(result, (int, float)):
            value = float(result)
            passed = value >= threshold
            reason = ""
        else:
            return Score(
                self.name,
                None,
                None,
                error=f"metric returned {type(result).__name__}; return a bool, a float or a Score",
                weight=self.spec.weight,
            )
        if value is not None and (math.isnan(value) or not 0.0 <= value <= 1.0):
            error = f"score {value} is not in [0, 1]"
            return Score(self.name, None, None, error=error, weight=self.spec.weight)
        return Score(self.name, value, passed, reason, None, self.spec.weight, details)

    def _negated(self, score: Score) -> Score:
        """For ``not_``: invert the value and the verdict; an error stays an error."""
        if not self.spec.negate or score.verdict == "error":
            return score
        value = None if score.value is None else 1.0 - score.value
        reason = f"not ({score.reason})" if score.reason else "negated"
        return Score(self.name, value, not score.passed, reason, None, score.weight, score.details)


def case_passed(scores: Iterable[Score], threshold: float | None = None) -> bool | None:
    """The case's verdict from its scores.

    Without a threshold every metric must pass; with one, the weighted mean of
    the scores must reach it. Any metric error leaves the case without a verdict
    (None) unless another metric already failed it.
    """
    scores = list(scores)
    if not scores:
        return None
    errored = any(s.verdict == "error" for s in scores)
    if threshold is None:
        if any(s.verdict == "fail" for s in scores):
            return False
        return None if errored else True
    if errored:
        return None
    total = sum(s.weight for s in scores)
    if total == 0:
        return None
    mean = sum((s.value or 0.0) * s.weight for s in scores) / total
    return mean >= threshold


async def score_all(bound: Sequence[BoundMetric], sample: Sample) -> dict[str, Score]:
    """Score ``sample`` with every metric, concurrently when any is async or blocking."""
    if all(b.synchronous for b in bound):
        return {b.name: b.score_now(sample) for b in bound}
    results = await asyncio.gather(*(b.score(sample) for b in bound))
    return {s.name: s for s in results}


def focus(sample: Sample, turn: int | None) -> Sample | Score:
    """``sample`` narrowed to one turn of its conversation (the last when ``turn`` is None).

    A turn the conversation did not reach (a simulated user met its goal sooner)
    cannot be scored: an error verdict that says so.
    """
    if not sample.turns:
        return sample
    chosen = turn or len(sample.turns)
    if chosen > len(sample.turns):
        have = len(sample.turns)
        return Score(
            "", None, None, error=f"turn {chosen} did not take place (the conversation had {have})"
        )
    t = sample.turns[chosen - 1]
    before = [m for prior in sample.turns[: chosen - 1] for m in (prior.user, *prior.steps) if m]
    prompt = (*_prefix(sample), *before, *((t.user,) if t.user else ()))
    return replace(sample, output=t.reply, tool_calls=t.tool_calls, prompt=prompt, turn=chosen)


def _prefix(sample: Sample) -> tuple[Any, ...]:
    # The rendered prompt before turn 1's user message: system and few-shot messages.
    first = sample.turns[0].user if sample.turns else None
    out = []
    for m in sample.prompt:
        if m == first:
            break
        out.append(m)
    return tuple(out)


def target(sample: Sample, params: MetricParams) -> Sample | Score:
    """``sample`` with the text the metric scores: the reply, or a tool call's arguments.

    ``target: {tool: NAME}`` scores the arguments' JSON text (so ``json_valid`` sees
    text that is not JSON as it is); with ``arg:`` one argument, as text. No such
    call, or arguments that are not JSON, fail with the reason.
    """
    wanted = params.target
    if not isinstance(wanted, ToolTarget):
        return sample
    calls = [c for c in sample.tool_calls if wanted.tool is None or c.name == wanted.tool]
    if not calls:
        return Score("", 0.0, False, f"no call to {wanted.tool or 'any tool'} to score")
    call = calls[0]
    if wanted.arg is None:
        return replace(sample, output=call.raw_arguments)
    if call.arguments is None:
        return Score("", 0.0, False, f"{call.name}: {call.parse_error}: {call.raw_arguments!r}")
    from promptbench.metrics.structure import _MISSING, _lookup, parse_path

    value, missing = _lookup(dict(call.arguments), parse_path(wanted.arg))
    if value is _MISSING:
        return Score("", 0.0, False, f"{call.name} has no argument {missing}")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return replace(sample, output=text)


def combine_turns(name: str, scores: Sequence[Score], weight: float) -> Score:
    """One verdict for ``turn: all``: it passes when every turn passes; the mean is its value."""
    errors = [(i, s) for i, s in enumerate(scores, 1) if s.verdict == "error"]
    if errors:
        i, s = errors[0]
        return Score(name, None, None, error=f"turn {i}: {s.error}", weight=weight)
    values = [s.value or 0.0 for s in scores]
    failed = [(i, s) for i, s in enumerate(scores, 1) if not s.passed]
    mean = sum(values) / len(values)
    if failed:
        i, s = failed[0]
        more = f" ({len(failed)} of {len(scores)} turns fail)" if len(failed) > 1 else ""
        return Score(name, mean, False, f"turn {i}: {s.reason}{more}", weight=weight)
    return Score(name, mean, True, f"all {len(scores)} turns pass", weight=weight)
