"""``promptbench merge``: join shard runs into one run."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from promptbench.cli._common import JsonOpt, out, user_errors
from promptbench.cli.runs import RunsDirOpt


def merge(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="The shard runs: ids, unique prefixes, or run directories.", metavar="RUN..."
        ),
    ],
    runs_dir: RunsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join the runs of `run --shard i/n` into one run, as if it had not been sharded.

    The merged run's summary, CSV and diff are those of an unsharded run of the same
    suite and options. No model is called.

    Example: promptbench merge 20261126-0900-triage-1a2b 20261126-0900-triage-3c4d
    """
    from promptbench.report.terminal import print_summary
    from promptbench.runner.merge import merge_runs
    from promptbench.runner.store import default_runs_dir
    from promptbench.runs import resolve_run

    with user_errors():
        dirs = [resolve_run(ref, runs_dir).run_dir for ref in runs]
        info = merge_runs(dirs, runs_dir or default_runs_dir())
        stored = resolve_run(str(info.run_dir))
        summary = stored.summary()
        verdict = stored.verdict(summary)
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": info.run_id,
                    "run_dir": str(info.run_dir),
                    "merged_from": info.meta.merged_from,
                    "summary": summary.to_json(),
                    "gate": verdict.to_json(),
                },
                indent=2,
            )
        )
        return
    print_summary(
        out,
        summary,
        verdict,
        title=f"{stored.suite_name} · run {info.run_id} (merged from {len(dirs)} shards)",
        run_dir=str(info.run_dir),
        budget=info.meta.budget,
    )
