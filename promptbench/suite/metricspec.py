"""Metric entries and gate rules of a suite."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptbench.errors import Issue
from promptbench.metrics import metrics
from promptbench.suite import paths
from promptbench.suite.regression import REGRESSION_KEY
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import KeyPath, Located
from promptbench.types import MetricSpec


@dataclass
class MetricScope:
    """What metric parsing needs from around it: names taken, and where files resolve."""

    names: set[str]
    base_dir: Path | None = None
    models: set[str] | None = None  # the suite's model names, for judges
    user_code: bool = True  # False: --no-user-code, a suite that runs Python is refused

    def fork(self) -> MetricScope:
        """A scope for one case: it sees the suite's names, its own stay its own."""
        return MetricScope(set(self.names), self.base_dir, self.models, self.user_code)


def parse_metrics(
    entries: Iterable[Any], src: Located, base: KeyPath, issues: list[Issue], scope: MetricScope
) -> list[MetricSpec]:
    """Parse a list of metric entries; a name already taken gets a numeric suffix."""
    out: list[MetricSpec] = []
    for i, entry in enumerate(entries):
        spec = parse_metric(entry, src, (*base, i), issues, scope)
        if spec is not None:
            out.append(spec)
    return out


NEGATE = "not_"


def parse_metric(
    entry: Any, src: Located, path: KeyPath, issues: list[Issue], scope: MetricScope
) -> MetricSpec | None:
    """Parse ``- name``, ``- name: params`` or ``- not_: {name: params}`` into a MetricSpec."""
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
    if kind == NEGATE:
        return _negated(raw, src, kind_path, issues, scope)
    problem = metrics.problem(str(kind), listed_by="promptbench metrics")
    if problem is not None:
        issues.append(src.issue(kind_path, problem, prefer_key=True))
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
    if definition.params.path_fields:
        # The stored parameters are the validated ones, with file paths made absolute.
        raw = params.model_dump(exclude_unset=True)
        for field in definition.params.path_fields:
            value = getattr(params, field)
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
            raw[field] = str(found.resolve())
        params = definition.params.model_validate(raw)
    if definition.params.runs_user_code:
        if not scope.user_code:
            issues.append(
                src.issue(
                    kind_path,
                    f"metric '{kind}' runs Python code from the suite's files, and this run "
                    "refuses user code; allow it only where the suite is trusted",
                    hint="user_code",
                )
            )
            return None
        problem = _user_code_problem(raw, definition.params.path_fields, scope)
        if problem:
            issues.append(src.issue(kind_path, problem))
            return None
    for field in definition.params.model_fields_named:
        named = getattr(params, field)
        if named is not None and scope.models is not None and named not in scope.models:
            issues.append(
                src.issue(
                    (*kind_path, field),
                    f"no model named '{named}' in the suite; "
                    + suggest(str(named), sorted(scope.models)),
                )
            )
            return None
    problem = params.check()
    if problem:
        issues.append(src.issue(kind_path, problem))
        return None
    pos = src.pos(kind_path, prefer_key=True)
    return MetricSpec(
        kind=kind,
        name=_unique(params.name or kind, scope),
        params=raw,
        weight=params.weight,
        threshold=params.threshold,
        at=(src.file, pos.line) if pos is not None else None,
    )


def _user_code_problem(
    raw: dict[str, Any], path_fields: tuple[str, ...], scope: MetricScope
) -> str | None:
    """Why the user code a metric would import may not load from where it is, or None."""
    if scope.base_dir is None:
        return None
    # Code loads only from inside the suite's directory, or the project directory above
    # it that the suite's relative paths also resolve against; never from elsewhere.
    allowed = [d.resolve() for d in paths.search_dirs(scope.base_dir)]
    for field in path_fields:
        value = raw.get(field)
        if isinstance(value, str):
            real = Path(value).resolve()
            if not any(real.is_relative_to(d) for d in allowed):
                return (
                    f"{field} '{value}' is outside the suite's directory; user code "
                    "loads only from the suite's directory or the one above it"
                )
    return None


def _negated(
    inner: Any, src: Located, path: KeyPath, issues: list[Issue], scope: MetricScope
) -> MetricSpec | None:
    """``not_: {contains: sorry}``: the inner metric, with its verdict and score inverted."""
    if isinstance(inner, dict) and len(inner) == 1 and NEGATE in inner:
        issues.append(src.issue(path, "not_ inside not_ cancels out; remove both"))
        return None
    # The inner metric is named in its own scope, so that its name is only taken once.
    spec = parse_metric(inner, src, path, issues, scope.fork())
    if spec is None:
        return None
    given = spec.params.get("name")
    name = _unique(str(given) if given else f"not_{spec.name}", scope)
    return MetricSpec(
        kind=spec.kind,
        name=name,
        params=spec.params,
        weight=spec.weight,
        threshold=spec.threshold,
        negate=True,
        at=spec.at,
    )


def _unique(name: str, scope: MetricScope) -> str:
    # A gate figure's name is taken too, so that a gate always means one thing.
    if name in scope.names or name in GATE_STATS or name == REGRESSION_KEY:
        n = 2
        while f"{name}_{n}" in scope.names:
            n += 1
        name = f"{name}_{n}"
    scope.names.add(name)
    return name


GATE_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}
_RULE = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?[0-9]*\.?[0-9]+)\s*(%?)\s*$")

# Gate keys naming a probe's figure, probe.typos.pdr; suite.probes parses them.
PROBE_GATE_PREFIX = "probe."

# Figures of a variant x model group that a gate can name besides the metrics.
GATE_STATS = {
    "pass_rate": "share of cases that passed every metric",
    "error_rate": "share of calls that ended in an error",
    "latency_p50": "median latency, ms",
    "latency_p95": "95th percentile latency, ms",
    "total_cost": "total cost, USD",
    "total_tokens": "total tokens",
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
        return actual is not None and GATE_OPS[self.op](actual, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_gate(
    gate: dict[str, Any], metric_names: set[str], src: Located, issues: list[Issue]
) -> list[GateRule]:
    """Parse ``gate: {exact: ">= 0.9", pass_rate: 0.8}`` (a bare number means ``>=``)."""
    rules: list[GateRule] = []
    known = sorted(metric_names | set(GATE_STATS))
    for key, value in gate.items():
        if key == REGRESSION_KEY:  # rules against a baseline: suite.regression parses them
            continue
        if isinstance(key, str) and key.startswith(PROBE_GATE_PREFIX):
            continue  # probe.NAME.FIGURE: parsed with the probes (suite.probes)
        path: KeyPath = ("gate", key)
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
        rule = gate_rule(key, value, src, path, issues)
        if rule is not None:
            rules.append(rule)
    return rules


def gate_rule(
    key: str, value: Any, src: Located, path: KeyPath, issues: list[Issue]
) -> GateRule | None:
    """One gate rule: ``">= 0.9"``, ``"<= 5%"``, or a bare number meaning ``>=``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return GateRule(key, ">=", float(value), f">= {value}")
    match = _RULE.match(str(value)) if isinstance(value, str) else None
    if match is None:
        issues.append(
            src.issue(
                path,
                f'cannot read the gate rule {value!r}; write a comparison such as ">= 0.9"',
            )
        )
        return None
    op, number, percent = match.groups()
    threshold = float(number) / (100 if percent else 1)
    return GateRule(key, op, threshold, str(value))
