"""The shape of a suite file, as pydantic models that forbid unknown keys.

Entries whose shape depends on a registry (a model's fields depend on its
provider; a metric's parameters on the metric) are kept raw here and validated
by the loader against the class that provider or metric registered.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from promptbench.config import StrictModel


class SuiteFile(StrictModel):
    """A suite: prompt variants x models x cases, scored by metrics, gated for CI."""

    name: str = Field(min_length=1, description="the suite's name in tables and runs")
    description: str = ""
    prompts: dict[str, Any] = Field(min_length=1, description="the variants, by name")
    models: dict[str, dict[str, Any]] = Field(min_length=1, description="the models, by name")
    cases: str | list[Any] = Field(description="a list of cases, or a CSV/JSONL/JSON/YAML file")
    metrics: list[Any] = Field(default_factory=list)
    gate: dict[str, Any] = Field(default_factory=dict)
    repeat: int = Field(default=1, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=1024)
    max_error_rate: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="above this share of failed calls the run gives no verdict (exit 3)",
    )

    @field_validator("prompts", "models")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"names must be non-empty strings, got {name!r}")
        return v


class VariantSpec(StrictModel):
    """A prompt variant written as a mapping: a template, or chat messages."""

    file: str | None = Field(default=None, description="a template file")
    template: str | None = Field(default=None, description="an inline template")
    system: str | None = Field(default=None, description="the system message (text or file)")
    messages: list[dict[str, str]] | None = Field(
        default=None, description="turns such as few-shot examples: [{user: ..}, {assistant: ..}]"
    )
    user: str | None = Field(default=None, description="the final user message (text or file)")
    metrics: list[Any] | None = Field(default=None, description="metrics for this variant only")


class CaseRow(StrictModel):
    """A case written with an explicit ``vars`` mapping."""

    id: str | int | None = None
    vars: dict[str, Any]
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    metrics: list[Any] = Field(default_factory=list)
