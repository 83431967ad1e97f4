"""Suites: YAML in, a validated :class:`Suite` out, with errors that point at the line.

Its names are imported when first used (PEP 562): ``diff``, ``report`` and ``show`` read
stored runs through :mod:`.regression` and :mod:`.metricspec` and need no suite loader,
whose case readers, templates and metric registry are most of their start-up otherwise.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptbench.suite.loader import load_suite
    from promptbench.suite.model import Suite, Variant

_WHERE = {"Suite": "model", "Variant": "model", "load_suite": "loader"}

__all__ = ["Suite", "Variant", "load_suite"]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'promptbench.suite' has no attribute {name!r}")
    value = getattr(import_module(f"promptbench.suite.{where}"), name)
    globals()[name] = value
    return value
