"""diff and baseline save give, byte for byte, what they gave before they were made fast.

tests/fixtures/diff-golden holds the JSON that ``promptbench.compare`` (``diff --json``)
and ``baseline save`` wrote for seeded synthetic runs (tests/helpers/synthetic_runs.py)
with the code before issue 15's speed work: the pure-Python fold over Record objects,
the scalar statistics. The runs are rebuilt from the same seeds and compared again.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from promptbench.bulk import dumps_indented
from promptbench.diff import DiffResult, compare
from promptbench.diff.baseline import baseline_json
from promptbench.diff.jsonout import dumps_indented as diff_json_bytes
from promptbench.runs import resolve_run
from tests.helpers.synthetic_runs import write_synthetic_run

GOLDEN = Path(__file__).parents[1] / "fixtures" / "diff-golden"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    write_synthetic_run(base, "a1", 150, seed=1)
    write_synthetic_run(base, "b1", 150, seed=2, p_pass=0.62)
    write_synthetic_run(base, "a3", 60, seed=3, repeats=3)
    write_synthetic_run(base, "b3", 60, seed=4, repeats=3, p_pass=0.75)
    return base


def golden(name: str) -> str:
    return gzip.decompress((GOLDEN / f"{name}.json.gz").read_bytes()).decode("utf-8")


def dumped(result: DiffResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


@pytest.mark.parametrize(
    ("name", "args", "options"),
    [
        ("runs-1", ("a1", "b1"), {"fail_on_regression": True}),
        ("runs-3", ("a3", "b3"), {"fail_on_regression": True}),
        ("variants-3", ("a3",), {"variants": ("terse", "guided")}),
        ("models-1", ("b1",), {"models": ("mini", "tiny"), "fail_on_regression": True}),
    ],
)
def test_diff_is_what_it_was(
    runs: Path, name: str, args: tuple[str, ...], options: dict[str, object]
) -> None:
    result = compare(*args, runs_dir=runs, **options)  # type: ignore[arg-type]
    assert dumped(result) == golden(f"diff-{name}")
    assert dumps_indented(result.to_json()) + "\n" == golden(f"diff-{name}")
    assert diff_json_bytes(result.to_json()) + b"\n" == golden(f"diff-{name}").encode()  # --json


@pytest.mark.parametrize("run_id", ["a1", "b3"])
def test_baseline_is_what_it_was(runs: Path, run_id: str) -> None:
    text, _ = baseline_json(resolve_run(run_id, runs))
    assert text == golden(f"baseline-{run_id}")
