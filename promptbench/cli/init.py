"""``promptbench init``: scaffold a working example project."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import fail, out


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(("__", ".")):
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _files(entry, rel + "/")
        else:
            found.append((rel, entry))
    return found


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Scaffold prompts/, suites/ and data/ with a working example.

    The example runs on the embedded local model: no API key, no server.

    Example: promptbench init demo && cd demo && promptbench run suites/quickstart.yaml
    """
    root = resources.files("promptbench") / "scaffold"
    files = _files(root)
    existing = [rel for rel, _ in files if (directory / rel).exists()]
    if existing and not force:
        raise fail(
            f"{directory / existing[0]} already exists; use --force to overwrite, "
            "or choose another directory"
        )
    for rel, entry in files:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry.read_bytes())
        out.print(f"created {target}", markup=False)
    cd = "" if directory == Path(".") else f"cd {directory} && "
    out.print(f"\nnext: {cd}promptbench run suites/quickstart.yaml", markup=False)
