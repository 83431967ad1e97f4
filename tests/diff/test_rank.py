"""rank_records: records folded per setting; call errors are errors, never fails."""

from __future__ import annotations

import pytest

from promptbench.diff.rank import rank_records
from promptbench.errors import UsageError
from promptbench.types import CallError, Record, Score


def rec(
    case: str,
    variant: str,
    model: str,
    *,
    ok: bool | None,
    cost: float = 0.001,
    error: bool = False,
    repeat: int = 0,
) -> Record:
    scores = {} if ok is None else {"exact": Score(name="exact", value=float(ok), passed=ok)}
    return Record(
        case_id=case,
        variant=variant,
        model=model,
        repeat=repeat,
        vars={},
        messages=(),
        scores=scores,
        passed=ok,
        cost=cost,
        latency_ms=10.0,
        error=CallError("server_error", "boom") if error else None,
    )


def test_errors_are_left_out_not_counted_as_fails() -> None:
    records = [rec(f"c{i}", "v", "a", ok=True) for i in range(30)]
    records += [rec(f"c{i}", "v", "b", ok=True, error=i < 10) for i in range(30)]
    report = rank_records(records, "exact", n_resamples=200)
    assert report.ranking.n_cases == 20  # the ten cases b failed to call are dropped
    assert {r.ranked.setting: r.ranked.mean for r in report.rows} == {"v × a": 1.0, "v × b": 1.0}


def test_grid_parameters_come_back_from_the_names() -> None:
    records = [rec(f"c{i}", "g[n=2]", "m[t=0.5]", ok=i % 2 == 0) for i in range(10)]
    (row,) = rank_records(records, "pass_rate", n_resamples=100).rows
    assert row.params == {"t": 0.5, "n": 2}
    assert row.cost == pytest.approx(0.01) and row.calls == 10


def test_unknown_metric() -> None:
    with pytest.raises(UsageError, match="no metric 'nope'"):
        rank_records([rec("c1", "v", "m", ok=True)], "nope")
