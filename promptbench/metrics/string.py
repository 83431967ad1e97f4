"""String metrics.

exact, contains, icontains, regex; contains_any, contains_all, starts_with;
word_count and length (bounds on the output's size).
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

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


def _text(v: Any) -> Any:
    """A number where text is wanted is that text: ``value: 42`` means ``"42"``."""
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _texts(v: Any) -> Any:
    return [_text(x) for x in v] if isinstance(v, list) else v


def _quoted(items: list[str]) -> str:
    return ", ".join(_short(x, 30) for x in items)


class ValuesParams(MetricParams):
    """Parameters of ``contains_any`` and ``contains_all``."""

    shorthand = "values"

    values: list[str] = Field(min_length=1, description="the texts to look for")
    ignore_case: bool = Field(default=False, description="compare ignoring case")

    @field_validator("values", mode="before")
    @classmethod
    def _numbers_to_text(cls, v: Any) -> Any:
        return _texts(v)


def _found(sample: Sample, params: ValuesParams) -> tuple[list[str], list[str]]:
    """The values found in the output, and those missing, in the order given."""
    fold = str.casefold if params.ignore_case else str
    text = fold(sample.output)
    found = [v for v in params.values if fold(v) in text]
    missing = [v for v in params.values if fold(v) not in text]
    return found, missing


@metric(
    "contains_any",
    params=ValuesParams,
    summary="output contains at least one of the texts",
    example="contains_any: {values: [refund, credit], ignore_case: true}",
)
def contains_any(sample: Sample, params: ValuesParams) -> Score:
    """Output contains at least one of the values: 1 or 0."""
    found, _ = _found(sample, params)
    if found:
        return Score("contains_any", 1.0, True, f"found {_quoted(found)}")
    return Score("contains_any", 0.0, False, f"none of {_quoted(params.values)}")


@metric(
    "contains_all",
    params=ValuesParams,
    summary="output contains every one of the texts (score: the share found)",
    example='contains_all: [refund, "{{ order_id }}"]',
)
def contains_all(sample: Sample, params: ValuesParams) -> Score:
    """Output contains every value.

    The score is the share of values found, so a mean over cases shows partial
    coverage; with the default threshold of 1 the metric passes only when all are.
    """
    found, missing = _found(sample, params)
    value = len(found) / len(params.values)
    if not missing:
        return Score("contains_all", value, None, f"found all {len(found)}")
    reason = f"missing {_quoted(missing)} ({len(found)} of {len(params.values)} found)"
    return Score("contains_all", value, None, reason)


class StartsWithParams(MetricParams):
    """Parameters of ``starts_with``."""

    shorthand = "value"

    value: str = Field(min_length=1, description="the text the output must begin with")
    ignore_case: bool = Field(default=False, description="compare ignoring case")
    strip: bool = Field(
        default=True, description="ignore whitespace before the output's first character"
    )

    @field_validator("value", mode="before")
    @classmethod
    def _number_to_text(cls, v: Any) -> Any:
        return _text(v)


@metric(
    "starts_with",
    params=StartsWithParams,
    summary="output begins with the text",
    example='starts_with: {value: "Answer:", ignore_case: true}',
)
def starts_with(sample: Sample, params: StartsWithParams) -> Score:
    """Output begins with the value (leading whitespace ignored unless ``strip: false``)."""
    text = sample.output.lstrip() if params.strip else sample.output
    want = params.value
    if params.ignore_case:
        ok = text.casefold().startswith(want.casefold())
    else:
        ok = text.startswith(want)
    if ok:
        return Score("starts_with", 1.0, True, f"starts with {_short(want)}")
    return Score("starts_with", 0.0, False, f"starts with {_short(text[: len(want) + 10])}")


class BoundsParams(MetricParams):
    """Parameters of ``word_count`` and ``length``: inclusive bounds, at least one."""

    min: int | None = Field(default=None, ge=0, description="at least this many (inclusive)")
    max: int | None = Field(default=None, ge=0, description="at most this many (inclusive)")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


def _within(name: str, count: int, unit: str, params: BoundsParams) -> Score:
    what = f"{count} {unit}{'' if count == 1 else 's'}"
    if params.min is not None and count < params.min:
        return Score(name, 0.0, False, f"{what}; at least {params.min} wanted")
    if params.max is not None and count > params.max:
        return Score(name, 0.0, False, f"{what}; at most {params.max} wanted")
    return Score(name, 1.0, True, what)


@metric(
    "word_count",
    params=BoundsParams,
    summary="the output's word count (whitespace-separated) is within bounds",
    example="word_count: {min: 1, max: 50}",
)
def word_count(sample: Sample, params: BoundsParams) -> Score:
    """Number of whitespace-separated words within [min, max]."""
    return _within("word_count", len(sample.output.split()), "word", params)


@metric(
    "length",
    params=BoundsParams,
    summary="the output's length in characters is within bounds",
    example="length: {max: 280}",
)
def length(sample: Sample, params: BoundsParams) -> Score:
    """Number of characters (Unicode code points, whitespace included) within [min, max]."""
    return _within("length", len(sample.output), "character", params)
