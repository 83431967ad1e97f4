"""The top-level command group: every command-line mistake is one line, exit code 2.

Click would print a multi-line usage box for a mistyped option or a bad value. The group
runs Click (vendored by Typer) in non-standalone mode and turns its usage errors into one
line that names the option and points at ``--help``; everything else keeps Click's and
Typer's behaviour.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from promptbench.cli._common import err


def command_path(group: Any, args: list[str], prog: str = "promptbench") -> str:
    """The command that ``args`` name (``promptbench baseline save``), for the --help hint."""
    words = [prog]
    for arg in args:
        subs = getattr(group, "commands", None)
        if subs is None or arg not in subs:
            break
        words.append(arg)
        group = subs[arg]
    return " ".join(words)


def usage_line(exc: typer.TyperException, command: str) -> str:
    """A usage error as one line: what is wrong, with which option, and where to look."""
    message = " ".join(exc.format_message().split()).rstrip(".")  # one line, however wrapped
    ctx = getattr(exc, "ctx", None)
    # Errors raised while parsing carry no context; the words typed name the command.
    where = getattr(ctx, "command_path", None) if ctx is not None else None
    if not where or where == "promptbench":
        where = command
    return f"error: {message}; see '{where} --help'"


class OneLineErrorsGroup(TyperGroup):
    """A Typer group whose usage errors are one line on stderr and exit code 2."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; in standalone mode, exit with its code."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:  # Ctrl-C at a prompt, or end of input
            if not standalone_mode:
                raise
            err.print("interrupted", style="red", markup=False)
            sys.exit(130)
        except typer.TyperException as exc:  # Typer's (vendored) Click errors
            # Usage errors (exit code 2) name the command's --help; others (a file Click
            # could not open) are one line too.
            words = list(sys.argv[1:] if args is None else args)
            line = (
                usage_line(exc, command_path(self, words))
                if exc.exit_code == 2
                else f"error: {' '.join(exc.format_message().split())}"
            )
            err.print(line, style="red", markup=False, soft_wrap=True)
            if not standalone_mode:
                raise
            sys.exit(exc.exit_code)
        if not standalone_mode:
            return rv
        # Non-standalone Click returns an Exit's code instead of exiting.
        sys.exit(rv if isinstance(rv, int) else 0)
