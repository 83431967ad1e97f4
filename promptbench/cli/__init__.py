"""The ``promptbench`` command: one small module per command; the only layer that prints."""

from __future__ import annotations

import typer

from promptbench.cli import (
    baseline,
    cache,
    catalogue,
    diff,
    import_,
    init,
    merge,
    rank,
    render,
    report,
    run,
    runs,
    show,
    validate,
    view,
)
from promptbench.cli._errors_group import OneLineErrorsGroup
from promptbench.cli._optional import OptionalValueCommand

app = typer.Typer(
    name="promptbench",
    cls=OneLineErrorsGroup,
    help="Evaluate prompts across models: run suites, score outputs, gate CI.\n\n"
    "Example: promptbench init demo && cd demo && promptbench run suites/quickstart.yaml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command()(init.init)
app.command()(validate.validate)
app.command()(render.render)
app.command(cls=OptionalValueCommand)(run.run)  # --wandb [PROJECT]
app.command()(runs.runs)
app.command(cls=OptionalValueCommand)(show.show)
app.command()(report.report)
app.command()(diff.diff)
app.command()(rank.rank)
app.command()(merge.merge)
app.command()(view.view)
app.add_typer(baseline.app, name="baseline")
app.add_typer(cache.app, name="cache")
app.add_typer(import_.app, name="import")
app.command()(catalogue.metrics)
app.command()(catalogue.providers)


def main() -> None:
    """Entry point of the console script."""
    app()
