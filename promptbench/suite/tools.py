"""``tools:``, ``tool_choice``, ``tool_results`` and ``max_steps`` of a prompt variant.

Tools are OpenAI function schemas, written inline or kept in a JSON or YAML
file; each one's ``parameters`` must be a valid JSON Schema. A tool's result,
sent back so that the model can go on, is a template over the case's vars and
the call's ``args`` (plain text is a fixed result), a fixed JSON ``value``, or a
``python: file.py:function`` called with the call's arguments as keywords. The
loop goes on until the model answers without calling a tool, a tool without a
result is called, or ``max_steps`` model calls were made.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from promptbench.config import StrictModel
from promptbench.errors import Issue, RenderError, SuiteError
from promptbench.render import Renderer, Template
from promptbench.suite import paths
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import KeyPath, Located, load_yaml
from promptbench.types import ToolCall

DEFAULT_MAX_STEPS = 5
TOOL_CHOICES = ("auto", "none", "required")


class FunctionSpec(StrictModel):
    """An OpenAI function: its name, what it does, and its parameters' JSON Schema."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the function's name")
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="a JSON Schema of the arguments (an object)",
    )
    strict: bool | None = None


class ToolSpec(StrictModel):
    """``{type: function, function: {...}}``, as the OpenAI API takes it."""

    type: Literal["function"] = "function"
    function: FunctionSpec

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, data: Any) -> Any:
        # {name, description, parameters} is the function itself, without the wrapper.
        if isinstance(data, dict) and "function" not in data and "name" in data:
            return {"type": "function", "function": data}
        return data


class ToolResultSpec(StrictModel):
    """How a tool answers: a template, a fixed JSON value, or a Python function."""

    text: str | None = Field(default=None, description="a template over vars and args")
    value: Any = Field(default=None, description="a fixed JSON value")
    python: str | None = Field(default=None, description="file.py:function, called with the args")

    @model_validator(mode="after")
    def _one(self) -> ToolResultSpec:
        given = [k for k in ("text", "value", "python") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give one of text, value or python")
        if self.python is not None and ":" not in self.python:
            raise ValueError("write python: file.py:function_name")
        return self


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer to a call, produced on the runner's side of the loop."""

    tool: str
    template: Template | None = None
    function: Callable[..., Any] | None = None

    async def answer(self, call: ToolCall, context: Mapping[str, Any], *, where: str) -> str:
        """The text sent back as the tool message.

        A call the tool cannot take (bad JSON, arguments the function refuses) is
        answered with the error, as a real tool would: the model's fault is recorded,
        and the model may correct itself.
        """
        if call.arguments is None:
            return f"error: {call.parse_error}"
        if self.template is not None:
            ctx = {**context, "args": dict(call.arguments), "tool": call.name}
            try:
                return self.template.render(ctx, where=f"{where}, tool '{self.tool}'")
            except RenderError as exc:  # e.g. an argument the model left out
                return f"error: {exc.reason}"
        assert self.function is not None
        try:
            result = self.function(**call.arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            return f"error: {type(exc).__name__}: {exc}"
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


@dataclass(frozen=True)
class ToolSet:
    """A variant's tools, as sent, and how each answers."""

    tools: tuple[dict[str, Any], ...]
    choice: str | dict[str, Any] | None = None
    results: Mapping[str, ToolResult] = field(default_factory=dict)
    max_steps: int = DEFAULT_MAX_STEPS

    @property
    def names(self) -> list[str]:
        """The tools' names, in order."""
        return [t["function"]["name"] for t in self.tools]

    def params(self) -> dict[str, Any]:
        """The request fields (OpenAI's shape; other providers map them): tools, tool_choice."""
        out: dict[str, Any] = {"tools": [dict(t) for t in self.tools]}
        if self.choice is not None:
            out["tool_choice"] = self.choice
        return out


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a valid JSON Schema for a function's parameters, or None."""
    import jsonschema

    if not isinstance(schema, dict):
        return "parameters must be a JSON Schema object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in exc.path)
        at = f" at {where}" if where else ""
        return f"not a valid JSON Schema{at}: {exc.message}; fix the schema"
    if schema.get("type", "object") != "object":
        return "a function's parameters are a schema of type object; wrap them in properties"
    return None


@dataclass
class ToolsInput:
    """What a variant wrote about tools, before it is checked."""

    tools: Any
    choice: Any = None
    results: Mapping[str, Any] | None = None
    max_steps: int | None = None


def parse_tools(
    given: ToolsInput,
    src: Located,
    base: KeyPath,
    issues: list[Issue],
    *,
    base_dir: Path,
    renderer: Renderer,
    user_code: bool,
    load_function: Callable[[Path, str], Callable[..., Any]],
    track: Callable[[Path], None],
) -> ToolSet | None:
    """Check and build a variant's tools; problems are issues naming file:line."""
    count = len(issues)
    entries, tsrc, tbase = given.tools, src, (*base, "tools")
    if isinstance(entries, str):
        loaded = _tools_file(entries, src, tbase, issues, base_dir, track)
        if loaded is None:
            return None
        tsrc, entries = loaded
        tbase = ("tools",) if isinstance(tsrc.data, dict) else ()
    if not isinstance(entries, list) or not entries:
        issues.append(tsrc.issue(tbase, "tools is a list of function schemas (or a file of one)"))
        return None
    tools: list[dict[str, Any]] = []
    declared: list[str] = []  # a tool with a bad schema is still declared: one error, not more
    for i, entry in enumerate(entries):
        spec = validate(ToolSpec, entry, tsrc, (*tbase, i), issues)
        if spec is None:
            continue
        declared.append(spec.function.name)
        where = (*tbase, i, "function", "parameters")
        if isinstance(entry, dict) and "function" not in entry:
            where = (*tbase, i, "parameters")
        problem = schema_problem(spec.function.parameters)
        if problem:
            issues.append(tsrc.issue(where, f"tool '{spec.function.name}': {problem}"))
            continue
        tools.append(spec.model_dump(exclude_none=True))
    names = [t["function"]["name"] for t in tools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        issues.append(tsrc.issue(tbase, f"two tools are named '{dupes[0]}'; names must differ"))
    choice = _choice(given.choice, declared, src, (*base, "tool_choice"), issues)
    results: dict[str, ToolResult] = {}
    for tool, raw in (given.results or {}).items():
        path = (*base, "tool_results", tool)
        if tool not in declared:
            issues.append(
                src.issue(
                    path,
                    f"no tool named '{tool}'; " + suggest(str(tool), declared),
                    prefer_key=True,
                )
            )
            continue
        result = _result(tool, raw, src, path, issues, base_dir, renderer, user_code, load_function)
        if result is not None:
            results[tool] = result
    if len(issues) > count:
        return None
    return ToolSet(tuple(tools), choice, results, given.max_steps or DEFAULT_MAX_STEPS)


def _tools_file(
    name: str,
    src: Located,
    path: KeyPath,
    issues: list[Issue],
    base_dir: Path,
    track: Callable[[Path], None],
) -> tuple[Located, Any] | None:
    found = paths.resolve(name, base_dir)
    if found is None or not found.is_file():
        issues.append(
            src.issue(path, f"tools file '{name}' not found; paths are relative to the suite")
        )
        return None
    track(found)
    shown = paths.display(found)
    try:
        text = found.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(src.issue(path, f"tools file '{name}': cannot read ({exc})"))
        return None
    try:
        loaded = load_yaml(text, shown)  # JSON is YAML: one reader, with positions, for both
    except SuiteError as exc:
        issues.extend(exc.issues)
        return None
    data = loaded.data
    if isinstance(data, dict) and isinstance(data.get("tools"), list):
        return loaded, data["tools"]
    return loaded, data


def _choice(
    value: Any, names: list[str], src: Located, path: KeyPath, issues: list[Issue]
) -> str | dict[str, Any] | None:
    if value is None:
        return None
    name: Any = None
    if isinstance(value, str):
        if value in TOOL_CHOICES:
            return value
        name = value
    elif isinstance(value, dict):
        function = value.get("function")
        name = function.get("name") if isinstance(function, dict) else value.get("name")
    if not isinstance(name, str) or name not in names:
        issues.append(
            src.issue(
                path,
                f"tool_choice is auto, none, required or a tool's name; '{name or value}' is "
                "none of them" + (f" ({suggest(str(name), names)})" if names and name else ""),
            )
        )
        return None
    return {"type": "function", "function": {"name": name}}


def _result(
    tool: str,
    raw: Any,
    src: Located,
    path: KeyPath,
    issues: list[Issue],
    base_dir: Path,
    renderer: Renderer,
    user_code: bool,
    load_function: Callable[[Path, str], Callable[..., Any]],
) -> ToolResult | None:
    spec = validate(
        ToolResultSpec, {"text": raw} if isinstance(raw, str) else raw, src, path, issues
    )
    if spec is None:
        return None
    origin = f"tool_results.{tool}"
    if spec.text is not None:
        try:
            return ToolResult(tool, template=renderer.from_string(spec.text, origin))
        except Exception as exc:  # a RenderError: bad template syntax
            issues.append(src.issue(path, str(exc)))
            return None
    if spec.value is not None:
        fixed = json.dumps(spec.value, ensure_ascii=False)
        return ToolResult(tool, template=Template(fixed, origin, None))  # never rendered
    assert spec.python is not None
    if not user_code:
        issues.append(
            src.issue(
                path,
                "a python tool result runs code from the suite's files, which "
                "--no-user-code forbids",
            )
        )
        return None
    file, _, function = spec.python.rpartition(":")
    found = paths.resolve(file, base_dir)
    if found is None or not found.is_file():
        issues.append(src.issue(path, f"file '{file}' not found; paths are relative to the suite"))
        return None
    allowed = [d.resolve() for d in paths.search_dirs(base_dir)]
    if not any(found.resolve().is_relative_to(d) for d in allowed):
        issues.append(src.issue(path, f"'{file}' is outside the suite's directory"))
        return None
    try:
        fn = load_function(found, function)
    except (ImportError, AttributeError, TypeError, SyntaxError) as exc:
        issues.append(src.issue(path, str(exc)))
        return None
    return ToolResult(tool, function=fn)
