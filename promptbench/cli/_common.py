"""What every command shares: consoles, error handling, option types."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeGuard

import typer
from rich.console import Console

from promptbench.errors import PromptbenchError, SuiteError

if TYPE_CHECKING:
    from pydantic import ValidationError


def _width(stream: object) -> int | None:
    # Piped output (CI logs, files) has no terminal width; rich would squeeze tables
    # into 80 columns, so give it room unless the user set COLUMNS.
    isatty = getattr(stream, "isatty", None)
    if (isatty is not None and isatty()) or os.environ.get("COLUMNS"):
        return None
    return 200


# Results go to stdout; progress, warnings and errors to stderr.
out = Console(highlight=False, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, width=_width(sys.stderr))

SuiteArg = Annotated[
    Path,
    typer.Argument(help="The suite YAML file.", show_default=False, metavar="SUITE"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
CsvRawOpt = Annotated[
    bool,
    typer.Option(
        "--csv-raw",
        help="Write CSV text cells as they are: no apostrophe before a cell that begins "
        "with = + - @ (by default such cells are escaped so a spreadsheet never runs them).",
    ),
]


# The flag that sets each run option an error's ``hint`` can name. Lower layers say
# what is wrong in their own terms (a Python API user has no flags); the CLI adds the flag.
OPTION_FLAGS = {
    "use_cache": "--no-cache",
    "user_code": "--no-user-code",
    "max_cost": "--max-cost",
    "shard": "--shard",
    "runs_dir": "--runs-dir",
    "cache_path": "PROMPTBENCH_CACHE",
    "resume": "--fresh",
}


def with_flag(message: str, hint: str | None) -> str:
    """``message``, followed by the flag that sets the run option ``hint`` names."""
    flag = OPTION_FLAGS.get(hint or "")
    return f"{message} ({flag})" if flag else message


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one red line on stderr and return the Exit to raise."""
    err.print(f"error: {message}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn promptbench's own errors into one line on stderr and their exit code."""
    try:
        yield
    except SuiteError as exc:
        for issue in exc.issues:
            err.print(with_flag(str(issue), issue.hint), style="red", markup=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except PromptbenchError as exc:
        raise fail(with_flag(str(exc), exc.hint), exc.exit_code) from None
    except Exception as exc:
        if not _is_validation_error(exc):
            raise
        # Options the command line gave, checked by their model.
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "option"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise fail(f"--{field.replace('_', '-')}: {message}") from None


def _is_validation_error(exc: Exception) -> TypeGuard[ValidationError]:
    # pydantic is imported by the commands that check options with it, not here: it is
    # a tenth of a second of `promptbench --help`. Not imported, it raised nothing.
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def command_line() -> list[str] | None:
    """The arguments promptbench was started with, for run.json; None when not its CLI."""
    if sys.argv and "promptbench" in sys.argv[0]:
        return sys.argv[1:]
    return None  # a test runner, or a script that called the CLI's functions


def is_tty() -> bool:
    """Whether stderr is an interactive terminal (progress bars make sense)."""
    return err.is_terminal and sys.stderr.isatty()


def missing_extra(what: str, package: str, extra: str) -> typer.Exit:
    """The one-line error for an optional dependency that is not installed."""
    return fail(f"{what} needs {package}, which is not installed: pip install -e '.[{extra}]'")
