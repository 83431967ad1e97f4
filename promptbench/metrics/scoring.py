"""Bind a suite's metric specs to cases, and score outputs with them.

Parameters that are Jinja2 templates (``expected: "{{ label }}"``) are rendered
per case with the case's vars, then validated by the metric's parameter model.
Static parameters are validated once.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from pydantic import ValidationError

from promptbench.config import MetricParams
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
        """Score ``sample``: a metric that raises gives an error verdict, never a fail."""
        try:
            params = self.params_for(sample.case)
            fn = self.definition.fn
            if self.definition.is_async:
                result = await cast(Any, fn(sample, params))
            elif self.definition.blocking:
                result = await asyncio.to_thread(fn, sample, params)
            else:
                result = fn(sample, params)
            return self._negated(self._to_score(result, params))
        except Exception as exc:
            return Score(
                self.name, None, None, error=f"{type(exc).__name__}: {exc}", weight=self.spec.weight
            )

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
    if all(not (b.definition.is_async or b.definition.blocking) for b in bound):
        return {b.name: await b.score(sample) for b in bound}
    results = await asyncio.gather(*(b.score(sample) for b in bound))
    return {s.name: s for s in results}
