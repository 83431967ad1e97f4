"""Suites: YAML in, a validated :class:`Suite` out, with errors that point at the line."""

from promptbench.suite.loader import load_suite
from promptbench.suite.model import Suite, Variant

__all__ = ["Suite", "Variant", "load_suite"]
