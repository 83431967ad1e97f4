"""The ``--wandb`` options that ``run`` and ``show`` share, and what they turn into.

wandb is imported only when ``--wandb`` is given: without it nothing is sent to
W&B and none of its code loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptbench.cli._common import err, fail, user_errors

if TYPE_CHECKING:
    from promptbench.report.wandb_out import WandbLogger
    from promptbench.report.wandb_rows import WandbTarget
    from promptbench.runner.runmeta import RunMeta
    from promptbench.suite import Suite

PANEL = "Weights & Biases"

WandbOpt = Annotated[
    str | None,
    typer.Option(
        "--wandb",
        metavar="[PROJECT]",
        show_default=False,
        help="Log to W&B, in PROJECT if given, else the suite's wandb.project, "
        "$WANDB_PROJECT, or the suite name. Put it last, or write --wandb=PROJECT.",
        rich_help_panel=PANEL,
    ),
]
EntityOpt = Annotated[
    str | None,
    typer.Option("--wandb-entity", help="W&B team or user.", rich_help_panel=PANEL),
]
GroupOpt = Annotated[
    str | None,
    typer.Option("--wandb-group", help="W&B run group.", rich_help_panel=PANEL),
]
TagsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--wandb-tags",
        help="W&B tags, added to the suite's (repeatable, or a comma list).",
        rich_help_panel=PANEL,
    ),
]
NameOpt = Annotated[
    str | None,
    typer.Option("--wandb-name", help="W&B run name (default: the run id).", rich_help_panel=PANEL),
]


@dataclass(frozen=True)
class WandbRequest:
    """What the command line asked of W&B; ``project`` "" means the default."""

    project: str
    entity: str | None
    group: str | None
    tags: list[str]
    name: str | None

    def target(self, suite_name: str, suite_spec: Mapping[str, Any] | None) -> WandbTarget:
        """Where one suite's run goes."""
        from promptbench.report.wandb_rows import resolve_target

        with user_errors():
            return resolve_target(
                suite_name,
                suite_spec,
                project=self.project,
                entity=self.entity,
                group=self.group,
                tags=self.tags,
                name=self.name,
            )


def request(
    project: str | None,
    entity: str | None,
    group: str | None,
    tags: list[str] | None,
    name: str | None,
) -> WandbRequest | None:
    """Check the ``--wandb`` options; None when W&B was not asked for.

    Checks the install and the login too, so that a missing one stops the
    command (exit 2) before any model is called.
    """
    if project is None:
        given = [
            opt
            for opt, value in (
                ("--wandb-entity", entity),
                ("--wandb-group", group),
                ("--wandb-tags", tags),
                ("--wandb-name", name),
            )
            if value
        ]
        if given:
            raise fail(f"{given[0]} only takes effect with --wandb; add --wandb")
        return None
    from promptbench.report.wandb_out import preflight
    from promptbench.report.wandb_rows import split_tags

    with user_errors():
        preflight()
    return WandbRequest(project.strip(), entity, group, split_tags(tags), name)


def logger(suite: Suite, target: WandbTarget) -> WandbLogger:
    """A runner observer logging one suite's run to W&B."""
    from promptbench.report.wandb_out import WandbLogger
    from promptbench.report.wandb_rows import Redactor

    # Besides variables named like credentials, mask the keys this suite's models use.
    env_names, files = ["OPENAI_API_KEY"], []
    for model in suite.models.values():
        if isinstance(name := getattr(model, "api_key_env", None), str):
            env_names.append(name)
        if isinstance(file := getattr(model, "api_key_file", None), str):
            files.append(Path(file))
    redactor = Redactor.from_environment(env_names, files)
    return WandbLogger(target, warn=warn, redactor=redactor)


def run_ref(meta: RunMeta, run_id: str) -> dict[str, Any]:
    """The W&B run a stored run was logged to, checked (install, login) before any work."""
    from promptbench.errors import UsageError
    from promptbench.report.wandb_out import preflight

    if meta.wandb_run is None:
        raise UsageError(
            f"run {run_id} was not logged to W&B, so there is no W&B run to add the table to; "
            "run the suite with --wandb"
        )
    preflight()
    return meta.wandb_run.model_dump()


def warn(message: str) -> None:
    """A W&B problem that does not stop the run: one yellow line on stderr."""
    err.print(message, style="yellow", markup=False, soft_wrap=True)


def done(logger: WandbLogger) -> int:
    """Say where the W&B run is, or why it failed; the exit code W&B calls for.

    A W&B failure is an infrastructure fault, exit code 4, whatever the gate said: the
    gate's verdict is printed as it stands (a W&B failure never fails a gate), and the
    records are kept for ``promptbench show RUN --wandb``.
    """
    if logger.error is not None:
        err.print(f"error: {logger.error}", style="red", markup=False, soft_wrap=True)
        return logger.error.exit_code
    if logger.location:
        err.print(f"W&B: {logger.location}", markup=False, soft_wrap=True)
    return 0
