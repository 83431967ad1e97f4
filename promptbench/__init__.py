"""promptbench: evaluate prompts across models from the command line."""

__version__ = "0.1.0"
