"""String metrics: exact, contains, icontains, regex."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from promptbench.config import MetricParams
from promptbench.metrics.base import Sample, metric
from promptbench.types import Score

Normalizer = Literal["strip", "lower", "collapse_whitespace", "strip_punctuation"]
_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize(text: str, steps: list[Normalizer]) -> str:
    """Apply normalisation steps in order."""
    for step in steps:
        if step == "strip":
            text = text.strip()
        elif step == "lower":
            text = text.lower()
        elif step == "collapse_whitespace":
            text = _WS.sub(" ", text).strip()
        elif step == "strip_punctuation":
            text = _PUNCT.sub("", text)
    return text


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


class ExactParams(MetricParams):
    """Parameters of ``exact``."""

    shorthand = "expected"

    expected: Any = Field(
        default="{{ expected }}", description="the text to equal; default: the case's expected"
    )
    normalize: list[Normalizer] = Field(
        default_factory=lambda: list[Normalizer](["strip"]),
        description="steps applied to both sides: strip, lower, collapse_whitespace, "
        "strip_punctuation",
    )


@metric(
    "exact",
    params=ExactParams,
    summary="output equals the expected text (after normalisation)",
    example='exact: {expected: "{{ label }}", normalize: [strip, lower]}',
)
def exact(sample: Sample, params: ExactParams) -> Score:
    """Output equals the expected text after normalisation."""
    want = normalize(str(params.expected), params.normalize)
    got = normalize(sample.output, params.normalize)
    ok = got == want
    reason = "matches" if ok else f"expected {_short(want)}, got {_short(got)}"
    return Score("exact", 1.0 if ok else 0.0, ok, reason)


class ContainsParams(MetricParams):
    """Parameters of ``contains`` and ``icontains``."""

    shorthand = "value"

    value: str = Field(description="the text the output must contain")

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_to_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


@metric(
    "contains",
    params=ContainsParams,
    summary="output contains the text (case-sensitive)",
    example='contains: "{{ city }}"',
)
def contains(sample: Sample, params: ContainsParams) -> Score:
    """Output contains the text, case-sensitively."""
    ok = params.value in sample.output
    reason = f"{'found' if ok else 'missing'} {_short(params.value)}"
    return Score("contains", float(ok), ok, reason)


@metric(
    "icontains",
    params=ContainsParams,
    summary="output contains the text, ignoring case",
    example="icontains: refund",
)
def icontains(sample: Sample, params: ContainsParams) -> Score:
    """Output contains the text, ignoring case."""
    ok = params.value.casefold() in sample.output.casefold()
    return Score(
        "icontains", float(ok), ok, f"{'found' if ok else 'missing'} {_short(params.value)}"
    )


RegexFlag = Literal["ignorecase", "multiline", "dotall"]
_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}


class RegexParams(MetricParams):
    """Parameters of ``regex``."""

    shorthand = "pattern"

    pattern: str = Field(description="a Python regular expression, searched in the output")
    flags: list[RegexFlag] = Field(
        default_factory=list, description="any of ignorecase, multiline, dotall"
    )
    full_match: bool = Field(default=False, description="the whole output must match")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return v


@metric(
    "regex",
    params=RegexParams,
    summary="output matches a regular expression",
    example=r'regex: {pattern: "^\d{4}-\d{2}-\d{2}$", flags: [multiline]}',
)
def regex(sample: Sample, params: RegexParams) -> Score:
    """Output matches the pattern."""
    flags = 0
    for f in params.flags:
        flags |= _FLAGS[f]
    rx = re.compile(params.pattern, flags)
    found = rx.fullmatch(sample.output) if params.full_match else rx.search(sample.output)
    ok = found is not None
    reason = f"matched {_short(found.group(0))}" if found else f"no match for /{params.pattern}/"
    return Score("regex", float(ok), ok, reason)
