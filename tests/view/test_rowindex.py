"""The viewer's row index answers every query as the page's rows did, built whole.

``RowIndex`` keeps a few columns per cell and reads rows back from ``records.jsonl``;
``tests.helpers.reference_pages`` builds every row from Records and filters, searches
and sorts them as the viewer did before. Both are run on stored runs with every shape
of record (``tests.helpers.varied_runs``), for every mode, metric, column choice,
search and sort.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from promptbench.errors import RunStoreError
from promptbench.report.html.run_data import ranking_payload, run_ranking
from promptbench.runs import resolve_run
from promptbench.view.index import RunIndex
from promptbench.view.rowindex import RowIndex, RowsFold
from promptbench.view.rows import RowsCache, RowsQuery, select, sort_rows
from tests.helpers.reference_pages import (
    reference_filter,
    reference_payload,
    reference_search_text,
    reference_sort,
)
from tests.helpers.synthetic_runs import write_synthetic_run
from tests.helpers.varied_runs import write_varied_run


def dumped(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def index_of(run_dir: Path) -> RowIndex:
    fold = RowsFold(resolve_run(run_dir))
    fold.fold()
    return RowIndex(fold)


@pytest.fixture(scope="module", params=[0, 1])
def varied(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp(f"varied{request.param}") / "runs"
    return write_varied_run(runs, f"v{request.param}", 70, seed=10 + request.param)


def test_rows_read_back_are_the_pages_rows(varied: Path) -> None:
    index = index_of(varied)
    reference = reference_payload(resolve_run(varied))["rows"]
    assert index.n_rows == len(reference)
    got = index.rows(list(range(index.n_rows)))
    assert dumped(got) == dumped(reference)
    # In any order, twice (the second time from the rows kept).
    picked = [5, 0, 5, index.n_rows - 1]
    assert dumped(index.rows(picked)) == dumped([reference[i] for i in picked])


def test_filters_counts_and_search_match_the_pages(varied: Path) -> None:
    index = index_of(varied)
    rows = reference_payload(resolve_run(varied))["rows"]
    assert index.search_text() == reference_search_text(rows)
    n_cols = len(rows[0]["c"])
    metrics = len(index.fold.metrics)
    column_sets = [
        list(c) for r in range(n_cols + 1) for c in itertools.combinations(range(n_cols), r)
    ]
    for mode, metric, cols, q in itertools.product(
        ["all", "fail", "error", "flip"],
        range(-1, metrics),
        column_sets,
        ["", "c1", "about", "timeout", "</script>", "ünï", "12345678901234567890123", "none"],
    ):
        found = select(index, mode, q, metric, cols)
        kept, counts = reference_filter(rows, mode, q, metric, cols)
        assert (found.rows, found.counts) == (kept, counts), (mode, metric, cols, q)


def test_sorts_match_the_pages(varied: Path) -> None:
    index = index_of(varied)
    rows = reference_payload(resolve_run(varied))["rows"]
    everything = list(range(len(rows)))
    some = everything[::3]
    for by, order, cols, chosen in itertools.product(
        ["case", "latency", "cost"],
        ["asc", "desc"],
        [[0], [1, 2], [0, 1, 2, 3], []],
        [everything, some],
    ):
        assert sort_rows(index, chosen, by, order, cols) == reference_sort(
            rows, chosen, by, order, cols
        ), (by, order, cols)


def test_the_ranking_is_the_reports(varied: Path) -> None:
    fold = RowsFold(resolve_run(varied))
    fold.fold()
    assert dumped(ranking_payload(fold.rank_fold(), fold.run.run_id)) == dumped(
        run_ranking(fold.run)
    )
    assert dumped(run_ranking(fold.run)) == dumped(reference_payload(fold.run)["ranking"])


def test_the_viewers_answers_are_the_pages(varied: Path) -> None:
    entry = RunIndex(varied.parent).get(varied.name)
    assert entry is not None
    built = RowsCache().rows(entry)
    reference = reference_payload(entry.stored, ranking=False)
    rows = reference.pop("rows")
    head = {**built.head}
    assert dumped(head) == dumped({k: v for k, v in reference.items()})
    answer = built.answer(RowsQuery(mode="fail", offset=2, limit=7, sort="latency", order="desc"))
    kept, counts = reference_filter(rows, "fail", "", -1, [0, 1, 2, 3])
    kept = reference_sort(rows, kept, "latency", "desc", [0, 1, 2, 3])
    assert answer["counts"] == counts and answer["shown"] == len(kept)
    assert [r["i"] for r in answer["rows"]] == kept[2:9]
    assert dumped([{k: v for k, v in r.items() if k != "i"} for r in answer["rows"]]) == dumped(
        [rows[i] for i in kept[2:9]]
    )


def test_the_benches_synthetic_run(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 200, seed=4, repeats=2)
    index = index_of(run_dir)
    rows = reference_payload(resolve_run(run_dir))["rows"]
    assert dumped(index.rows(list(range(index.n_rows)))) == dumped(rows)
    for mode in ("all", "fail", "error", "flip"):
        found = select(index, mode, "q1", 1, [0, 3])
        assert (found.rows, found.counts) == reference_filter(rows, mode, "q1", 1, [0, 3])


def test_a_records_file_rewritten_under_the_index_is_said(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "moving", 20, seed=3)
    index = index_of(run_dir)
    records = run_dir / "records.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines(keepends=True)
    records.write_text("".join(reversed(lines)), encoding="utf-8")
    with pytest.raises(RunStoreError, match=r"changed while read|records changed"):
        index.rows(list(range(index.n_rows)))
