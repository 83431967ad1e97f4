"""``promptbench runs``: the stored runs, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptbench.cli._common import JsonOpt, out, user_errors

if TYPE_CHECKING:
    from promptbench.runs import StoredRun

RunArg = Annotated[
    str,
    typer.Argument(
        help="A run id, a unique prefix of one, a run directory, or latest.", metavar="RUN"
    ),
]
RunsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir", help="Where runs are stored (default: ./runs or $PROMPTBENCH_RUNS_DIR)."
    ),
]


def runs(
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Show the newest N runs (0: all).", min=0)
    ] = 20,
    runs_dir: RunsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored runs, newest first: id, suite, when, models, pass rates and cost.

    Pass rates and cost are computed from each run's records; no model is called.
    Reopen one with: promptbench show RUN.

    Example: promptbench runs -n 5
    """
    from promptbench.runs import list_runs

    with user_errors():
        stored = list_runs(runs_dir)
        shown = stored[:limit] if limit else stored
        rows = [_row(r) for r in shown]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        where = runs_dir or "./runs"
        out.print(f"no runs in {where}; run a suite: promptbench run SUITE", markup=False)
        return
    from promptbench.report.runs_table import runs_table

    out.print(runs_table(rows))
    if len(shown) < len(stored):
        out.print(f"{len(stored) - len(shown)} older runs not shown (-n 0 shows all)", style="dim")


def _row(run: StoredRun) -> dict[str, Any]:
    from promptbench.errors import RunStoreError
    from promptbench.stats import Summary

    status: str = run.status
    try:
        summary = run.summary()
    except RunStoreError:  # one damaged run must not hide the others
        summary, status = Summary(), f"{status}, records unreadable"
    groups = [
        {"variant": g.variant, "model": g.model, "records": g.records, "pass_rate": g.pass_rate}
        for g in summary.groups.values()
    ]
    known = [g.cost for g in summary.groups.values() if g.cost is not None]
    return {
        "run_id": run.run_id,
        "run_dir": str(run.run_dir),
        "suite": run.suite_name,
        "started_at": run.meta.started_at,
        "status": status,
        "variants": run.variants,
        "models": run.models,
        "records": summary.records,
        "errors": summary.call_errors,
        "groups": groups,
        "cost": sum(known) if known else None,  # None: no call had a known price
    }
