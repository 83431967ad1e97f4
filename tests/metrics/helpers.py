"""Score one output with a built-in metric as a run would, and parse metric entries."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptbench.errors import Issue
from promptbench.metrics.base import Sample
from promptbench.metrics.scoring import BoundMetric
from promptbench.render import Renderer
from promptbench.suite.metricspec import MetricScope, parse_metric
from promptbench.suite.yamlpos import load_yaml
from promptbench.types import Case, Completion, MetricSpec, Score


def bind(kind: str, params: Mapping[str, Any] | None = None) -> BoundMetric:
    raw = dict(params or {})
    return BoundMetric(MetricSpec(kind, kind, raw, threshold=raw.get("threshold")), Renderer())


def score(
    kind: str,
    params: Mapping[str, Any] | None,
    output: str,
    case: Case | None = None,
    *,
    completion: Completion | None = None,
    cost: float | None = None,
) -> Score:
    """Bind ``kind`` with ``params`` (templates rendered per case) and score ``output``."""
    sample = Sample(case or Case("c1", {}), output, completion or Completion(output), cost=cost)
    return asyncio.run(bind(kind, params).score(sample))


def verdict(s: Score) -> tuple[float | None, bool | None, str]:
    """Value, pass, reason of a score that is not an error."""
    assert s.error is None, s.error
    return s.value, s.passed, s.reason


def parse(yaml_text: str, base_dir: Path | None = None) -> tuple[MetricSpec | None, list[str]]:
    """Parse the first metric entry of ``yaml_text`` as a suite would; the issues as text."""
    src = load_yaml(yaml_text, "suite.yaml")
    issues: list[Issue] = []
    spec = parse_metric(src.data[0], src, (0,), issues, MetricScope(set(), base_dir))
    return spec, [str(i) for i in issues]
