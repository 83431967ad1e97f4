"""``python: checks.py:my_metric``: a user's own function as a metric.

The file is named relative to the suite and imported once per process. The
function takes any of these parameters, by name: ``output``, ``expected``,
``vars``, ``metadata``, ``case``, ``completion``, ``sample``, ``args`` (the
suite's ``args`` mapping); it may be async. It returns a bool, a float in [0, 1],
a ``(value, reason)`` pair, a mapping ``{score, passed, reason}``, or a
:class:`promptbench.types.Score`. An exception is an error verdict, never a fail.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, model_validator

from promptbench.config import MetricParams
from promptbench.metrics.base import Sample, metric
from promptbench.types import Score

ARGUMENTS = ("output", "expected", "vars", "metadata", "case", "completion", "sample", "args")

_modules: dict[str, ModuleType] = {}
_lock = threading.Lock()


class PythonParams(MetricParams):
    """Parameters of ``python``."""

    shorthand = "ref"
    path_fields = ("file",)
    runs_user_code = True

    file: str = Field(description="the Python file, relative to the suite")
    function: str = Field(description="the function's name in it")
    args: dict[str, Any] = Field(default_factory=dict, description="passed as the 'args' argument")

    @model_validator(mode="before")
    @classmethod
    def _split_ref(cls, data: Any) -> Any:
        # "checks.py:my_metric" is the short way to write file and function.
        if isinstance(data, dict) and "ref" in data:
            ref = data["ref"]
            rest = {k: v for k, v in data.items() if k != "ref"}
            if not isinstance(ref, str) or ":" not in ref:
                raise ValueError("write the function as file.py:function_name")
            file, _, function = ref.rpartition(":")
            return {**rest, "file": file, "function": function}
        return data

    def check(self) -> str | None:
        """Import the file and find the function now, so a mistake stops the suite loading."""
        try:
            load_function(Path(self.file), self.function)
        except (ImportError, AttributeError, TypeError, SyntaxError) as exc:
            return str(exc)
        return None


def import_file(path: Path) -> ModuleType:
    """Import the user's file ``path`` once per version of it, writing no ``__pycache__``."""
    # The file's size and mtime are in the key: `run --watch` loads the suite again in
    # the same process after an edit, and must score with the edited function.
    stat = path.stat() if path.is_file() else None
    key = f"{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}" if stat else str(path.resolve())
    with _lock:
        module = _modules.get(key)
        if module is None:
            module_name = f"promptbench_user_{abs(hash(key)):x}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{path}: cannot be imported as Python")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            # No __pycache__ left in the user's project: validating a suite writes nothing.
            writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[module_name]
                raise ImportError(
                    f"{path.name}: importing it raised {type(exc).__name__}: {exc}"
                ) from None
            finally:
                sys.dont_write_bytecode = writes_bytecode
            _modules[key] = module
    return module


def user_function(path: Path, name: str) -> Callable[..., Any]:
    """The function ``name`` of the user's file ``path``, whatever its parameters."""
    module = import_file(path)
    fn = getattr(module, name, None)
    if fn is None:
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        hint = f"; it has: {', '.join(public)}" if public else ""
        raise AttributeError(f"{path.name} has no function '{name}'{hint}")
    if not callable(fn):
        raise TypeError(f"{path.name}: '{name}' is not a function")
    return fn  # type: ignore[no-any-return]


def load_function(path: Path, name: str) -> Callable[..., Any]:
    """Import ``path`` (once) and return its metric function ``name``."""
    fn = user_function(path, name)
    unknown = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and p.name not in ARGUMENTS
        and p.default is p.empty
    ]
    if unknown:
        raise TypeError(
            f"{path.name}:{name} takes '{unknown[0]}', which promptbench cannot give; "
            f"use any of: {', '.join(ARGUMENTS)}"
        )
    return fn


def _arguments(fn: Callable[..., Any], sample: Sample, params: PythonParams) -> dict[str, Any]:
    available = {
        "output": sample.output,
        "expected": sample.case.expected,
        "vars": dict(sample.case.vars),
        "metadata": dict(sample.case.metadata),
        "case": sample.case,
        "completion": sample.completion,
        "sample": sample,
        "args": dict(params.args),
    }
    sig = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in sig.values()):
        return available
    return {name: available[name] for name in sig if name in available}


def to_score(result: Any) -> Any:
    """Turn the ways a user may answer into what the scorer understands."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        value, reason = result
        if isinstance(value, bool):
            return Score("python", float(value), value, reason)
        if isinstance(value, (int, float)):
            return Score("python", float(value), None, reason)
    if isinstance(result, dict):
        value = result.get("score", result.get("value"))
        passed = result.get("passed")
        if value is None and isinstance(passed, bool):
            value = float(passed)
        return Score(
            "python", None if value is None else float(value), passed, str(result.get("reason", ""))
        )
    return result


@metric(
    "python",
    params=PythonParams,
    summary="your own function: (output, expected, vars, ...) -> bool, float or Score",
    example="python: checks.py:mentions_ticket_id",
)
async def python(sample: Sample, params: PythonParams) -> Any:
    """Call the user's function with the arguments it names."""
    fn = load_function(Path(params.file), params.function)
    result = fn(**_arguments(fn, sample, params))
    if inspect.isawaitable(result):
        result = await result
    return to_score(result)
