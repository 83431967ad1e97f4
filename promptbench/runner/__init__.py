"""The engine that makes the calls; it never touches the terminal.

Its names are imported when first used (PEP 562): ``promptbench runs`` and ``show``
read ``run.json`` through :mod:`.runmeta` without loading the engine, its providers
and its HTTP clients, which is most of their start-up otherwise.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptbench.runner.engine import Runner
    from promptbench.runner.observer import BaseObserver, Observer, Observers
    from promptbench.runner.options import RunOptions
    from promptbench.runner.runmeta import RunMeta, read_meta
    from promptbench.runner.selection import WorkItem
    from promptbench.runner.store import RunInfo, iter_records

_WHERE = {
    "BaseObserver": "observer",
    "Observer": "observer",
    "Observers": "observer",
    "RunInfo": "store",
    "RunMeta": "runmeta",
    "RunOptions": "options",
    "Runner": "engine",
    "WorkItem": "selection",
    "iter_records": "store",
    "read_meta": "runmeta",
}

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


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'promptbench.runner' has no attribute {name!r}")
    value = getattr(import_module(f"promptbench.runner.{where}"), name)
    globals()[name] = value
    return value
