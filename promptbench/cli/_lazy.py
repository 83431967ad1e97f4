"""Commands imported when they are used, not when ``promptbench`` starts.

Each command lives in its own module, and building one (Typer reads its signature and
type hints) costs time too: ``promptbench validate`` has no use for the other sixteen,
and ``promptbench --help`` needs only their names and first lines. The group below
knows every command by name (:data:`promptbench.cli.COMMANDS`); its ``commands``
mapping imports and builds a command on first access, exactly as ``app.command()``
would have when the CLI was built eagerly. While the group's own help is drawn, a
command that is not built yet stands in as its summary line (a test checks each
summary against the command's docstring and the help against an eagerly built app).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand

from promptbench.cli._errors_group import OneLineErrorsGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined, and the line the group's help shows for it."""

    module: str  # a module of promptbench.cli
    attr: str  # a command function, or a Typer app (a group of commands)
    summary: str  # the first paragraph of its help
    cls: type[TyperCommand] | None = None  # as for app.command(cls=...)


def build(name: str, entry: LazyCommand) -> Any:
    """The Click command (Typer's vendored Click) that ``app.command()`` would have made."""
    obj = getattr(import_module(f"promptbench.cli.{entry.module}"), entry.attr)
    holder = typer.Typer()
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)
    else:
        holder.command(cls=entry.cls)(obj)
    built = typer.main.get_group(holder).commands
    if name not in built:  # the table names a command by another name than Typer does
        raise LookupError(f"promptbench.cli.{entry.module}.{entry.attr} is not command {name!r}")
    return built[name]


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, each built on first access."""

    def __init__(self, built: MutableMapping[str, Any], lazy: Mapping[str, LazyCommand]) -> None:
        self._built = built
        self._lazy = lazy
        self.summaries_only = False  # set while the group's own help is drawn

    def __getitem__(self, name: str) -> Any:
        command = self._built.get(name)
        if command is not None:
            return command
        entry = self._lazy[name]  # KeyError: no such command
        if self.summaries_only:
            return TyperCommand(name, help=entry.summary)
        command = self._built[name] = build(name, entry)
        return command

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._lazy
        yield from (name for name in self._built if name not in self._lazy)

    def __len__(self) -> int:
        return len(self._lazy) + sum(1 for name in self._built if name not in self._lazy)

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._built

    def loaded(self) -> list[str]:
        """The commands built so far."""
        return list(self._built)


class LazyGroup(OneLineErrorsGroup):
    """The top-level group: the commands of ``lazy_commands``, built when used."""

    lazy_commands: Mapping[str, LazyCommand] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands, self.lazy_commands)

    def list_commands(self, ctx: Any) -> list[str]:  # ctx: typer's click Context
        """Every command's name, in the table's order, without building any."""
        return list(self.commands)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Draw the group's help from the commands' summaries: none is imported for it."""
        commands = self.commands
        if not isinstance(commands, LazyCommands):
            super().format_help(ctx, formatter)
            return
        commands.summaries_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            commands.summaries_only = False
