"""Join the runs of ``run --shard i/n`` into one run, as if it had not been sharded.

The shards must come from the same suite (the same suite hash) and the same
options but the shard, and make a whole (1/n to n/n, once each). The records are
concatenated, shard by shard; the metadata is the first shard's, with the counts
summed, the earliest start and the latest end.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptbench.errors import UsageError
from promptbench.runner.store import RECORDS_FILE, RUN_FILE, RunInfo, new_run_id, read_meta


def merge_runs(run_dirs: Sequence[Path], runs_dir: Path) -> RunInfo:
    """Write a new run in ``runs_dir`` from the shard runs in ``run_dirs``."""
    if len(run_dirs) < 2:
        raise UsageError("merge needs the runs of at least two shards")
    metas = [read_meta(d) for d in run_dirs]
    _check(run_dirs, metas)
    first = metas[0]
    options = {k: v for k, v in (first.get("options") or {}).items() if k != "shard"}
    counts: dict[str, int] = {}
    for meta in metas:
        for key, value in (meta.get("counts") or {}).items():
            counts[key] = counts.get(key, 0) + int(value)
    statuses = {str(m.get("status")) for m in metas}
    merged: dict[str, Any] = {
        **first,
        "run_id": new_run_id(str((first.get("suite") or {}).get("name", "suite"))),
        "status": "finished" if statuses == {"finished"} else sorted(statuses - {"finished"})[0],
        "started_at": min(str(m.get("started_at")) for m in metas),
        "finished_at": max(str(m.get("finished_at")) for m in metas),
        "wall_seconds": max(float(m.get("wall_seconds") or 0.0) for m in metas),
        "options": options,
        "counts": counts,
        "merged_from": [m.get("run_id") for m in metas],
        "merged_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    out = runs_dir / str(merged["run_id"])
    out.mkdir(parents=True)
    with (out / RECORDS_FILE).open("w", encoding="utf-8") as dest:
        for run_dir in run_dirs:
            with (run_dir / RECORDS_FILE).open("r", encoding="utf-8") as src:
                for line in src:
                    if line.endswith("\n"):  # a killed shard's torn last line is left out
                        dest.write(line)
    tmp = out / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(merged, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out / RUN_FILE)
    return RunInfo(str(merged["run_id"]), out, merged)


def _check(run_dirs: Sequence[Path], metas: Sequence[dict[str, Any]]) -> None:
    hashes = {(m.get("suite") or {}).get("hash") for m in metas}
    if len(hashes) != 1:
        raise UsageError(
            "these runs are of different suites (or suite files changed between "
            "them); merge the shards of one suite"
        )
    shards: list[tuple[int, int]] = []
    for run_dir, meta in zip(run_dirs, metas, strict=True):
        shard = (meta.get("options") or {}).get("shard")
        if not shard:
            raise UsageError(
                f"{run_dir} is not a shard of a run; merge joins the shards of one run",
                hint="shard",
            )
        shards.append((int(shard[0]), int(shard[1])))
    rest = [{k: v for k, v in (m.get("options") or {}).items() if k != "shard"} for m in metas]
    if any(r != rest[0] for r in rest):
        raise UsageError(
            "the shards were run with different options; run every shard with the same "
            "options but its shard",
            hint="shard",
        )
    sizes = {n for _, n in shards}
    if len(sizes) != 1:
        raise UsageError(f"the shards are of different splits: {sorted(sizes)}")
    n = sizes.pop()
    got = sorted(i for i, _ in shards)
    if got != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(got))
        twice = sorted({i for i in got if got.count(i) > 1})
        problem = (
            f"shard {missing[0]}/{n} is missing"
            if missing
            else (f"shard {twice[0]}/{n} is given twice")
        )
        raise UsageError(f"{problem}; merge each of the {n} shards once")
