"""Metrics: one protocol, one registry; built-ins register like plugins."""

from promptbench.metrics.base import Metric, MetricDef, Sample, ScoreLike, metric, metrics

__all__ = ["Metric", "MetricDef", "Sample", "ScoreLike", "metric", "metrics"]
