"""``promptbench show RUN``: reopen a stored run, and export it again; no model is called."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli import _wandb
from promptbench.cli._common import CsvRawOpt, JsonOpt, err, fail, out, user_errors
from promptbench.cli.runs import RunArg, RunsDirOpt


def show(
    run: RunArg = "latest",
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write one row per call to this CSV file.")
    ] = None,
    csv_raw: CsvRawOpt = False,
    as_json: JsonOpt = False,
    runs_dir: RunsDirOpt = None,
    wandb: _wandb.WandbOpt = None,
    wandb_entity: _wandb.EntityOpt = None,
    wandb_group: _wandb.GroupOpt = None,
    wandb_tags: _wandb.TagsOpt = None,
    wandb_name: _wandb.NameOpt = None,
) -> None:
    """Reprint a stored run's summary table and gate from its records, or export it again.

    Reads runs/<run-id>/records.jsonl and run.json only: no model is called, and
    the gate is judged as the run judged it. --csv, --json and --wandb export the
    run as `promptbench run` would have. Exit code 4 when W&B fails (one line names
    its directory and the fix); the run on disk is untouched.

    Example: promptbench show latest --csv results.csv

    Example: promptbench show 20261126-0833 --wandb my-project
    """
    from promptbench.runs import resolve_run

    with user_errors():
        stored = resolve_run(run, runs_dir)
        summary = stored.summary()
        probes = stored.probes()
        verdict = stored.verdict(summary, probes)
    wb = _wandb.request(wandb, wandb_entity, wandb_group, wandb_tags, wandb_name)

    if as_json:
        data = {
            "run_id": stored.run_id,
            "run_dir": str(stored.run_dir),
            "suite": stored.suite_name,
            "status": stored.status,
            "started_at": stored.meta.started_at,
            "finished_at": stored.meta.finished_at,
            "outcome": verdict.outcome.value,
            "summary": summary.to_json(),
            "gate": verdict.to_json(),
        }
        if probes:
            from promptbench.stats.probes import report_json

            data["probes"] = report_json(probes)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from promptbench.report.terminal import print_summary

        title = f"{stored.suite_name} · run {stored.run_id}"
        if stored.status != "finished":
            title += f" ({stored.status})"
        if probes:
            from promptbench.report.probes import print_probes

            print_probes(out, probes)
        print_summary(
            out,
            summary,
            verdict,
            title=title,
            run_dir=str(stored.run_dir),
            budget=stored.meta.budget,
        )

    if csv_path is not None:
        from promptbench.report.csv_out import write_csv

        var_names = stored.meta.suite.variables
        try:
            with user_errors():
                n = write_csv(
                    csv_path, stored.records(), var_names, summary.metric_names, raw=csv_raw
                )
        except OSError as exc:
            problem = f"cannot write {csv_path}: {exc.strerror}; choose another --csv path"
            raise fail(problem) from None
        err.print(f"wrote {n} rows to {csv_path}", markup=False, soft_wrap=True)

    if wb is not None:
        from promptbench.report.wandb_out import export_run

        spec = stored.meta.suite.wandb
        target = wb.target(stored.suite_name, spec)
        logger = export_run(stored.info, target, warn=_wandb.warn)
        code = _wandb.done(logger)
        if code:
            raise typer.Exit(code)
