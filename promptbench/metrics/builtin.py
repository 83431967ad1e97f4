"""The built-in metrics; registered through the ``promptbench.metrics`` entry point."""

from promptbench.metrics import (
    canary,
    judge,
    operational,
    overlap,
    python_metric,
    semantic,
    string,
    structure,
    tools,
)

__all__ = [
    "canary",
    "judge",
    "operational",
    "overlap",
    "python_metric",
    "semantic",
    "string",
    "structure",
    "tools",
]
