"""What a comparison can be told, from the command line or the Python API: checked here, once.

``promptbench diff`` and :func:`promptbench.compare` build a :class:`DiffOptions`, as
``run`` builds a :class:`~promptbench.runner.RunOptions`; the field names are the
command line's options (``alpha`` is ``--alpha``), so that an error names what to fix.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from promptbench.config import StrictModel

DEFAULT_DETECT = 0.05  # the difference "cases needed" plans for: 5 points
DEFAULT_ALPHA = 0.05


class DiffOptions(StrictModel):
    """What to compare within the sides given, and at which level."""

    variants: tuple[str, str] | None = Field(
        default=None, description="compare these two variants of one run"
    )
    models: tuple[str, str] | None = Field(
        default=None, description="compare these two models of one run"
    )
    only_variants: list[str] | None = Field(
        default=None, description="only the pairs that involve these variants"
    )
    only_models: list[str] | None = Field(
        default=None, description="only the pairs that involve these models"
    )
    alpha: float = Field(
        default=DEFAULT_ALPHA,
        gt=0,
        le=0.5,
        description="significance level, after Holm's correction over everything compared",
    )
    detect: float = Field(
        default=DEFAULT_DETECT,
        gt=0,
        le=1,
        description="the difference to plan the sample size for (0.05: 5 points)",
    )
    fail_on_regression: bool = Field(
        default=False,
        description="also check the regression gate (the suite's gate.regression rules)",
    )

    @model_validator(mode="after")
    def _one_axis(self) -> DiffOptions:
        if self.variants and self.models:
            raise ValueError("compare two variants or two models, not both")
        for kind, names in (("variant", self.variants), ("model", self.models)):
            if names and names[0] == names[1]:
                raise ValueError(f"compare two different {kind}s, not {names[0]!r} with itself")
        return self
