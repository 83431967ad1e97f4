"""Structure metrics: json_valid."""

from __future__ import annotations

import json
import re

from pydantic import Field

from promptbench.config import MetricParams
from promptbench.metrics.base import Sample, metric
from promptbench.types import Score

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def strip_fence(text: str) -> str:
    """Remove one Markdown code fence around the whole text, as chat models often add."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _not_json(name: str) -> None:
    """Python's json accepts NaN and Infinity; JSON (RFC 8259) does not."""
    raise ValueError(f"{name} is not valid JSON")


class JsonValidParams(MetricParams):
    """Parameters of ``json_valid``."""

    allow_fence: bool = Field(default=True, description="accept JSON wrapped in one ```json fence")


@metric(
    "json_valid",
    params=JsonValidParams,
    summary="output parses as JSON",
    example="json_valid: {allow_fence: false}",
)
def json_valid(sample: Sample, params: JsonValidParams) -> Score:
    """Output parses as JSON."""
    text = strip_fence(sample.output) if params.allow_fence else sample.output
    try:
        json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        return Score("json_valid", 0.0, False, f"not JSON: {exc}")
    return Score("json_valid", 1.0, True, "valid JSON")
