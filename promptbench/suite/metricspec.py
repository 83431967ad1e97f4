"""Metric entries and gate rules of a suite."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from promptbench.errors import Issue
from promptbench.metrics import metrics
from promptbench.suite import paths
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import Located, Path
from promptbench.types import MetricSpec


@dataclass
class MetricScope:
    """What metric parsing needs from around it: names taken, and where files resolve."""

    names: set[str]
    base_dir: FsPath | None = None

    def fork(self) -> MetricScope:
        """A scope for one case: it sees the suite's names, its own stay its own."""
        return MetricScope(set(self.names), self.base_dir)


def parse_metrics(
    entries: Iterable[Any], src: Located, base: Path, issues: list[Issue], scope: MetricScope
) -> list[MetricSpec]:
    """Parse a list of metric entries; a name already taken gets a numeric suffix."""
    out: list[MetricSpec] = []
    for i, entry in enumerate(entries):
        spec = parse_metric(entry, src, (*base, i), issues, scope)
        if spec is not None:
            out.append(spec)
    return out


def parse_metric(
    entry: Any, src: Located, path: Path, issues: list[Issue], scope: MetricScope
) -> MetricSpec | None:
    """Parse ``- name`` or ``- name: params`` into a validated MetricSpec."""
    if isinstance(entry, str):
        kind, raw, kind_path = entry, None, path
    elif isinstance(entry, dict) and len(entry) == 1:
        kind, raw = next(iter(entry.items()))
        kind_path = (*path, kind)
    else:
        issues.append(
            src.issue(
                path,
                "a metric is a name (- json_valid) or a one-key mapping (- exact: {...})",
            )
        )
        return None
    if not isinstance(kind, str) or kind not in metrics:
        issues.append(
            src.issue(
                kind_path,
                f"unknown metric '{kind}'; "
                + suggest(str(kind), metrics.names())
                + " (promptbench metrics lists them)",
                prefer_key=True,
            )
        )
        return None
    definition = metrics.get(kind)
    if raw is None:
        raw = {}
    elif not isinstance(raw, dict):
        if definition.params.shorthand is None:
            issues.append(src.issue(kind_path, f"metric '{kind}' takes a mapping of parameters"))
            return None
        raw = {definition.params.shorthand: raw}
    params = validate(definition.params, raw, src, kind_path, issues)
    if params is None:
        return None
    for field in definition.params.path_fields:
        value = raw.get(field)
        if not isinstance(value, str):
            continue
        found = paths.resolve(value, scope.base_dir) if scope.base_dir is not None else None
        if found is None or not found.is_file():
            issues.append(
                src.issue(
                    (*kind_path, field),
                    f"file '{value}' not found; paths are relative to the suite",
                )
            )
            return None
        raw = {**raw, field: str(found.resolve())}
    name = params.name or kind
    if name in scope.names:
        n = 2
        while f"{name}_{n}" in scope.names:
            n += 1
        name = f"{name}_{n}"
    scope.names.add(name)
    return MetricSpec(
        kind=kind, name=name, params=raw, weight=params.weight, threshold=params.threshold
    )


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_RULE = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?[0-9]*\.?[0-9]+)\s*(%?)\s*$")

# Figures of a variant x model group that a gate can name besides the metrics.
GATE_STATS = {
    "pass_rate": "share of cases that passed every metric",
    "error_rate": "share of calls that ended in an error",
    "latency_p50": "median latency, ms",
    "latency_p95": "95th percentile latency, ms",
    "cost": "total cost, USD",
    "tokens": "total tokens",
}


@dataclass(frozen=True)
class GateRule:
    """``metric op value``: what every variant x model group must satisfy."""

    metric: str
    op: str
    value: float
    text: str

    def holds(self, actual: float | None) -> bool:
        """Whether ``actual`` satisfies the rule; an unknown figure never does."""
        return actual is not None and _OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_gate(
    gate: dict[str, Any], metric_names: set[str], src: Located, issues: list[Issue]
) -> list[GateRule]:
    """Parse ``gate: {exact: ">= 0.9", pass_rate: 0.8}`` (a bare number means ``>=``)."""
    rules: list[GateRule] = []
    known = sorted(metric_names | set(GATE_STATS))
    for key, value in gate.items():
        path: Path = ("gate", key)
        if key not in metric_names and key not in GATE_STATS:
            issues.append(
                src.issue(
                    path,
                    f"'{key}' is neither a metric of this suite nor a gate figure; "
                    + suggest(str(key), known),
                    prefer_key=True,
                )
            )
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rules.append(GateRule(key, ">=", float(value), f">= {value}"))
            continue
        match = _RULE.match(str(value)) if isinstance(value, str) else None
        if match is None:
            issues.append(
                src.issue(
                    path,
                    f'cannot read the gate rule {value!r}; write a comparison such as ">= 0.9"',
                )
            )
            continue
        op, number, percent = match.groups()
        threshold = float(number) / (100 if percent else 1)
        rules.append(GateRule(key, op, threshold, str(value)))
    return rules
