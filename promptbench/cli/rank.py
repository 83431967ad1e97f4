"""``promptbench rank RUN``: every setting best first, and the set as good as the best."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli import _wandb
from promptbench.cli._common import JsonOpt, err, fail, out, user_errors
from promptbench.cli.runs import RunArg, RunsDirOpt

MetricOpt = Annotated[
    str,
    typer.Option("--metric", "-M", help="The metric to rank on (default: pass_rate)."),
]
AlphaOpt = Annotated[
    float,
    typer.Option(
        "--alpha",
        help="The set as good as the best holds the best with 1 - alpha.",
        min=0.001,
        max=0.5,
    ),
]


def rank(
    run: RunArg = "latest",
    metric: MetricOpt = "pass_rate",
    alpha: AlphaOpt = 0.05,
    as_json: JsonOpt = False,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Write the table as Markdown to this file.")
    ] = None,
    runs_dir: RunsDirOpt = None,
    wandb: Annotated[
        bool,
        typer.Option(
            "--wandb",
            help="Log the table to the run's own W&B run (the run was logged with --wandb).",
            rich_help_panel=_wandb.PANEL,
        ),
    ] = False,
) -> None:
    """Rank every variant × model of a run on one metric, best first, with intervals.

    The settings not significantly worse than the best (paired by case, corrected
    for comparing many: the model confidence set of Hansen, Lunde & Nason) are
    marked "as good as best"; beside each, its cost per call and median latency,
    and the cheapest setting of that set. No model is called.

    Example: promptbench rank latest --metric exact

    Example: promptbench rank 20261126-0833 --json
    """
    from promptbench.diff.rank import rank_records
    from promptbench.runs import resolve_run

    with user_errors():
        stored = resolve_run(run, runs_dir)
        ref = _wandb.run_ref(stored.meta, stored.run_id) if wandb else None
        report = rank_records(stored.records(), metric, alpha=alpha, run_id=stored.run_id)
    title = f"{stored.suite_name} · run {stored.run_id} · ranked on {metric}"
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        from promptbench.report.rank_table import print_rank

        print_rank(out, report, title)
    if markdown is not None:
        from promptbench.report.rank_table import rank_markdown

        try:
            markdown.write_text(rank_markdown(report, title), encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {markdown}: {exc.strerror}; choose another path") from None
        err.print(f"wrote {markdown}", markup=False, soft_wrap=True)
    if ref is not None:
        from promptbench.report.wandb_out import log_tables
        from promptbench.report.wandb_rows import rank_table

        with user_errors():  # W&B failed: one line naming its directory, exit 4
            where = log_tables(ref, {f"rank/{metric}": rank_table(report)})
        if where:
            err.print(f"W&B: {where}", markup=False, soft_wrap=True)
