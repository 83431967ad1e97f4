"""``promptbench init``: scaffold a working example project.

On a terminal it asks which model the example should use; anywhere else (CI, a
pipe, a script) it asks nothing and uses the options, or the embedded local model.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import fail, out

# The model line of the scaffolded quickstart suite; init swaps it for the one chosen.
LOCAL_LINE = "  tiny: {provider: local, temperature: 0, max_tokens: 24}"
SUITE = "suites/quickstart.yaml"
EXAMPLES_DIR = "examples"  # scaffold/examples/<name>/: the other examples, one directory each


class Example(StrEnum):
    """Which example project to scaffold."""

    quickstart = "quickstart"
    tools = "tools"


# Per example other than the quickstart: its suite, and its model line that init swaps.
EXAMPLE_SUITES: dict[Example, tuple[str, str]] = {
    Example.tools: (
        "suites/tools.yaml",
        "  tiny: {provider: local, chat_format: chatml-function-calling, temperature: 0, "
        "max_tokens: 64}",
    ),
}


class Backend(StrEnum):
    """Where the example's model runs."""

    local = "local"
    server = "server"
    openai = "openai"


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(("__", ".")) or (not prefix and entry.name == EXAMPLES_DIR):
            continue
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _files(entry, rel + "/")
        else:
            found.append((rel, entry))
    return found


def interactive() -> bool:
    """Whether a person is at the keyboard (stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def model_line(
    backend: Backend, base_url: str | None, model: str | None, *, max_tokens: int = 24
) -> str:
    """The suite's model entry for the chosen backend."""
    if backend is Backend.local:
        return LOCAL_LINE
    if backend is Backend.server:
        url = base_url or "http://localhost:11434/v1"
        return (
            f"  main: {{provider: openai, base_url: {url}, model: {model or 'llama3.2'}, "
            f"temperature: 0, max_tokens: {max_tokens}}}"
        )
    return (
        f"  main: {{provider: openai, model: {model or 'gpt-4o-mini'}, temperature: 0, "
        f"max_tokens: {max_tokens}}}"
    )


def _ask() -> tuple[Backend, str | None, str | None]:
    out.print("Which model should the example use?")
    out.print("  1  the embedded local model: SmolLM2-135M on the CPU, no key, no server")
    out.print("  2  an OpenAI-compatible server: Ollama, vLLM, llama.cpp, LM Studio")
    out.print("  3  hosted OpenAI (reads OPENAI_API_KEY)")
    choice = ""
    while choice not in ("1", "2", "3"):
        choice = str(typer.prompt("Choice", default="1")).strip()
    if choice == "2":
        url = typer.prompt("Server URL", default="http://localhost:11434/v1")
        name = typer.prompt("Model name", default="llama3.2")
        return Backend.server, url, name
    if choice == "3":
        return Backend.openai, None, typer.prompt("Model name", default="gpt-4o-mini")
    return Backend.local, None, None


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    backend: Annotated[
        Backend | None,
        typer.Option(
            "--model",
            help="The example's model: local (the embedded model), "
            "server (an OpenAI-compatible URL) or openai. Asked on a terminal.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="The server's URL, for --model server.")
    ] = None,
    model_name: Annotated[
        str | None, typer.Option("--model-name", help="The model's name on the server.")
    ] = None,
    example: Annotated[
        Example,
        typer.Option(
            "--example",
            help="Which example: quickstart (questions on a small model) or tools "
            "(a tool-calling assistant).",
        ),
    ] = Example.quickstart,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Scaffold prompts/, suites/ and data/ with a working example.

    By default the example runs on the embedded local model: no API key, no
    server. On a terminal init asks which model to use; elsewhere it asks nothing.

    Example: promptbench init demo && cd demo && promptbench run suites/quickstart.yaml

    Example: promptbench init demo --model server --base-url http://localhost:8000/v1

    Example: promptbench init agent --example tools
    """
    root = resources.files("promptbench") / "scaffold"
    suite, local_line = SUITE, LOCAL_LINE
    if example is not Example.quickstart:
        root = root / EXAMPLES_DIR / example.value
        suite, local_line = EXAMPLE_SUITES[example]
    files = _files(root)
    existing = [rel for rel, _ in files if (directory / rel).exists()]
    if existing and not force:
        raise fail(
            f"{directory / existing[0]} already exists; use --force to overwrite, "
            "or choose another directory"
        )
    if backend is None:
        backend, base_url, model_name = (
            _ask() if interactive() and not quiet else (Backend.local, None, None)
        )
    for rel, entry in files:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = entry.read_bytes()
        if rel == suite and backend is not Backend.local:
            text = data.decode("utf-8")
            assert local_line in text, "the scaffold's model line changed"
            tokens = 64 if example is Example.tools else 24
            line = model_line(backend, base_url, model_name, max_tokens=tokens)
            data = text.replace(local_line, line).encode()
        target.write_bytes(data)
        if not quiet:
            out.print(f"created {target}", markup=False)
    if not quiet:
        cd = "" if directory == Path(".") else f"cd {directory} && "
        out.print(f"\nnext: {cd}promptbench run {suite}", markup=False)
