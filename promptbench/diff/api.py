"""Compare from Python: what ``promptbench diff`` does, without the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from promptbench.diff.options import DiffOptions
from promptbench.diff.regression import check_regressions
from promptbench.diff.result import DiffResult
from promptbench.diff.select import compare_sources, open_source, regression_rules
from promptbench.diff.sources import Source
from promptbench.errors import UsageError

LATEST = "latest"


def compare(
    a: str | Path = LATEST,
    b: str | Path | None = None,
    *,
    runs_dir: str | Path | None = None,
    **options: Any,
) -> DiffResult:
    """B against A, case by case: the result whose ``to_json()`` ``diff --json`` prints.

    ``a`` and ``b`` are runs (ids, unique prefixes, directories, ``latest``) or
    baseline files; give one run and ``variants=("a", "b")`` or ``models=(...)`` to
    compare two groups of it. ``options`` are :class:`DiffOptions`' fields (``alpha``,
    ``detect``, ``only_variants``, ``only_models``, ``fail_on_regression``); with
    ``fail_on_regression=True`` the result's ``regression`` holds the gate's report.

    Example::

        result = promptbench.compare("baselines/qa.json", "latest", fail_on_regression=True)
        assert result.regression is not None and result.regression.passed
    """
    try:
        diff_options = DiffOptions(**options)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UsageError(f"invalid diff option {where}: {message}".replace(" : ", ": ")) from None
    source_a = open_source(a, runs_dir)
    source_b = open_source(b, runs_dir) if b is not None else None
    return compare_sides(source_a, source_b, diff_options)


def compare_sides(a: Source, b: Source | None, options: DiffOptions) -> DiffResult:
    """:func:`compare` on sides already opened (``promptbench diff`` calls this)."""
    result = compare_sources(a, b, options)
    if options.fail_on_regression:
        result.regression = check_regressions(result, regression_rules(b, a))
    return result
