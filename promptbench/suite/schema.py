"""The shape of a suite file, as pydantic models that forbid unknown keys.

Entries whose shape depends on a registry (a model's fields depend on its
provider; a metric's parameters on the metric) are kept raw here and validated
by the loader against the class that provider or metric registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from promptbench.config import StrictModel

# Characters W&B refuses in a project name.
_WANDB_PROJECT_FORBIDDEN = set("/\\#?%:")


def wandb_project_problem(name: str) -> str | None:
    """Why ``name`` cannot be a W&B project name, or None when it can."""
    if not name.strip():
        return "the W&B project name is empty"
    if len(name) > 128:
        return "a W&B project name has at most 128 characters"
    bad = sorted(set(name) & _WANDB_PROJECT_FORBIDDEN)
    if bad:
        return f"a W&B project name cannot contain {' '.join(bad)}"
    return None


class WandbSpec(StrictModel):
    """The suite's ``wandb:`` mapping: where ``promptbench run --wandb`` logs.

    It only configures; nothing is sent to W&B unless ``--wandb`` is given.
    """

    project: str | None = Field(default=None, description="the W&B project")
    entity: str | None = Field(default=None, description="the W&B team or user")
    group: str | None = Field(default=None, description="groups related runs in the W&B UI")
    tags: list[str] = Field(default_factory=list, description="tags, a list or a comma list")
    name: str | None = Field(default=None, description="the W&B run's display name")

    @field_validator("tags", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [t.strip() for t in v.split(",") if t.strip()]
        return v

    @field_validator("project")
    @classmethod
    def _project(cls, v: str | None) -> str | None:
        problem = None if v is None else wandb_project_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class DatasetSpec(StrictModel):
    """``cases:`` written as a mapping: a file or a hub dataset, and which columns mean what.

    Without ``vars``, every column but the id and expected ones is a var (flat rows);
    with it, exactly the columns it names, under the names it gives.
    """

    file: str | None = Field(default=None, description="a CSV/JSONL/JSON/YAML/Parquet file")
    hf: str | None = Field(
        default=None,
        description="a Hugging Face hub dataset (OWNER/NAME), or a local directory "
        "(saved with Dataset.save_to_disk, or holding Parquet/CSV/JSON files)",
    )
    subset: str | None = Field(default=None, description="the hub dataset's configuration")
    split: str | None = Field(default=None, description="the split (default: train)")
    revision: str | None = Field(default=None, description="a branch, tag or commit of the hub")
    limit: int | None = Field(default=None, ge=1, description="read only the first N rows")
    vars: dict[str, str] | list[str] | None = Field(
        default=None, description="template var -> column ({question: q}), or a list of columns"
    )
    id: str | None = Field(default=None, description="the column holding each case's id")
    expected: str | None = Field(default=None, description="the column holding the expected value")

    @field_validator("vars")
    @classmethod
    def _var_names(cls, v: dict[str, str] | list[str] | None) -> Any:
        names = v if isinstance(v, list) else list(v or {})
        for name in names:
            if not name.isidentifier():
                raise ValueError(
                    f"var name {name!r} cannot be used in a template; use letters, digits and _"
                )
            if name in ("id", "expected", "metadata", "metrics", "case_id"):
                raise ValueError(
                    f"'{name}' is not a var name (templates see it already); map the column "
                    f"with {'expected:' if name == 'expected' else 'id:'} or rename the var"
                    if name in ("id", "expected")
                    else f"'{name}' is reserved; give the var another name"
                )
        if isinstance(v, list) and len(set(v)) != len(v):
            raise ValueError("a column is listed twice")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.file is None) == (self.hf is None):
            raise ValueError("give either file: (a dataset file) or hf: (a hub dataset)")
        if self.file is not None:
            given = [k for k in ("subset", "split", "revision") if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{given[0]} applies to hf: datasets only; remove it")
        return self


def _cases_kind(value: Any) -> str | None:
    if isinstance(value, Mapping | DatasetSpec):
        return "DatasetSpec"
    if isinstance(value, list):
        return "list"
    return "str" if isinstance(value, str) else None


# A mapping is checked as a DatasetSpec only, so that its errors are not joined by
# "input should be a valid string or a valid list" from the other members.
CasesField = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[list[Any], Tag("list")]
    | Annotated[DatasetSpec, Tag("DatasetSpec")],
    Discriminator(
        _cases_kind,
        custom_error_type="cases_kind",
        custom_error_message="input should be a dataset file, a list of cases, or a mapping "
        "{file: ..} or {hf: ..}",
    ),
]


class SuiteFile(StrictModel):
    """A suite: prompt variants x models x cases, scored by metrics, gated for CI."""

    name: str = Field(min_length=1, description="the suite's name in tables and runs")
    description: str = ""
    prompts: dict[str, Any] = Field(min_length=1, description="the variants, by name")
    models: dict[str, dict[str, Any]] = Field(min_length=1, description="the models, by name")
    cases: CasesField = Field(
        description="a list of cases, a CSV/JSONL/JSON/YAML/Parquet file, or a mapping "
        "{file: ..} / {hf: OWNER/NAME} with column mapping"
    )
    metrics: list[Any] = Field(default_factory=list)
    gate: dict[str, Any] = Field(default_factory=dict)
    repeat: int = Field(default=1, ge=1, le=1000)
    concurrency: int = Field(default=8, ge=1, le=1024)
    threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="a case passes when its weighted mean score reaches this "
        "(default: when every metric passes)",
    )
    max_error_rate: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="above this share of failed calls the run gives no verdict (exit 3)",
    )
    wandb: WandbSpec | None = Field(
        default=None, description="where `promptbench run --wandb` logs (W&B project, tags, ...)"
    )
    probes: dict[str, Any] = Field(
        default_factory=dict,
        description="robustness, bias and injection probes, by name: {kind: typos, ...}",
    )

    @field_validator("prompts", "models")
    @classmethod
    def _names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name in v:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"names must be non-empty strings, got {name!r}")
        return v


class SimulatedUserSpec(StrictModel):
    """``user: {model, persona, goal, max_turns}``: a model of the suite plays the user."""

    model: str = Field(description="the suite's model that plays the user")
    persona: str = Field(default="a user of the assistant", description="who the user is")
    goal: str = Field(description="what the user wants; the conversation ends when it is met")
    max_turns: int = Field(default=5, ge=1, le=50, description="the most user turns in all")


class VariantSpec(StrictModel):
    """A prompt variant written as a mapping: a template, or chat messages."""

    file: str | None = Field(default=None, description="a template file")
    template: str | None = Field(default=None, description="an inline template")
    system: str | None = Field(default=None, description="the system message (text or file)")
    messages: list[dict[str, Any]] | None = Field(
        default=None,
        description="messages such as few-shot examples: [{user: .., image: ..}, {assistant: ..}]",
    )
    user: str | SimulatedUserSpec | None = Field(
        default=None,
        description="the final user message (text or file), or a simulated user "
        "{model, persona, goal, max_turns}",
    )
    image: str | list[str] | None = Field(
        default=None, description="images sent with the user message: a path, a URL or a var"
    )
    turns: list[str] | None = Field(
        default=None, description="user messages sent one by one, each after the model's reply"
    )
    tools: list[Any] | str | None = Field(
        default=None, description="OpenAI function schemas, or a JSON/YAML file of them"
    )
    tool_choice: str | dict[str, Any] | None = Field(
        default=None, description="auto, none, required, or a tool's name"
    )
    tool_results: dict[str, Any] | None = Field(
        default=None,
        description="per tool: a template over vars and args, {value: JSON} or "
        "{python: file.py:function}",
    )
    max_steps: int | None = Field(
        default=None, ge=1, le=50, description="the most model calls per turn in a tool loop"
    )
    metrics: list[Any] | None = Field(default=None, description="metrics for this variant only")
    grid: Any = Field(
        default=None,
        description="template vars to sweep: {n_shots: [0, 2, 5]} makes a variant per value",
    )


class CaseRow(StrictModel):
    """A case written with an explicit ``vars`` mapping."""

    id: str | int | None = None
    vars: dict[str, Any]
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    metrics: list[Any] = Field(default_factory=list)
    threshold: float | None = Field(default=None, ge=0, le=1)
    turns: list[str] | None = Field(
        default=None, description="user messages sent one by one (replace the variant's turns)"
    )
    user: SimulatedUserSpec | None = Field(default=None, description="a simulated user")
