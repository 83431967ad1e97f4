"""``promptbench baseline save RUN PATH``: a run's results as a file to commit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import err, fail, out, user_errors
from promptbench.cli.runs import RunsDirOpt

app = typer.Typer(
    help="Baselines: a run's results in a small file to commit, for run --baseline and diff.\n\n"
    "Example: promptbench baseline save latest baselines/triage.json",
    no_args_is_help=True,
)


@app.command()
def save(
    run: Annotated[
        str,
        typer.Argument(
            help="A run id, a unique prefix of one, a run directory, or latest.", metavar="RUN"
        ),
    ],
    path: Annotated[
        Path, typer.Argument(help="The baseline file to write (JSON).", metavar="PATH")
    ],
    no_outputs: Annotated[
        bool,
        typer.Option(
            "--no-outputs", help="Leave the outputs out: a smaller file, but diff shows no text."
        ),
    ] = False,
    runs_dir: RunsDirOpt = None,
) -> None:
    """Write RUN's results to PATH: a compact JSON file meant to be committed.

    Per record: case id, variant, model, repeat, passed, each metric's value and
    verdict, and the output (unless --no-outputs); plus the suite's name, hash,
    metrics and gate.regression rules. Keys and records are in a stable order, one
    record per line, so that a new baseline reads as a diff in review. Nothing secret:
    no API keys, no environment, no base URLs, no error messages.

    Example: promptbench baseline save latest baselines/triage.json

    Then: promptbench run suites/triage.yaml --baseline baselines/triage.json
    """
    from promptbench.diff.baseline import save_baseline
    from promptbench.runs import resolve_run

    with user_errors():
        stored = resolve_run(run, runs_dir)
    if stored.status != "finished":
        err.print(
            f"warning: run {stored.run_id} is {stored.status}; the baseline holds only the "
            "records it finished",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )
    try:
        with user_errors():
            n = save_baseline(stored, path, outputs=not no_outputs)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}; choose another path") from None
    out.print(
        f"wrote {n:,} records of run {stored.run_id} (suite {stored.suite_name}) to {path}",
        markup=False,
        soft_wrap=True,
    )
