"""A run folded in two parts and merged (``partfold``) leaves what one fold leaves.

The second part is folded as the worker process folds it (:func:`fold_part`: its float
sums kept as addends), merged into the first, and compared with a one-process fold by
``test_linefold``'s ``state`` (float sums by repr), at every line boundary of runs with
every shape of record; then through a real worker process, and without one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promptbench.bulk import gc_paused
from promptbench.errors import RunStoreError
from promptbench.runs import resolve_run
from promptbench.view.linefold import fold_lines
from promptbench.view.partfold import FoldWorker, cut_points, fold_part, merge, mergeable
from promptbench.view.rowindex import RowsFold
from tests.helpers.synthetic_runs import write_synthetic_run
from tests.helpers.varied_runs import write_varied_run
from tests.view.test_linefold import state


def idle() -> bool:
    return False  # a core to spare, whatever the machine's load while the tests run


def one_fold(run_dir: Path) -> RowsFold:
    fold = RowsFold(resolve_run(run_dir))
    fold.fold()
    return fold


def two_parts(run_dir: Path, start: int) -> RowsFold:
    """The first part folded here up to ``start``, the rest as the worker does, merged."""
    return in_pieces(run_dir, [0, start], here=1)


def in_pieces(run_dir: Path, cuts: list[int], here: int) -> RowsFold:
    """The pieces starting at ``cuts``: the first ``here`` folded here, the rest merged."""
    run = resolve_run(run_dir)
    fold = RowsFold(run)
    ends: list[int | None] = [*cuts[1:], None]
    with gc_paused():
        for k, (start, end) in enumerate(zip(cuts, ends, strict=True)):
            if k < here:
                fold_lines(fold, start, end)
                continue
            part = fold_part(run, start, end)
            assert mergeable(fold, part)
            merge(fold, part)
        fold.finish()
    return fold


def boundaries(run_dir: Path) -> list[int]:
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    at, out = 0, []
    for line in raw:
        out.append(at)
        at += len(line)
    return [*out, at]


@pytest.mark.parametrize("seed", [0, 1])
def test_a_varied_run_merged_at_every_line_is_the_one_fold(tmp_path: Path, seed: int) -> None:
    run_dir = write_varied_run(tmp_path / "runs", f"v{seed}", 40, seed=30 + seed)
    want = state(one_fold(run_dir))
    for start in boundaries(run_dir):
        assert state(two_parts(run_dir, start)) == want, start


def test_the_benches_synthetic_run_merged_is_the_one_fold(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 200, seed=6, repeats=2)
    want = state(one_fold(run_dir))
    points = boundaries(run_dir)
    for start in points[:: max(1, len(points) // 25)]:
        assert state(two_parts(run_dir, start)) == want, start


def rewrite(run_dir: Path, change: object) -> None:
    raw = (run_dir / "records.jsonl").read_bytes().splitlines(keepends=True)
    out = []
    for i, line in enumerate(raw):
        data = json.loads(line)
        change(i, data)  # type: ignore[operator]
        out.append((json.dumps(data) + "\n").encode())
    (run_dir / "records.jsonl").write_bytes(b"".join(out))


def test_float_sums_merged_are_added_in_file_order(tmp_path: Path) -> None:
    # Costs, savings and score values whose sums depend on the order of the additions.
    run_dir = write_varied_run(tmp_path / "runs", "sums", 30, seed=7)
    odd = [0.1, 1e16, 0.2, -1e16, 0.3, 7, True, -0.0]

    def change(i: int, data: dict[str, object]) -> None:
        if data.get("cost") is not None:
            data["cost"] = odd[i % len(odd)]
        data["cost_saved"] = odd[(i + 3) % len(odd)]
        for s in (data.get("scores") or {}).values():  # type: ignore[attr-defined]
            if s.get("value") is not None:
                s["value"] = odd[(i + 5) % len(odd)]

    rewrite(run_dir, change)
    want = state(one_fold(run_dir))
    for start in boundaries(run_dir):
        assert state(two_parts(run_dir, start)) == want, start


def test_a_count_that_is_not_an_integer_is_not_merged(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "floats", 20, seed=9)

    def change(i: int, data: dict[str, object]) -> None:
        data["retries"] = 0.1 if i % 2 else 1e16

    rewrite(run_dir, change)
    run = resolve_run(run_dir)
    start = boundaries(run_dir)[10]
    main = RowsFold(run)
    fold_lines(main, 0, start)
    assert not mergeable(main, fold_part(run, start))
    with FoldWorker(min_bytes=0, busy=idle) as worker:
        fold = RowsFold(run)
        worker.fold(fold)
        assert worker.parts == 0  # folded on here, not merged
    assert state(fold) == state(one_fold(run_dir))


def test_cut_points_are_lines_first_bytes(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "split", 20, seed=3)
    fold = RowsFold(resolve_run(run_dir))
    cuts = cut_points(fold, 0, 4)
    assert len(cuts) == 4
    assert cuts[0] == 0
    assert set(cuts[1:]) <= set(boundaries(run_dir)[1:-1])
    assert cuts == sorted(set(cuts))
    assert cut_points(fold, 1 << 40) == [0]


def test_pieces_folded_here_and_there_in_any_mix_are_the_one_fold(tmp_path: Path) -> None:
    # This process takes the pieces up to where the worker's (a run to the end) begin.
    run_dir = write_varied_run(tmp_path / "runs", "mix", 30, seed=12)
    want = state(one_fold(run_dir))
    points = boundaries(run_dir)[:-1]
    for step in (3, 7):
        cuts = points[::step]
        for here in range(1, len(cuts) + 1):
            assert state(in_pieces(run_dir, cuts, here)) == want, (step, here)


def test_a_real_worker_process_folds_half_and_the_page_is_the_same(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 400, seed=8)
    with FoldWorker(min_bytes=0, busy=idle) as worker:
        fold = RowsFold(resolve_run(run_dir))
        worker.fold(fold)
        assert worker.parts >= 1  # the last piece at least: queued for it at once
    assert state(fold) == state(one_fold(run_dir))


def test_a_corrupt_line_in_the_workers_half_fails_as_in_one_process(tmp_path: Path) -> None:
    run_dir = write_varied_run(tmp_path / "runs", "bad", 30, seed=4)
    with (run_dir / "records.jsonl").open("ab") as fh:
        fh.write(b'{"case_id": "x"}\n')
    run = resolve_run(run_dir)
    with pytest.raises(RunStoreError) as alone:
        RowsFold(run).fold()
    with FoldWorker(min_bytes=0, busy=idle) as worker, pytest.raises(RunStoreError) as split:
        worker.fold(RowsFold(run))
    assert str(split.value) == str(alone.value)


def test_a_machine_with_no_core_to_spare_folds_alone(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 100, seed=2)
    with FoldWorker(min_bytes=0, busy=lambda: True) as worker:
        fold = RowsFold(resolve_run(run_dir))
        worker.fold(fold)
        assert worker.parts == 0
    assert state(fold) == state(one_fold(run_dir))


def test_a_dead_worker_leaves_the_fold_to_this_process(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", "syn", 100, seed=2)
    worker = FoldWorker(min_bytes=0, busy=idle)
    worker.close()
    fold = RowsFold(resolve_run(run_dir))
    worker.fold(fold)
    assert state(fold) == state(one_fold(run_dir))


def test_promptbench_view_serves_a_big_run_folded_on_two_cores_as_one_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real viewer (a child process, its worker a grandchild) on a run past
    MIN_SPLIT_BYTES: the page and its rows are the in-process one-fold viewer's."""
    import urllib.request

    from starlette.testclient import TestClient

    from promptbench.view import create_app
    from promptbench.view.partfold import MIN_SPLIT_BYTES
    from tests.view.test_browser import Viewer

    runs_dir = tmp_path / "runs"
    run_dir = write_synthetic_run(runs_dir, "big", 1500, seed=11)
    assert (run_dir / "records.jsonl").stat().st_size > MIN_SPLIT_BYTES
    alone = TestClient(create_app(runs_dir, port=8765), base_url="http://127.0.0.1:8765")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    monkeypatch.setenv("PROMPTBENCH_FOLD_WORKER", "1")  # the worker's share, whatever the load
    viewer = Viewer(runs_dir)
    try:
        assert children(viewer.proc.pid)  # the worker, started with the viewer
        for path in [
            "/runs/big",
            "/api/runs/big/rows?offset=5000&limit=500",
            "/api/runs/big/rows?mode=fail&q=a&sort=latency&order=desc",
            "/api/runs/big/ranking",
        ]:
            with opener.open(viewer.url + path, timeout=60) as resp:
                served = resp.read().decode()
            assert served == alone.get(path).text, path
    finally:
        viewer.stop()


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux's /proc), the worker and its resource tracker."""
    if not Path("/proc/self/task").exists():
        pytest.skip("no /proc")
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def gone(pids: list[int], within_s: float = 20) -> bool:
    import time

    end = time.monotonic() + within_s
    while time.monotonic() < end:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    alive.append(pid)
            except (ProcessLookupError, FileNotFoundError):
                pass
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["terminate", "kill"])
def test_the_worker_ends_with_the_viewer(tmp_path: Path, how: str) -> None:
    from tests.view.test_browser import Viewer

    write_synthetic_run(tmp_path / "runs", "small", 20, seed=1)
    viewer = Viewer(tmp_path / "runs")
    try:
        kids = children(viewer.proc.pid)
        assert kids
    finally:
        getattr(viewer.proc, how)()
        viewer.proc.wait(timeout=20)
    assert gone(kids)  # even killed, its worker does not outlive it
