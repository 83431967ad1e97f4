"""The built-in metrics; registered through the ``promptbench.metrics`` entry point."""

from promptbench.metrics import string, structure

__all__ = ["string", "structure"]
