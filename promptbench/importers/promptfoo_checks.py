"""promptfoo's checks that no built-in promptbench metric does exactly, as python: metrics.

`promptbench import promptfoo` writes this file beside the suite it imports, and the
suite's ``python:`` metrics call its functions with the assertion in ``args``. Each
function grades as promptfoo 0.121 does; edit freely.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_loaded: dict[str, Any] = {}


def _grade(result: Any, threshold: float | None) -> dict[str, Any]:
    """Promptfoo's reading of a script's answer, as a promptbench score.

    A bool passes or fails; a number is a score that passes above 0, or at the
    threshold when one is set; a {pass, score, reason} mapping is taken as it is
    (failing below the threshold); the strings "true"/"false" and JSON text count
    as what they spell.
    """
    if isinstance(result, str):
        text = result.strip()
        if text.lower() in ("true", "false"):
            result = text.lower() == "true"
        elif text.startswith("{"):
            result = json.loads(text)
        else:
            result = float(text)
    if isinstance(result, bool):
        return {"score": float(result), "passed": result, "reason": f"returned {result}"}
    if isinstance(result, (int, float)):
        passed = result > 0 if threshold is None else result >= threshold
        return {"score": min(max(float(result), 0.0), 1.0), "passed": passed, "reason": f"{result}"}
    if isinstance(result, dict):
        passed = bool(result.get("pass", result.get("pass_", False)))
        score = float(result.get("score", 1.0 if passed else 0.0))
        if threshold is not None and score < threshold:
            passed = False
        reason = str(result.get("reason", ""))
        return {"score": min(max(score, 0.0), 1.0), "passed": passed, "reason": reason}
    raise TypeError(f"a check returned {type(result).__name__}; return a bool, a number or a dict")


def _function(args: dict[str, Any]) -> Callable[..., Any]:
    """The assertion's function: a file's function, or inline code made into one."""
    if "file" in args:
        path = (_HERE / str(args["file"])).resolve()
        if not (path.is_relative_to(_HERE) or path.is_relative_to(_HERE.parent)):
            # As for promptbench's own python: metrics, code loads from the suite's
            # directory or the project directory above it, never from elsewhere.
            raise ImportError(f"{path} is outside the suite's directory and the one above it")
        key = f"{path}:{args.get('function', 'get_assert')}"
        if key not in _loaded:
            spec = importlib.util.spec_from_file_location(f"promptfoo_check_{len(_loaded)}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{path}: cannot be imported")
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.parent))  # its own imports resolve beside it
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(path.parent))
            _loaded[key] = getattr(module, str(args.get("function", "get_assert")))
        return _loaded[key]  # type: ignore[no-any-return]
    code = str(args["code"])
    if code not in _loaded:
        # As promptfoo does: one line is an expression; several are a function's body.
        if "\n" in code.strip():
            body = "\n".join("    " + line for line in code.split("\n"))
        else:
            body = f"    return {code.strip()}"
        namespace: dict[str, Any] = {}
        exec(f"import json\n\ndef main(output, context):\n{body}\n", namespace)
        _loaded[code] = namespace["main"]
    return _loaded[code]  # type: ignore[no-any-return]


def python_assertion(output: str, vars: dict[str, Any], sample: Any, args: dict[str, Any]) -> Any:
    """A promptfoo ``python`` assertion: ``fn(output, context)``, graded as promptfoo grades."""
    prompt = "\n".join(m.content for m in getattr(sample, "prompt", ()))
    context = {
        "vars": vars,
        "prompt": prompt,
        "test": {"vars": vars, "metadata": dict(getattr(sample.case, "metadata", {}))},
        "config": args.get("config") or {},
    }
    return _grade(_function(args)(output, context), args.get("threshold"))


def _json_values(text: str) -> list[Any]:
    """Every JSON object or array found in the text, as promptfoo's contains-json looks."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except ValueError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found


def contains_json(output: str, args: dict[str, Any]) -> Any:
    """Promptfoo's ``contains-json``: some JSON value in the text (that fits the schema)."""
    values = _json_values(output)
    schema = args.get("schema")
    if schema is None:
        return bool(values), f"{len(values)} JSON value(s) found"
    import jsonschema

    for value in values:
        if jsonschema.Draft202012Validator(schema).is_valid(value):
            return True, "JSON fitting the schema found"
    return False, "no JSON value fits the schema" if values else "no JSON found"


def equals_json(output: str, args: dict[str, Any]) -> Any:
    """Promptfoo's ``equals`` with an object or list: the output parses to an equal value."""
    try:
        value = json.loads(output)
    except ValueError:
        return False, "the output is not JSON"
    return value == args["value"], "equal" if value == args["value"] else "different JSON"
