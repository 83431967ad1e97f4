"""A loaded suite: everything validated, templates compiled, paths resolved."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.config import ModelConfig
from promptbench.errors import Issue, RenderError
from promptbench.render import Renderer, Template
from promptbench.suite.cases import CaseSource
from promptbench.suite.grid import GridPoint
from promptbench.suite.metricspec import GateRule
from promptbench.suite.paths import display
from promptbench.suite.probes import ProbeSet
from promptbench.suite.regression import RegressionRule
from promptbench.suite.schema import WandbSpec
from promptbench.types import Case, Message, MetricSpec


@dataclass(frozen=True)
class Variant:
    """A prompt variant: the message templates sent for every case, in order.

    A variant expanded from a grid carries its ``point``: the template vars it sets,
    which win over a case's vars of the same name (the sweep is what is being varied).
    """

    name: str
    parts: tuple[tuple[str, Template], ...]
    metrics: tuple[MetricSpec, ...] = ()
    point: GridPoint | None = None
    probes: ProbeSet | None = None  # the suite's probes: a prompt twin perturbs the parts

    def render(self, case: Case) -> tuple[Message, ...]:
        """The messages for ``case``; raises RenderError naming the case and variant."""
        ctx = case.context()
        if self.point is not None:
            ctx = {**ctx, **self.point.as_dict()}
        where = f"case '{case.id}', variant '{self.name}'"
        parts = self.parts
        if case.probe is not None and self.probes is not None:
            parts = self.probes.variant_parts(parts, self.name, case)
        return tuple(Message(role, t.render(ctx, where=where)) for role, t in parts)

    def source(self) -> str:
        """The templates as written, for run metadata."""
        return "\n".join(f"[{role}]\n{t.source}" for role, t in self.parts)


@dataclass
class Suite:
    """A validated suite."""

    path: Path
    name: str
    description: str
    variants: dict[str, Variant]
    models: dict[str, ModelConfig]
    cases: CaseSource
    metrics: tuple[MetricSpec, ...]
    gate: tuple[GateRule, ...]
    repeat: int
    concurrency: int
    max_error_rate: float
    threshold: float | None
    hash: str
    renderer: Renderer
    files: list[Path] = field(default_factory=list)
    wandb: WandbSpec | None = None  # where `run --wandb` logs; None: the defaults
    regression: tuple[RegressionRule, ...] = ()  # gate.regression: rules against a baseline
    model_points: dict[str, GridPoint] = field(default_factory=dict)  # models from a grid

    @property
    def grid_points(self) -> list[GridPoint]:
        """Every model and variant expanded from a grid, models first."""
        points = list(self.model_points.values())
        return points + [v.point for v in self.variants.values() if v.point is not None]

    def grid_params(self, variant: str, model: str) -> dict[str, Any]:
        """The grid parameters of a variant × model, for tables and W&B (model's first)."""
        out: dict[str, Any] = {}
        point = self.model_points.get(model)
        if point is not None:
            out.update(point.as_dict())
        v = self.variants.get(variant)
        if v is not None and v.point is not None:
            out.update(v.point.as_dict())
        return out

    probes: ProbeSet = field(default_factory=ProbeSet)  # probes: twins of the cases

    @property
    def metric_names(self) -> list[str]:
        """Every metric name used anywhere in the suite, suite-wide first."""
        names = dict.fromkeys(m.name for m in self.metrics)
        for v in self.variants.values():
            names.update(dict.fromkeys(m.name for m in v.metrics))
        return list(names)

    def metrics_for(self, variant: Variant, case: Case) -> tuple[MetricSpec, ...]:
        """Suite-wide, then the variant's, then the case's metrics."""
        return self.metrics + variant.metrics + case.metrics

    def check_render(self, limit: int = 10) -> list[RenderError]:
        """Render every variant and templated metric parameter for every case; no model calls.

        Returns up to ``limit`` errors, so that a run never starts on a suite that
        would fail half-way.
        """
        from promptbench.metrics.scoring import BoundMetric

        errors: list[RenderError] = []
        bound: dict[MetricSpec, BoundMetric] = {}
        for case in self.cases:
            checked: set[MetricSpec] = set()  # a suite-wide metric once per case, not per variant
            for variant in self.variants.values():
                try:
                    variant.render(case)
                except RenderError as exc:
                    errors.append(exc)
                for spec in self.metrics_for(variant, case):
                    if spec in checked:
                        continue
                    checked.add(spec)
                    b = bound.get(spec)
                    if b is None:
                        b = bound[spec] = BoundMetric(spec, self.renderer)
                    try:
                        b.params_for(case)
                    except RenderError as exc:
                        errors.append(exc)
                if len(errors) >= limit:
                    return errors[:limit]
        return errors

    def render_issues(self, limit: int = 10) -> list[Issue]:
        """The errors of :meth:`check_render` as issues of the suite file, one per problem.

        A template that fails the same way for many cases (a misspelt variable) is
        one problem: it is reported once, for the first case, with a count of the others.
        """
        errors = self.check_render(limit)
        groups: dict[str, list[RenderError]] = {}
        for e in errors:
            groups.setdefault(e.reason if e.where else str(e), []).append(e)
        issues = []
        for same in groups.values():
            text = str(same[0])
            if len(same) > 1:
                more = len(same) - 1
                at_least = "at least " if len(errors) >= limit else ""
                text += f" (the same in {at_least}{more} more case{'' if more == 1 else 's'})"
            issues.append(Issue(display(self.path), text))
        return issues

    def iter_cases(self) -> Iterator[Case]:
        """The cases, streamed."""
        return iter(self.cases)
