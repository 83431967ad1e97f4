"""Join the runs of ``run --shard i/n`` into one run, as if it had not been sharded.

The shards must come from the same suite (the same suite hash) and the same
options but the shard, and make a whole (1/n to n/n, once each). The records are
concatenated, shard by shard; the metadata is the first shard's, with the counts and
the budgets summed, the earliest start and the latest end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from promptbench.errors import UsageError
from promptbench.runner.runmeta import (
    BudgetMeta,
    Counts,
    GroupCounts,
    OptionsMeta,
    RunMeta,
    read_meta,
    write_meta,
)
from promptbench.runner.store import RECORDS_FILE, RunInfo, new_run_id


def merge_runs(run_dirs: Sequence[Path], runs_dir: Path) -> RunInfo:
    """Write a new run in ``runs_dir`` from the shard runs in ``run_dirs``."""
    if len(run_dirs) < 2:
        raise UsageError("merge needs the runs of at least two shards")
    metas = [read_meta(d) for d in run_dirs]
    _check(run_dirs, metas)
    first = metas[0]
    counts = Counts(
        records=sum(m.counts.records for m in metas),
        errors=sum(m.counts.errors for m in metas),
        cached=sum(m.counts.cached for m in metas),
        retries=sum(m.counts.retries for m in metas),
    )
    statuses = {m.status for m in metas}
    groups: dict[tuple[str, str], GroupCounts] | None = {}
    for m in metas:
        if m.groups is None or groups is None:
            groups = None  # a shard without tallies: the merged run has none
            continue
        for g in m.groups:
            into = groups.setdefault(
                (g.variant, g.model), GroupCounts(variant=g.variant, model=g.model)
            )
            for name in ("records", "passed", "failed", "errors", "cost_known"):
                setattr(into, name, getattr(into, name) + getattr(g, name))
            into.cost_total += g.cost_total
    budgets = [m.budget for m in metas if m.budget is not None]
    budget = None
    if budgets:  # each shard had the limit to itself: the merged run spent their sum
        budget = BudgetMeta(
            limit=sum(b.limit for b in budgets),
            spent=round(sum(b.spent for b in budgets), 6),
            exhausted=any(b.exhausted for b in budgets),
            not_run=sum(b.not_run for b in budgets),
        )
    merged = first.model_copy(
        update={
            "run_id": new_run_id(first.suite.name or "suite"),
            "status": "finished"
            if statuses == {"finished"}
            else sorted(statuses - {"finished"})[0],
            "started_at": min(str(m.started_at) for m in metas),
            "finished_at": max(str(m.finished_at) for m in metas),
            "wall_seconds": max(m.wall_seconds or 0.0 for m in metas),
            "options": OptionsMeta.model_validate(first.options.without_shard()),
            "counts": counts,
            "groups": None if groups is None else list(groups.values()),
            "budget": budget,
            "merged_from": [m.run_id for m in metas],
            "merged_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        },
        deep=True,
    )
    out = runs_dir / merged.run_id
    out.mkdir(parents=True)
    with (out / RECORDS_FILE).open("w", encoding="utf-8") as dest:
        for run_dir in run_dirs:
            with (run_dir / RECORDS_FILE).open("r", encoding="utf-8") as src:
                for line in src:
                    if line.endswith("\n"):  # a killed shard's torn last line is left out
                        dest.write(line)
    write_meta(out, merged)
    return RunInfo(out, merged)


def _check(run_dirs: Sequence[Path], metas: Sequence[RunMeta]) -> None:
    hashes = {m.suite.hash for m in metas}
    if len(hashes) != 1:
        raise UsageError(
            "these runs are of different suites (or suite files changed between "
            "them); merge the shards of one suite"
        )
    shards: list[tuple[int, int]] = []
    for run_dir, meta in zip(run_dirs, metas, strict=True):
        shard = meta.options.shard
        if not shard:
            raise UsageError(
                f"{run_dir} is not a shard of a run; merge joins the shards of one run",
                hint="shard",
            )
        shards.append((int(shard[0]), int(shard[1])))
    rest = [m.options.without_shard() for m in metas]
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
