"""RankFold.add_line (a run's raw lines) ranks as rank_records (its Records) does."""

from __future__ import annotations

import json

import pytest

from promptbench.diff.rank import PASS_RATE, RankFold, line_value, rank_records, record_value
from promptbench.types import Record
from tests.helpers.varied_runs import varied_lines


@pytest.mark.parametrize("metric", [PASS_RATE, "exact", "sim", "judge"])
def test_lines_rank_as_records(metric: str) -> None:
    lines = [json.loads(json.dumps(x)) for x in varied_lines(4, 120)]
    records = [Record.from_json(x) for x in lines]
    for line, r in zip(lines, records, strict=True):
        assert line_value(line, metric) == record_value(r, metric)
    fold = RankFold(metric)
    for line in lines:
        fold.add_line(line)
    fast = fold.report(n_resamples=300, run_id="r")
    general = rank_records(records, metric, n_resamples=300, run_id="r")
    assert json.dumps(fast.to_json()) == json.dumps(general.to_json())
