"""The viewer's lean fold (``linefold``) leaves the state the general line-by-line fold does.

``RowsFold.fold`` reads the lines a runner writes by its lean path and any other line by
``RunFold.line_folder``'s; ``RunFold.fold`` (called on a ``RowsFold``) reads every line
the general way. Both must leave the same summary (every count, every float sum to the
bit, the latencies in order), the same rows, columns, metrics and variables in the same
order, and the same per-record columns, on runs with every shape of record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from promptbench.errors import RunStoreError
from promptbench.report.html.run_fold import RunFold
from promptbench.runs import resolve_run
from promptbench.view.rowindex import RowsFold
from tests.helpers.synthetic_runs import write_synthetic_run
from tests.helpers.varied_runs import write_varied_run


def state(fold: RowsFold) -> dict[str, Any]:
    """Everything the fold keeps, floats by repr (so that 0.30000000000000004 != 0.3)."""
    summary = fold.summary
    groups = {
        key: (
            {k: v for k, v in vars(g).items() if k not in ("metrics", "latencies")},
            list(g.latencies),
            {name: vars(m) for name, m in sorted(g.metrics.items())},
        )
        for key, g in summary.groups.items()
    }
    columns = (
        "rec_row",
        "rec_col",
        "rec_offset",
        "rec_verdict",
        "rec_latency",
        "rec_cost",
        "rec_known",
        "rec_output",
        "rec_error",
        "row_vars",
        "row_expected",
        "row_width",
    )
    return {
        "groups": repr(groups),
        "group_order": list(summary.groups),
        "metric_names": list(summary.metric_names),
        "metrics": list(fold.metrics.items()),
        "var_names": list(fold.var_names.items()),
        "columns": list(fold.columns.items()),
        "keys": list(fold.keys),
        "repeats": fold.repeats,
        "order": list(fold.order),
        "page_groups": list(fold.groups),
        "recorded": {name: repr(list(getattr(fold, name))) for name in columns},
        "scores": repr(sorted((pos, list(recs)) for pos, recs in fold.score_rec.items())),
        "codes": repr(sorted((pos, list(codes)) for pos, codes in fold.score_code.items())),
    }


def both_folds(run_dir: Path) -> tuple[RowsFold, RowsFold]:
    run = resolve_run(run_dir)
    lean = RowsFold(run)
    lean.fold()
    general = RowsFold(run)
    RunFold.fold(general)
    return lean, general


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_varied_run_folds_the_same_both_ways(tmp_path: Path, seed: int) -> None:
    run_dir = write_varied_run(tmp_path / "runs", f"v{seed}", 90, seed=20 + seed)
    lean, general = both_folds(run_dir)
    assert general.lean == 0
    # Most lines took the lean path (the rest: old lines, probes' twins, groups' firsts).
    assert lean.lean > len(lean.rec_offset) // 2
    assert state(lean) == state(general)


def test_the_benches_synthetic_run_folds_the_same_both_ways(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 300, seed=5, repeats=2)
    lean, general = both_folds(run_dir)
    assert lean.lean > len(lean.rec_offset) * 3 // 4
    assert state(lean) == state(general)


def write_lines(run_dir: Path, lines: list[bytes]) -> None:
    (run_dir / "records.jsonl").write_bytes(b"".join(lines))


def test_float_sums_are_added_in_file_order(tmp_path: Path) -> None:
    # Costs whose sum depends on the order of the additions: any regrouping shows.
    run_dir = write_varied_run(tmp_path / "runs", "sums", 30, seed=7)
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    out = []
    for i, line in enumerate(raw):
        data = json.loads(line)
        if data.get("cost") is not None:
            data["cost"] = [0.1, 1e16, 0.2, -1e16, 0.3][i % 5]
        out.append((json.dumps(data) + "\n").encode())
    write_lines(run_dir, out)
    lean, general = both_folds(run_dir)
    assert lean.lean
    assert state(lean) == state(general)


def test_odd_lines_fold_as_the_general_path_folds_them(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "odd", 20, seed=8)
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    first = json.loads(raw[0])
    nan = {**first, "latency_ms": float("nan"), "case_id": "nan-case"}
    raw.insert(3, (json.dumps(nan) + "\n").encode())  # NaN: the standard library reads it
    raw.append(b'{"case_id": "cut", "vari')  # a killed run's last write
    write_lines(run_dir, raw)
    lean, general = both_folds(run_dir)
    assert ("nan-case", first["repeat"]) in lean.keys
    assert state(lean) == state(general)


def assert_both_paths_refuse_alike(run_dir: Path) -> None:
    """The general path and the lean one raise the same RunStoreError on this run."""
    run = resolve_run(run_dir)
    with pytest.raises(RunStoreError) as general:
        RunFold.fold(RowsFold(run))
    with pytest.raises(RunStoreError) as lean:
        RowsFold(run).fold()
    assert str(lean.value) == str(general.value)


@pytest.mark.parametrize(
    "bad",
    [b"[1, 2]\n", b"not json\n", b'{"case_id": "x"}\n', b'{"case_id": "x", "error": 3}\n'],
)
def test_a_line_that_is_not_a_record_is_said_as_before(tmp_path: Path, bad: bytes) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "bad", 10, seed=9)
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    write_lines(run_dir, [*raw[:5], bad, *raw[5:]])
    assert_both_paths_refuse_alike(run_dir)


def test_a_call_error_of_an_odd_shape_is_said_as_before(tmp_path: Path) -> None:
    # A full line (the lean path) whose error is truthy but no object.
    run_dir = write_varied_run(tmp_path / "runs", "err", 10, seed=11)
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    full = [d for d in map(json.loads, raw) if "probe" not in d and "usage" in d and "cost" in d]
    data = {**full[-1], "error": "boom"}
    write_lines(run_dir, [*raw, (json.dumps(data) + "\n").encode()])
    assert_both_paths_refuse_alike(run_dir)
