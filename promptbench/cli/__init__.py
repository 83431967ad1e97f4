"""The ``promptbench`` command: one small module per command; the only layer that prints.

Commands are imported when used (see :mod:`promptbench.cli._lazy`): ``promptbench run``
imports the run command's module and no other, and ``promptbench --help`` none.
"""

from __future__ import annotations

import typer

from promptbench.cli._lazy import LazyCommand, LazyGroup
from promptbench.cli._optional import OptionalValueCommand

# Every command, in the order the help lists them: its module, the function (or Typer
# app) there, and the first paragraph of its help. tests/cli/test_lazy_commands.py
# checks each summary against the command's own docstring.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "init", "init", "Scaffold prompts/, suites/ and data/ with a working example."
    ),
    "validate": LazyCommand(
        "validate",
        "validate",
        "Check suites: schema, files, templates rendered for every case; no model is called.",
    ),
    "render": LazyCommand(
        "render", "render", "Render prompts for chosen cases; no model is called."
    ),
    "run": LazyCommand(
        "run",
        "run",
        "Run every variant × model × case × repeat, score the outputs, and gate the result.",
        OptionalValueCommand,  # --wandb [PROJECT]
    ),
    "runs": LazyCommand(
        "runs",
        "runs",
        "List stored runs, newest first: id, suite, when, models, pass rates and cost.",
    ),
    "show": LazyCommand(
        "show",
        "show",
        "Reprint a stored run's summary table and gate from its records, or export it again.",
        OptionalValueCommand,
    ),
    "report": LazyCommand(
        "report", "report", "Write a stored run as one HTML file to open in any browser, offline."
    ),
    "diff": LazyCommand(
        "diff",
        "diff",
        "Compare B against A case by case: deltas with 95% intervals, paired tests, flips.",
    ),
    "rank": LazyCommand(
        "rank",
        "rank",
        "Rank every variant × model of a run on one metric, best first, with intervals.",
    ),
    "merge": LazyCommand(
        "merge",
        "merge",
        "Join the runs of `run --shard i/n` into one run, as if it had not been sharded.",
    ),
    "view": LazyCommand(
        "view",
        "view",
        "Browse the stored runs: history charts, any two runs compared, live progress.",
    ),
    "metrics": LazyCommand(
        "catalogue",
        "metrics",
        "List every registered metric: what it checks, its parameters, an example.",
    ),
    "providers": LazyCommand(
        "catalogue",
        "providers",
        "List every registered provider and the fields its model entries accept.",
    ),
    "baseline": LazyCommand(
        "baseline",
        "app",
        "Baselines: a run's results in a small file to commit, for run --baseline and diff.",
    ),
    "cache": LazyCommand("cache", "app", "Inspect or clear the completion cache."),
    "import": LazyCommand(
        "import_", "app", "Import from other tools: promptfoo configs and promptfoo results."
    ),
}


class PromptbenchGroup(LazyGroup):
    """The top-level group: promptbench's commands, each imported when used."""

    lazy_commands = COMMANDS


app = typer.Typer(
    name="promptbench",
    cls=PromptbenchGroup,
    help="Evaluate prompts across models: run suites, score outputs, gate CI.\n\n"
    "Example: promptbench init demo && cd demo && promptbench run suites/quickstart.yaml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _group() -> None:
    # Typer builds a group from a Typer app only when it has a callback or commands,
    # and the commands are not registered with it (PromptbenchGroup has them): this
    # callback does nothing, and the help above is the group's.
    pass


def main() -> None:
    """Entry point of the console script."""
    app()
