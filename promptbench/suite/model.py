"""A loaded suite: everything validated, templates compiled, paths resolved."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.config import ModelConfig
from promptbench.errors import Issue, RenderError
from promptbench.render import Renderer, Template
from promptbench.suite.cases import CaseSource
from promptbench.suite.grid import GridPoint
from promptbench.suite.images import ImageSource
from promptbench.suite.metricspec import GateRule
from promptbench.suite.paths import display
from promptbench.suite.probes import ProbeSet
from promptbench.suite.regression import RegressionRule
from promptbench.suite.schema import WandbSpec
from promptbench.suite.tools import ToolSet
from promptbench.types import Case, Message, MetricSpec, SimulatedUser


@dataclass(frozen=True)
class Variant:
    """A prompt variant: the message templates sent for every case, in order.

    A variant expanded from a grid carries its ``point``: the template vars it sets,
    which win over a case's vars of the same name (the sweep is what is being varied).
    ``images`` are the image parts of the messages, by the message's index;
    ``turns``, ``user`` and ``tools`` make it a conversation or a tool loop.
    """

    name: str
    parts: tuple[tuple[str, Template], ...]
    metrics: tuple[MetricSpec, ...] = ()
    point: GridPoint | None = None
    probes: ProbeSet | None = None  # the suite's probes: a prompt twin perturbs the parts
    images: Mapping[int, tuple[ImageSource, ...]] = field(default_factory=dict)
    turns: tuple[Template, ...] = ()
    user: SimulatedUser | None = None
    tools: ToolSet | None = None

    def render(self, case: Case) -> tuple[Message, ...]:
        """The messages for ``case``; raises RenderError naming the case and variant."""
        ctx = case.context()
        if self.point is not None:
            ctx = {**ctx, **self.point.as_dict()}
        where = f"case '{case.id}', variant '{self.name}'"
        parts = self.parts
        if case.probe is not None and self.probes is not None:
            parts = self.probes.variant_parts(parts, self.name, case)
        out = []
        for i, (role, t) in enumerate(parts):
            images = tuple(src.resolve(ctx, where=where) for src in self.images.get(i, ()))
            out.append(Message(role, t.render(ctx, where=where), images))
        return tuple(out)

    @property
    def has_images(self) -> bool:
        """Whether any message carries an image."""
        return any(self.images.values())

    def source(self) -> str:
        """The templates as written, for run metadata."""
        parts = [f"[{role}]\n{t.source}" for role, t in self.parts]
        parts += [f"[user, turn {i + 2}]\n{t.source}" for i, t in enumerate(self.turns)]
        return "\n".join(parts)


@dataclass(frozen=True)
class Conversation:
    """How one variant x case goes on after its first call: more turns, a user, tools.

    ``turns`` are the rendered user messages sent after the prompt, each after the
    model's reply to the one before; ``user`` (persona and goal rendered) writes
    more of them, up to its ``max_turns`` user turns in all.
    """

    turns: tuple[str, ...] = ()
    user: SimulatedUser | None = None
    tools: ToolSet | None = None
    opens: bool = True  # the prompt ends with a user message, which is turn 1

    @property
    def single(self) -> bool:
        """One call: no further turns, no simulated user, no tools."""
        return not self.turns and self.user is None and self.tools is None

    @property
    def most_turns(self) -> int:
        """The most user turns it can have."""
        scripted = int(self.opens) + len(self.turns)
        return max(scripted, self.user.max_turns) if self.user is not None else scripted


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

    def conversation(self, variant: Variant, case: Case) -> Conversation:
        """The turns, simulated user and tools of ``variant`` for ``case``.

        A case's own turns (and user) replace the variant's; raises RenderError.
        """
        ctx = case.context()
        where = f"case '{case.id}', variant '{variant.name}'"
        if case.turns:
            turns = tuple(
                self.renderer.from_string(t, f"case '{case.id}' turns[{i}]").render(
                    ctx, where=where
                )
                for i, t in enumerate(case.turns)
            )
        else:
            turns = tuple(t.render(ctx, where=where) for t in variant.turns)
        user = case.user or variant.user
        if user is not None:
            user = SimulatedUser(
                user.model,
                self.renderer.render_text(user.persona, ctx, where=f"{where}, user.persona"),
                self.renderer.render_text(user.goal, ctx, where=f"{where}, user.goal"),
                user.max_turns,
            )
        opens = bool(variant.parts) and variant.parts[-1][0] == "user"
        return Conversation(turns, user, variant.tools, opens)

    def check_render(
        self,
        limit: int = 10,
        *,
        cases: Iterable[Case] | None = None,
        variants: Iterable[str] | None = None,
    ) -> list[RenderError]:
        """Render every variant and templated metric parameter for every case; no model calls.

        Returns up to ``limit`` errors, so that a run never starts on a suite that
        would fail half-way. ``cases`` and ``variants`` narrow it to what a run selected
        (``--limit``, ``--case``, ``--shard``, ``-v``): the others are not sent.
        """
        from promptbench.metrics.scoring import BoundMetric

        errors: list[RenderError] = []
        bound: dict[MetricSpec, BoundMetric] = {}
        chosen = (
            list(self.variants.values())
            if variants is None
            else [self.variants[v] for v in variants]
        )
        for case in self.cases if cases is None else cases:
            checked: set[MetricSpec] = set()  # a suite-wide metric once per case, not per variant
            for variant in chosen:
                try:
                    variant.render(case)
                    most = self.conversation(variant, case).most_turns
                except RenderError as exc:
                    errors.append(exc)
                    most = None
                for spec in self.metrics_for(variant, case):
                    if most is not None:
                        problem = turn_problem(spec, most, case, variant)
                        if problem is not None:
                            errors.append(problem)
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

    def render_issues(
        self,
        limit: int = 10,
        *,
        cases: Iterable[Case] | None = None,
        variants: Iterable[str] | None = None,
    ) -> list[Issue]:
        """The errors of :meth:`check_render` as issues of the suite file, one per problem.

        A template that fails the same way for many cases (a misspelt variable) is
        one problem: it is reported once, for the first case, with a count of the others.
        """
        errors = self.check_render(limit, cases=cases, variants=variants)
        groups: dict[str, list[RenderError]] = {}
        for e in errors:
            groups.setdefault(e.reason if e.where else str(e), []).append(e)
        issues = []
        for same in groups.values():
            first = same[0]
            if first.origin and first.line and first.where:  # located in a file: say where
                text = f"{first.where}: {first.reason}"
                if len(same) > 1:
                    text += f" (and {len(same) - 1} more)"
                issues.append(Issue(first.origin, text, line=first.line))
                continue
            text = str(same[0])
            if len(same) > 1:
                more = len(same) - 1
                at_least = "at least " if len(errors) >= limit else ""
                text += f" (the same in {at_least}{more} more case{'' if more == 1 else 's'})"
            issues.append(Issue(display(self.path), text))
        return issues

    @property
    def uses_images(self) -> bool:
        """Whether any variant sends images."""
        return any(v.has_images for v in self.variants.values())

    def iter_cases(self) -> Iterator[Case]:
        """The cases, streamed."""
        return iter(self.cases)


def turn_problem(spec: MetricSpec, most: int, case: Case, variant: Variant) -> RenderError | None:
    """A metric's ``turn: N`` past the turns the conversation can have, as a located error."""
    turn = spec.params.get("turn")
    if not isinstance(turn, int) or isinstance(turn, bool) or turn <= most:
        return None
    file, line = spec.at if spec.at is not None else (None, None)
    have = f"{most} turn{'' if most == 1 else 's'}"
    return RenderError(
        f"metric '{spec.name}': turn {turn} is beyond the conversation's {have}; "
        f"score a turn from 1 to {most}, or turn: all",
        origin=file,
        line=line,
        where=f"case '{case.id}', variant '{variant.name}'",
    )
