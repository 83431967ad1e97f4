"""``diff``: whether B is better or worse than A, case by case, and the regression gate.

Layer: app. It sits above :mod:`promptbench.stats` (the pure statistics it calls:
paired tests, bootstrap intervals, Holm, power) and :mod:`promptbench.runs` (the
stored runs it reads), and below :mod:`promptbench.report` and :mod:`promptbench.cli`.

The modules, in the order a comparison goes through them:

* :mod:`~promptbench.diff.options`: :class:`DiffOptions`, checked once;
* :mod:`~promptbench.diff.sources`, :mod:`~promptbench.diff.baseline`: the sides, a stored
  run or a baseline file (and writing baseline files);
* :mod:`~promptbench.diff.select`: which groups of the sides are compared;
* :mod:`~promptbench.diff.pairing`: the records folded per group and case;
* :mod:`~promptbench.diff.compute`: the statistics per pair, into
  :mod:`~promptbench.diff.result`'s :class:`DiffResult`;
* :mod:`~promptbench.diff.regression`: the regression gate on a result;
* :mod:`~promptbench.diff.api`: :func:`compare`, all of it in one call;
* :mod:`~promptbench.diff.rank`: every setting of a run on one metric, best first, and
  the set as good as the best (``promptbench rank``, ``diff --best``);
* :mod:`~promptbench.diff.sequential`: the regression verdict settled as the cases come
  in (``run --baseline --sequential``).

The names below are the package's public face; the rest is reached through its module.
They are imported when first used (PEP 562): ``report`` reads :class:`DiffResult` and
:mod:`~promptbench.diff.rank` of this package and none of the comparison (sources,
baselines, statistics), which importing every name here would load.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from promptbench.diff.api import compare
    from promptbench.diff.options import DiffOptions
    from promptbench.diff.regression import RegressionCheck, RegressionReport, check_regressions
    from promptbench.diff.result import DiffResult, MetricResult, PairResult, SideInfo
    from promptbench.diff.select import compare_sources, open_source
    from promptbench.diff.sources import Source

_WHERE = {
    "DiffOptions": "options",
    "DiffResult": "result",
    "MetricResult": "result",
    "PairResult": "result",
    "RegressionCheck": "regression",
    "RegressionReport": "regression",
    "SideInfo": "result",
    "Source": "sources",
    "check_regressions": "regression",
    "compare": "api",
    "compare_sources": "select",
    "open_source": "select",
}

__all__ = [
    "DiffOptions",
    "DiffResult",
    "MetricResult",
    "PairResult",
    "RegressionCheck",
    "RegressionReport",
    "SideInfo",
    "Source",
    "check_regressions",
    "compare",
    "compare_sources",
    "open_source",
]


def __getattr__(name: str) -> _typing.Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'promptbench.diff' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"promptbench.diff.{where}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
