"""What a page's URL may ask for: checked by pydantic models that forbid unknown keys."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from promptbench.config import StrictModel

SortKey = Literal["started", "id", "suite", "status", "records"]
PER_PAGE = 50


class RunsQuery(StrictModel):
    """``/``: the runs, filtered, sorted and paged."""

    suite: str | None = None
    model: str | None = None
    status: str | None = None
    sort: SortKey = "started"
    order: Literal["asc", "desc"] = "desc"
    page: int = Field(default=1, ge=1)
    per: int = Field(default=PER_PAGE, ge=1, le=500)


class HistoryQuery(StrictModel):
    """``/suites/NAME``: how many of the suite's latest runs to draw."""

    last: int = Field(default=50, ge=2, le=1000)


class CompareQuery(StrictModel):
    """``/compare``: two runs (``run`` twice), or one run and two of its variants."""

    run: list[str] = Field(default_factory=list, max_length=2)
    variant: list[str] = Field(default_factory=list, max_length=2)
