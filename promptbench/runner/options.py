"""What a run can be told from the command line or the Python API."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

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
    cache_path: Path | None = None
    runs_dir: Path | None = None
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
