"""Tool-call metrics: tool_called, no_tool_call, tool_args, tool_calls_match.

They score the calls of the scored turn (the last, unless ``turn:`` says), across
every step of the tool loop. Arguments that are not valid JSON are the model's
fault: a check of them fails, with the raw text in the reason; nothing crashes.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from promptbench.config import MetricParams, StrictModel
from promptbench.metrics.base import Sample, metric
from promptbench.metrics.structure import (
    JsonFieldParams,
    json_field,
    parse_path,
    schema_file_problem,
    schema_validator,
)
from promptbench.types import Score, ToolCall


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _calls(sample: Sample, tool: str | None) -> list[ToolCall]:
    return [c for c in sample.tool_calls if tool is None or c.name == tool]


def _names(sample: Sample) -> str:
    return ", ".join(c.name for c in sample.tool_calls) or "none"


# --------------------------------------------------------------------------- tool_called


class ToolCalledParams(MetricParams):
    """Parameters of ``tool_called``."""

    shorthand = "tool"

    tool: str = Field(description="the tool that must be called")
    times: int | None = Field(default=None, ge=0, description="exactly this many times")
    min: int | None = Field(default=None, ge=0, description="at least this many times")
    max: int | None = Field(default=None, ge=0, description="at most this many times")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.times is not None and (self.min is not None or self.max is not None):
            raise ValueError("give times, or min and/or max, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


@metric(
    "tool_called",
    params=ToolCalledParams,
    summary="the model called the tool (at least once, or times / min / max)",
    example="tool_called: {tool: get_weather, times: 1}",
)
def tool_called(sample: Sample, params: ToolCalledParams) -> Score:
    """The tool was called as often as asked."""
    n = len(_calls(sample, params.tool))
    high: int | None
    if params.times is not None:
        low = high = params.times
    else:
        low = params.min if params.min is not None else 1
        high = params.max
    ok = n >= low and (high is None or n <= high)
    said = f"called {params.tool} {n} time{'' if n == 1 else 's'}"
    if not ok:
        want = f"{low}" if low == high else f"at least {low}" if high is None else f"{low}-{high}"
        said += f", expected {want} (calls: {_names(sample)})"
    return Score("tool_called", float(ok), ok, said)


# --------------------------------------------------------------------------- no_tool_call


class NoToolCallParams(MetricParams):
    """Parameters of ``no_tool_call``."""

    shorthand = "tool"

    tool: str | None = Field(default=None, description="only this tool (default: any)")


@metric(
    "no_tool_call",
    params=NoToolCallParams,
    summary="the model called no tool (or not the one named)",
    example="no_tool_call: {tool: delete_account}",
)
def no_tool_call(sample: Sample, params: NoToolCallParams) -> Score:
    """No call (to the tool)."""
    calls = _calls(sample, params.tool)
    ok = not calls
    what = params.tool or "any tool"
    reason = f"no call to {what}" if ok else f"called {', '.join(c.name for c in calls)}"
    return Score("no_tool_call", float(ok), ok, reason)


# --------------------------------------------------------------------------- tool_args


with warnings.catch_warnings():
    # ``schema`` shadows pydantic's deprecated BaseModel.schema(), as in json_schema.
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class ToolArgsParams(MetricParams):
        """Parameters of ``tool_args``: a JSON Schema, or a path with one check."""

        path_fields = ("schema",)

        tool: str | None = Field(default=None, description="the tool (default: every call)")
        schema: dict[str, Any] | str | None = Field(  # type: ignore[assignment]  # as json_schema's
            default=None,
            description="a JSON Schema the arguments validate against (inline, or a file)",
        )
        path: str | None = Field(default=None, description="an argument: city, items[0].sku")
        equals: Any = Field(default=None, description="the argument equals this")
        contains: Any = Field(default=None, description="the argument contains this")
        matches: str | None = Field(default=None, description="the argument matches this regex")
        exists: bool | None = Field(default=None, description="the argument is present (or absent)")
        ignore_case: bool = False

        @field_validator("path")
        @classmethod
        def _readable(cls, v: str | None) -> str | None:
            if v is not None:
                parse_path(v)
            return v

        @model_validator(mode="after")
        def _what(self) -> Self:
            checks = [
                k
                for k in ("equals", "contains", "matches", "exists")
                if getattr(self, k) is not None
            ]
            if self.schema is not None:
                if self.path is not None or checks:
                    raise ValueError("give schema, or path with a check, not both")
                if isinstance(self.schema, dict):
                    schema_validator(self.schema)
            elif self.path is None or len(checks) != 1:
                raise ValueError(
                    "give schema, or path and exactly one of equals, contains, matches, exists"
                )
            return self

        def check(self) -> str | None:
            """A schema file is read and checked once, when the suite loads."""
            return schema_file_problem(self.schema)


@metric(
    "tool_args",
    params=ToolArgsParams,
    summary="every call's arguments fit a JSON Schema, or an argument equals / contains / "
    "matches a value",
    example='tool_args: {tool: get_weather, path: city, equals: "{{ city }}"}',
)
def tool_args(sample: Sample, params: ToolArgsParams) -> Score:
    """Check the arguments of every call (to the tool); the first failure is the reason."""
    calls = _calls(sample, params.tool)
    if not calls:
        return Score("tool_args", 0.0, False, f"no call to {params.tool or 'any tool'}")
    for i, call in enumerate(calls, 1):
        label = f"call {i} ({call.name})" if len(calls) > 1 else call.name
        if call.arguments is None:
            return Score(
                "tool_args",
                0.0,
                False,
                f"{label}: {call.parse_error}: {_short(call.raw_arguments)}",
            )
        if params.schema is not None:
            from jsonschema.exceptions import best_match

            errors = list(schema_validator(params.schema).iter_errors(dict(call.arguments)))
            if errors:
                first = best_match(errors)
                assert first is not None
                return Score(
                    "tool_args", 0.0, False, f"{label}: {first.json_path}: {first.message}"
                )
            continue
        field = JsonFieldParams(
            path=params.path or "",
            equals=params.equals,
            contains=params.contains,
            matches=params.matches,
            exists=params.exists,
            ignore_case=params.ignore_case,
            allow_fence=False,
        )
        score = json_field(replace(sample, output=call.raw_arguments), field)
        if not score.passed:
            return Score("tool_args", 0.0, False, f"{label}: {score.reason}")
    n = len(calls)
    return Score("tool_args", 1.0, True, f"{n} call{'' if n == 1 else 's'} fit")


# --------------------------------------------------------------------------- tool_calls_match


class ExpectedCall(StrictModel):
    """A call the model should make: the tool, and (some of) its arguments."""

    name: str
    arguments: dict[str, Any] | None = Field(
        default=None, description="arguments it must have (others may be there too)"
    )


class ToolCallsMatchParams(MetricParams):
    """Parameters of ``tool_calls_match``."""

    shorthand = "expected"

    expected: list[ExpectedCall] = Field(description="the calls, [{name, arguments}]")
    order: Literal["set", "sequence"] = Field(
        default="set", description="set: in any order; sequence: in this order"
    )
    exact_arguments: bool = Field(
        default=False, description="arguments must be exactly these (not just include them)"
    )


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, str) != isinstance(b, str):  # templated expectations render to text
        return json.dumps(a, ensure_ascii=False).strip('"') == json.dumps(
            b, ensure_ascii=False
        ).strip('"')
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _fits(call: ToolCall, want: ExpectedCall, exact: bool) -> bool:
    if call.name != want.name:
        return False
    if want.arguments is None:
        return True
    if call.arguments is None:
        return False
    got = dict(call.arguments)
    if exact and set(got) != set(want.arguments):
        return False
    return all(k in got and _same_value(got[k], v) for k, v in want.arguments.items())


def _matched_set(calls: list[ToolCall], wanted: list[ExpectedCall], exact: bool) -> int:
    # Maximum bipartite matching: a call fits several expectations, each counts once.
    owner: dict[int, int] = {}

    def place(w: int, seen: set[int]) -> bool:
        for c, call in enumerate(calls):
            if c in seen or not _fits(call, wanted[w], exact):
                continue
            seen.add(c)
            if c not in owner or place(owner[c], seen):
                owner[c] = w
                return True
        return False

    return sum(place(w, set()) for w in range(len(wanted)))


def _matched_sequence(calls: list[ToolCall], wanted: list[ExpectedCall], exact: bool) -> int:
    # The longest common subsequence: calls in the expected order.
    prev = [0] * (len(wanted) + 1)
    for call in calls:
        row = [0]
        for j, want in enumerate(wanted):
            row.append(prev[j] + 1 if _fits(call, want, exact) else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


@metric(
    "tool_calls_match",
    params=ToolCallsMatchParams,
    summary="the calls made match the expected ones, as a set or a sequence; the score is F1",
    example="tool_calls_match: {expected: [{name: get_weather, arguments: {city: Paris}}]}",
)
def tool_calls_match(sample: Sample, params: ToolCallsMatchParams) -> Score:
    """F1 of the calls made against the expected calls."""
    calls, wanted = list(sample.tool_calls), params.expected
    match = _matched_sequence if params.order == "sequence" else _matched_set
    hits = match(calls, wanted, params.exact_arguments)
    if not calls and not wanted:
        return Score("tool_calls_match", 1.0, None, "no calls, as expected")
    precision = hits / len(calls) if calls else 0.0
    recall = hits / len(wanted) if wanted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    reason = f"{hits} of {len(wanted)} expected calls matched among {len(calls)} made, F1 {f1:.2f}"
    bad = [c for c in calls if c.arguments is None]
    if bad:
        reason += f"; {bad[0].name}: {bad[0].parse_error}: {_short(bad[0].raw_arguments)}"
    return Score("tool_calls_match", f1, None, reason)
