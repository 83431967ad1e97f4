"""``gate: {regression: ...}``: how much worse than a baseline a run may be before CI fails.

Written as one rule or a list of them::

    gate:
      regression: {metric: exact, margin: 0.02}
      # or
      regression:
        - {metric: exact, margin: 0.02}
        - {metric: pass_rate}            # margin 0: any real drop fails

A rule names a metric of the suite, or ``pass_rate`` (the share of cases passing every
metric). ``promptbench run --baseline FILE`` (and ``diff --fail-on-regression``) fails
only where the run is significantly worse than the baseline by more than the margin;
:mod:`promptbench.diff.regression` says exactly how that is decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from promptbench.config import StrictModel
from promptbench.errors import Issue
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import KeyPath, Located

REGRESSION_KEY = "regression"  # the key under ``gate:``; never a metric's name
PASS_RATE = "pass_rate"


class RegressionSpec(StrictModel):
    """One regression rule as written in the suite."""

    metric: str = Field(min_length=1, description="a metric of the suite, or pass_rate")
    margin: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="drops up to this much (on the 0-1 scale: 0.02 is 2 points) are tolerated",
    )


@dataclass(frozen=True)
class RegressionRule:
    """Fail when ``metric`` is significantly worse than the baseline by more than ``margin``."""

    metric: str
    margin: float = 0.0

    def __str__(self) -> str:
        return f"{self.metric} margin {self.margin:g}"

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON (also how run.json and baseline files store it)."""
        return {"metric": self.metric, "margin": self.margin}

    @classmethod
    def from_json(cls, data: Any) -> RegressionRule | None:
        """Rebuild a stored rule; None when ``data`` is not one (a foreign or older file)."""
        if not isinstance(data, dict) or not isinstance(data.get("metric"), str):
            return None
        margin = data.get("margin", 0.0)
        if not isinstance(margin, int | float) or isinstance(margin, bool):
            return None
        return cls(data["metric"], float(margin))


def parse_regression(
    value: Any, metric_names: set[str], src: Located, issues: list[Issue]
) -> list[RegressionRule]:
    """Parse ``gate.regression`` (a mapping or a list of them); problems go to ``issues``."""
    base: KeyPath = ("gate", REGRESSION_KEY)
    if isinstance(value, list):
        entries: list[tuple[KeyPath, Any]] = [((*base, i), v) for i, v in enumerate(value)]
    else:
        entries = [(base, value)]
    if not entries:
        issues.append(src.issue(base, "an empty list; write {metric: exact, margin: 0.02}"))
    rules: list[RegressionRule] = []
    known = sorted(metric_names | {PASS_RATE})
    for path, entry in entries:
        if not isinstance(entry, dict):
            issues.append(
                src.issue(path, "a regression rule is a mapping: {metric: exact, margin: 0.02}")
            )
            continue
        spec = validate(RegressionSpec, entry, src, path, issues)
        if spec is None:
            continue
        # probe.NAME: the robustness of a probe, checked against the probes once they are read.
        probe = spec.metric.startswith("probe.")
        if spec.metric != PASS_RATE and spec.metric not in metric_names and not probe:
            issues.append(
                src.issue(
                    (*path, "metric"),
                    f"'{spec.metric}' is not a metric of this suite; "
                    + suggest(spec.metric, known),
                )
            )
            continue
        rules.append(RegressionRule(spec.metric, spec.margin))
    return rules
