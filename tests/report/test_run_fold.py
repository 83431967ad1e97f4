"""The report's page data from raw lines is the general path's, from Records, to the byte.

``run_payload`` folds a run's decoded lines (``run_fold``, ``cells.line_cell``,
``Summary.add_line``, ``RankFold.add_line``); ``tests.helpers.reference_pages`` builds
the same page through ``Record.from_json`` and ``cells.cell``. Both are run on stored
runs with every shape of record (``tests.helpers.varied_runs``) and on the synthetic
runs of the benches, and on single lines drawn by hypothesis.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.diff.pairing import natural_key
from promptbench.report.html import run_payload
from promptbench.report.html.cells import cell, line_cell, line_images, text
from promptbench.report.html.run_fold import page_order
from promptbench.runs import resolve_run
from promptbench.types import Record
from tests.helpers.reference_pages import reference_payload
from tests.helpers.synthetic_runs import write_synthetic_run
from tests.helpers.varied_runs import varied_lines, write_varied_run


def dumped(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)  # NaN written, so that NaN == NaN here


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_varied_runs_give_the_general_paths_page(tmp_path: Path, seed: int) -> None:
    run_dir = write_varied_run(tmp_path / "runs", f"run-{seed}", 90, seed=seed)
    run = resolve_run(run_dir)
    fast = run_payload(run)
    assert fast["rows"] and fast["probes"] is not None and fast["ranking"] is not None
    assert dumped(fast) == dumped(reference_payload(run))
    no_rank = run_payload(run, ranking=False)
    assert no_rank["ranking"] is None
    assert dumped(no_rank) == dumped(reference_payload(run, ranking=False))


def test_a_run_without_probes_or_images_and_a_single_group(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "plain", 40, seed=5, image=False, probes=False)
    run = resolve_run(run_dir)
    assert dumped(run_payload(run)) == dumped(reference_payload(run))
    # One group only: no ranking on either path.
    one = run.meta.model_copy(
        update={"variants": {"terse": "Q"}, "models": {"mini": run.meta.models["mini"]}}
    )
    single = type(run)(run.run_dir, one)
    assert run_payload(single)["ranking"] is None
    assert dumped(run_payload(single)) == dumped(reference_payload(single))


def test_the_benches_synthetic_run(tmp_path: Path) -> None:
    run = resolve_run(write_synthetic_run(tmp_path / "runs", "syn", 300, seed=3, repeats=2))
    assert dumped(run_payload(run)) == dumped(reference_payload(run))


def test_line_cells_are_the_record_cells_of_every_varied_line(tmp_path: Path) -> None:
    picture = tmp_path / "p.png"
    from tests.helpers.varied_runs import PNG

    picture.write_bytes(PNG)
    for seed in range(3):
        for written in varied_lines(seed, 60, picture):
            line = json.loads(json.dumps(written))  # as read back from the file
            fast: dict[str, int] = {"exact": 0}
            general: dict[str, int] = {"exact": 0}
            assert dumped(line_cell(line, fast)) == dumped(cell(Record.from_json(line), general))
            assert fast == general
            from promptbench.report.html.cells import images

            assert line_images(line) == images(Record.from_json(line))


_value = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=5)
)
_score = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(
            st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 1)
        ),
        "passed": st.one_of(st.none(), st.booleans(), st.integers(0, 2)),
        "reason": st.one_of(st.text(max_size=8), st.none()),
        "error": st.one_of(st.none(), st.text(max_size=8)),
        "weight": st.floats(0.5, 2),
    },
)
_line = st.fixed_dictionaries(
    {
        "case_id": st.text(min_size=1, max_size=4),
        "variant": st.sampled_from(["a", "b"]),
        "model": st.sampled_from(["m", "n"]),
        "repeat": st.integers(0, 2),
    },
    optional={
        "vars": st.dictionaries(st.text(max_size=3), _value, max_size=3),
        "expected": _value,
        "messages": st.just([{"role": "user", "content": "hi"}]),
        "output": st.one_of(st.none(), st.text(max_size=10)),
        "scores": st.one_of(st.none(), st.dictionaries(st.sampled_from(["x", "y", "z"]), _score)),
        "passed": st.one_of(st.none(), st.booleans()),
        "usage": st.one_of(
            st.none(),
            st.just({}),
            st.fixed_dictionaries(
                {},
                optional={
                    "prompt_tokens": st.integers(0, 9),
                    "completion_tokens": st.integers(0, 9),
                },
            ),
        ),
        "latency_ms": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        "cost": st.one_of(st.none(), st.floats(0, 1), st.integers(0, 2)),
        "error": st.one_of(
            st.none(),
            st.just({}),
            st.fixed_dictionaries(
                {"kind": st.sampled_from(["timeout", "http"]), "message": st.text(max_size=6)},
                optional={"status": st.one_of(st.none(), st.integers(0, 599))},
            ),
        ),
        "cached": st.booleans(),
        "retries": st.integers(0, 3),
    },
)


@settings(max_examples=400, deadline=None)
@given(_line, st.dictionaries(st.sampled_from(["x", "y", "w"]), st.integers(0, 5), max_size=2))
def test_line_cell_is_cell_of_its_record(line: dict[str, Any], known: dict[str, int]) -> None:
    # Positions as a page would have them: distinct, from 0.
    metrics = {name: i for i, name in enumerate(known)}
    general = dict(metrics)
    fast_cell = line_cell(line, metrics)
    assert dumped(fast_cell) == dumped(cell(Record.from_json(line), general))
    assert metrics == general


@given(_value)
def test_text_writes_integers_as_json_does(value: Any) -> None:
    expected = (
        value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    )
    got = text(value)
    if isinstance(value, float) and math.isnan(value):
        assert got == "NaN"
    else:
        assert got == expected


def test_a_group_only_probes_twins_reached_is_left_off_the_page(tmp_path: Path) -> None:
    # The summary leaves twins out, so such a group has no column (the general path
    # failed on it with a KeyError); its twins are not shown, the rest is the same page.
    run_dir = write_varied_run(tmp_path / "runs", "ghost", 30, seed=1, image=False)
    records = run_dir / "records.jsonl"
    lines = [json.loads(x) for x in records.read_text(encoding="utf-8").splitlines()]
    twins = [dict(x, model="ghost") for x in lines if x.get("probe")][:5]
    assert twins
    with records.open("a", encoding="utf-8") as fh:
        for x in twins:
            fh.write(json.dumps(x) + "\n")
    page = run_payload(resolve_run(run_dir))
    assert {"variant": "terse", "model": "ghost"} not in page["groups"]
    assert all(len(row["c"]) == len(page["groups"]) for row in page["rows"])
    from promptbench.view.index import RunIndex
    from promptbench.view.rows import RowsCache, RowsQuery

    entry = RunIndex(run_dir.parent).get("ghost")
    assert entry is not None
    served = RowsCache().rows(entry).answer(RowsQuery(limit=500))
    assert dumped([{k: v for k, v in r.items() if k != "i"} for r in served["rows"]]) == dumped(
        page["rows"]
    )


def natural_order(keys: list[tuple[str, int]]) -> list[int]:
    """The page's order as it was computed before page_order's shortcut."""
    return sorted(range(len(keys)), key=lambda i: (natural_key(keys[i][0]), keys[i][1]))


@pytest.mark.parametrize(
    "ids",
    [
        [f"case-{i}" for i in range(40)],  # the shortcut: one text and a number
        [f"q{i}" for i in (5, 10, 1, 2, 100, 7)],
        ["7", "12", "3", "012", "12"],  # no text; "012" ties with "12"
        ["case-01", "case-1", "case-001", "case-2"],  # ties kept in file order
        ["a1", "b2", "a10", "b1"],  # two texts: natural_key
        ["case-1", "case-1-b", "case-2", "intro"],  # not all numbered
        ["ü7", "ü10", "ü8"],
        ["case-", "case-1", "case-0"],  # one id is the text alone
        ["1x", "2x", "10x"],
        ["x١٢", "x3", "x٢"],  # Arabic-Indic digits are numbers to both
    ],
)
def test_page_order_is_the_natural_order(ids: list[str]) -> None:
    rng = random.Random(len(ids))
    keys = [(case, r) for case in ids for r in (1, 0)]
    rng.shuffle(keys)
    assert page_order(keys) == natural_order(keys)


def test_page_order_fails_where_natural_key_fails() -> None:
    # "²" is a digit to str.isdigit but not to \d: natural_key's int() refuses it.
    keys = [("²1", 0), ("²2", 0)]
    with pytest.raises(ValueError):
        natural_order(keys)
    with pytest.raises(ValueError):
        page_order(keys)
