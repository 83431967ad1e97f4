"""Every command-line mistake, on every option of every command, is one line and exit code 2.

The options are enumerated from the CLI itself, so a new option is covered the day it lands:
a flag is given a value it does not take, an option that takes a value is given a value of
the wrong type where its type can refuse one, and otherwise no value at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from promptbench.cli import app
from tests.helpers.e2e import invoke

ROOT = typer.main.get_command(app)


# Typer vendors its own Click, whose classes are not public: the tree is walked by its
# attributes (a group has ``commands``; an option has ``opts`` and a ``type_descriptor``).


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subs = getattr(group, "commands", None)
    if subs is not None:
        for name, sub in sorted(subs.items()):
            yield from _commands(sub, (*path, name))
    else:
        yield path


def _command(path: tuple[str, ...]) -> Any:
    cmd: Any = ROOT
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def _options(cmd: Any) -> Iterator[Any]:
    for param in cmd.params:
        if param.param_type_name == "option" and not param.hidden and "--help" not in param.opts:
            yield param


COMMANDS = list(_commands(ROOT))


def _bad_values(param: Any) -> Iterator[list[str]]:
    """Arguments that give ``param`` a value its type or range refuses."""
    name = max(param.opts, key=len)
    t = param.type_descriptor.annotation
    if t in (int, float):
        yield [name, "abc"]
        if param.min is not None:
            yield [name, str(param.min - 1)]
    elif isinstance(t, type) and issubclass(t, enum.Enum):
        yield [name, "no-such-choice"]


def _cases() -> Iterator[tuple[tuple[str, ...], str, list[str]]]:
    for path in COMMANDS:
        for param in _options(_command(path)):
            name = max(param.opts, key=len)
            if param.is_flag or param.count:
                yield path, name, [f"{name}=bogus"]
                continue
            for bad in _bad_values(param):
                yield path, name, bad
            if name in getattr(_command(path), "optional_value_options", ()):
                yield path, name, [name, "--no-such-option"]  # its value may be left out
            else:
                yield path, name, [name]  # the value is missing
        yield path, "--no-such-option", ["--no-such-option"]


CASES = list(_cases())


def test_every_option_is_covered() -> None:
    covered = {(p, n) for p, n, _ in CASES}
    for path in COMMANDS:
        for param in _options(_command(path)):
            assert (path, max(param.opts, key=len)) in covered, (path, param.opts)
    assert len(COMMANDS) >= 14  # the command tree was really walked


@pytest.mark.parametrize(
    ("path", "option", "args"),
    CASES,
    ids=lambda v: " ".join(v) if isinstance(v, (tuple, list)) else v,
)
def test_mistake_is_one_line_exit_2(
    path: tuple[str, ...], option: str, args: list[str], tmp_path: object
) -> None:
    # Click parses and converts the options given before it checks for missing arguments,
    # so the mistake under test is the one reported.
    result = invoke(*path, *args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert "Usage:" not in result.stderr and "╭" not in result.stderr
    wrong = "--no-such-option" if "--no-such-option" in args else option
    assert wrong in line, line
    assert f"see 'promptbench {' '.join(path)} --help'" in line


def test_range_violation_names_the_option() -> None:
    result = invoke("run", "suites/x.yaml", "-j", "0")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert "-j" in line or "--concurrency" in line, line


def test_a_missing_argument_is_one_line() -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "SUITE" in result.stderr
