"""Numbers about runs: summaries, gates, and (later) paired comparisons. No terminal code."""

from promptbench.stats.gate import GateCheck, Outcome, Verdict, judge
from promptbench.stats.summary import GroupSummary, MetricStats, Summary

__all__ = ["GateCheck", "GroupSummary", "MetricStats", "Outcome", "Summary", "Verdict", "judge"]
