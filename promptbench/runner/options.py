"""What a run can be told from the command line or the Python API."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from promptbench.config import StrictModel


class RunOptions(StrictModel):
    """Filters and overrides for one run; None means "as the suite says"."""

    variants: list[str] | None = Field(default=None, description="only these variants")
    models: list[str] | None = Field(default=None, description="only these models")
    cases: list[str] | None = Field(default=None, description="only these case ids")
    limit: int | None = Field(default=None, ge=1, description="only the first N cases")
    repeat: int | None = Field(default=None, ge=1, le=1000)
    concurrency: int | None = Field(default=None, ge=1, le=4096)
    use_cache: bool = True
    user_code: bool = Field(
        default=True, description="False: refuse a suite that runs Python from its files"
    )
    resume: bool = Field(
        default=True, description="take up the same job left unfinished, instead of a new run"
    )
    cache_path: Path | None = None
    runs_dir: Path | None = None
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_cost: float | None = Field(
        default=None, gt=0, description="start no call that would take the spend past this (USD)"
    )
    order_seed: int | None = Field(
        default=None,
        description="call the cases in a random order drawn from this seed (run --sequential)",
    )
    probes: list[str] | None = Field(
        default=None, description="only these probes of the suite; [] runs none"
    )
    probes_only: bool = Field(
        default=False, description="judge the probes only: the suite's own gate is not applied"
    )
    shard: tuple[int, int] | None = Field(
        default=None, description="(i, n): run the i-th of n disjoint shares of the cases"
    )

    command: list[str] | None = Field(
        default=None,
        exclude=True,  # recorded in run.json on its own; not an option that selects work
        description="the command line that started the run, to record (the CLI sets it)",
    )

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not (v[1] >= 1 and 1 <= v[0] <= v[1]):
            raise ValueError("a shard is i/n with 1 <= i <= n, such as 2/4")
        return v
