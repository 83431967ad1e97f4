"""promptbench: evaluate prompts across models from the command line.

From Python (a notebook, a script)::

    import promptbench

    result = promptbench.run_suite("suites/quickstart.yaml", limit=5)
    df = promptbench.load_run(result.info.run_id)
    diff = promptbench.compare(result.info.run_id, variants=("bare", "guided"))
"""

import typing as _typing

from promptbench._version import __version__

__all__ = ["RunResult", "__version__", "compare", "load_run", "run_suite"]

if _typing.TYPE_CHECKING:
    from promptbench.api import RunResult, run_suite
    from promptbench.diff.api import compare
    from promptbench.runs import load_run

# The public names and the module that defines each. They are imported on first use
# (PEP 562), so that `import promptbench` and `promptbench --help` stay fast.
_LAZY = {
    "RunResult": "promptbench.api",
    "run_suite": "promptbench.api",
    "load_run": "promptbench.runs",
    "compare": "promptbench.diff.api",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'promptbench' has no attribute '{name}'")
    import importlib

    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
