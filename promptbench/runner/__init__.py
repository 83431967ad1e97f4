"""The engine that makes the calls; it never touches the terminal."""

from promptbench.runner.engine import Runner
from promptbench.runner.observer import BaseObserver, Observer, Observers
from promptbench.runner.options import RunOptions
from promptbench.runner.runmeta import RunMeta, read_meta
from promptbench.runner.selection import WorkItem
from promptbench.runner.store import RunInfo, iter_records

__all__ = [
    "BaseObserver",
    "Observer",
    "Observers",
    "RunInfo",
    "RunMeta",
    "RunOptions",
    "Runner",
    "WorkItem",
    "iter_records",
    "read_meta",
]
