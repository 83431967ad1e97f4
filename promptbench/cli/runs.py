"""``promptbench runs``: the stored runs, newest first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import JsonOpt, out, user_errors

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

    Read from each run's run.json only (the tallies a run writes when it ends), so a
    thousand runs list at once; no model is called and no records are read. A run
    still going, or from before the tallies, shows no pass rate: promptbench show RUN
    computes it from the records.

    Example: promptbench runs -n 5
    """
    from promptbench.runs import list_runs, listing_row

    with user_errors():
        stored = list_runs(runs_dir)
        shown = stored[:limit] if limit else stored
        rows = [listing_row(r) for r in shown]
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
