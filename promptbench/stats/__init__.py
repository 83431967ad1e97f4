"""Numbers about runs: summaries, gates, paired comparisons, power. No terminal code."""

from promptbench.stats.gate import GateCheck, GateVerdict, RunOutcome, gate_verdict, run_verdict
from promptbench.stats.summary import GroupSummary, MetricStats, Summary

__all__ = [
    "GateCheck",
    "GateVerdict",
    "GroupSummary",
    "MetricStats",
    "RunOutcome",
    "Summary",
    "gate_verdict",
    "run_verdict",
]
