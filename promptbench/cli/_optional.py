"""Options whose value may be left out: ``--wandb`` alone, or ``--wandb PROJECT``.

Typer's parser has no optional option values, so such an option is declared as a
plain string option and its command's arguments are rewritten before parsing: a
bare ``--wandb`` becomes ``--wandb=`` (the empty string, "use the default").
The next word is taken as the value only when it cannot be anything else: it
does not start with ``-`` and is not an existing path (a W&B project name has no
``/``, and a suite or run directory does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from typer.core import TyperCommand


def rewrite(args: list[str], options: tuple[str, ...]) -> list[str]:
    """``args`` with every bare ``options`` entry given an explicit value."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":  # everything after it is positional
            out += args[i:]
            break
        if arg in options:
            nxt = args[i + 1] if i + 1 < len(args) else None
            if nxt is not None and not nxt.startswith("-") and not Path(nxt).exists():
                out.append(f"{arg}={nxt}")
                i += 2
                continue
            out.append(f"{arg}=")
        else:
            out.append(arg)
        i += 1
    return out


class OptionalValueCommand(TyperCommand):
    """A command whose ``optional_value_options`` may be given without a value."""

    optional_value_options: ClassVar[tuple[str, ...]] = ("--wandb",)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: typer's click Context
        """Rewrite bare optional-value options, then parse as usual."""
        return super().parse_args(ctx, rewrite(args, self.optional_value_options))
