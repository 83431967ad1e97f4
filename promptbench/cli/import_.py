"""``promptbench import``: bring promptfoo configs and results over."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptbench.cli._common import JsonOpt, err, fail, out, user_errors
from promptbench.cli.runs import RunsDirOpt

if TYPE_CHECKING:
    from promptbench.importers.promptfoo_config import Conversion

app = typer.Typer(
    help="Import from other tools: promptfoo configs and promptfoo results.",
    no_args_is_help=True,
)

ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")]


def _known_providers() -> set[str]:
    from promptbench.providers import providers

    return set(providers.names())


def _convert(config: Path, suite_path: Path, data: dict[str, Any] | None = None) -> Conversion:
    from promptbench.importers.promptfoo_config import convert_config, read_config

    raw = data if data is not None else read_config(config)
    return convert_config(raw, config, suite_path, providers=_known_providers())


def _header(config: Path) -> str:
    return (
        f"Imported from {config.name} by `promptbench import promptfoo`.\n"
        "Comments say where a value came from and what the importer changed."
    )


def _write(conversion: Conversion, suite_path: Path, header: str, force: bool) -> list[Path]:
    targets = {suite_path: conversion.text(header)}
    for name, text in conversion.files.items():
        targets[suite_path.parent / name] = text
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise fail(f"{existing[0]} exists; choose another -o, or overwrite with --force")
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    for path, text in targets.items():
        path.write_text(text, encoding="utf-8")
    return list(targets)


def _problems(suite_path: Path) -> list[str]:
    """Why the written suite does not validate (empty when it does)."""
    from promptbench.errors import SuiteError, UsageError
    from promptbench.suite import load_suite

    try:
        suite = load_suite(suite_path)
    except SuiteError as exc:
        return [str(i) for i in exc.issues]
    except UsageError as exc:
        return [str(exc)]
    return [str(i) for i in suite.render_issues()]


def promptfoo(
    config: Annotated[
        Path,
        typer.Argument(help="The promptfoo config.", metavar="[CONFIG]", show_default=False),
    ] = Path("promptfooconfig.yaml"),
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="The suite to write (default: suites/<description>.yaml)."
        ),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a suite from a promptfoo config: prompts, providers, tests and assertions.

    What cannot be converted (JavaScript assertions, custom providers, transforms,
    red-team sections, ...) is listed one per line with its place in the config and
    what to do instead; the suite is written for the rest, and the exit code is 1
    when anything was left out.

    Example: promptbench import promptfoo promptfooconfig.yaml -o suites/triage.yaml
    """
    from promptbench.importers.promptfoo_config import (
        conversion_summary,
        left_out_json,
        read_config,
    )
    from promptbench.importers.promptfoo_prompts import slug

    with user_errors():
        data = read_config(config)
        if output is None:
            output = (
                Path("suites") / f"{slug(str(data.get('description') or ''), 'promptfoo')}.yaml"
            )
        conversion = _convert(config, output, data)
        written = _write(conversion, output, _header(config), force)
        problems = _problems(output)
    summary = conversion_summary(conversion)
    if as_json:
        print(
            json.dumps(
                {
                    "suite": str(output),
                    "files": [str(p) for p in written],
                    **summary,
                    "left_out": left_out_json(conversion),
                    "invalid": problems,
                },
                indent=2,
            )
        )
    else:
        for item in conversion.left_out:
            err.print(f"left out: {item}", markup=False, soft_wrap=True)
        for problem in problems:
            err.print(f"invalid: {problem}", style="red", markup=False, soft_wrap=True)
        out.print(
            f"wrote {output}: {summary['variants']} variant(s) × {summary['models']} model(s) × "
            f"{summary['cases']} case(s)"
            + (f"; {len(conversion.left_out)} thing(s) left out" if conversion.left_out else ""),
            markup=False,
            soft_wrap=True,
        )
        if not problems:
            out.print(f"run it: promptbench run {output}", markup=False, soft_wrap=True)
    raise typer.Exit(1 if conversion.left_out or problems else 0)


def promptfoo_results(
    results: Annotated[
        Path, typer.Argument(help="promptfoo's results (eval -o out.json).", metavar="OUT.json")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="The config the results were made with (default: the one inside them; "
            "give it when its tests are in files relative to it).",
        ),
    ] = None,
    suite: Annotated[
        Path | None,
        typer.Option(
            "--suite",
            help="The suite `import promptfoo` wrote from that config, so that the run is "
            "of that suite (default: a fresh conversion).",
        ),
    ] = None,
    runs_dir: RunsDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store a promptfoo results file as a promptbench run, to compare with `diff`.

    Each result becomes a record of the imported suite's case, variant and model,
    with promptfoo's verdict and its assertions' scores as the metrics' scores.
    Results of prompts or providers that the suite left out are skipped, each
    listed; the exit code is then 1.

    Example: promptbench import promptfoo-results out.json --suite suites/triage.yaml
    """
    import tempfile

    from promptbench.importers.promptfoo_config import read_config
    from promptbench.importers.promptfoo_prompts import slug
    from promptbench.importers.promptfoo_results import (
        read_results,
        records_from_results,
        write_run,
    )
    from promptbench.runner.store import default_runs_dir
    from promptbench.suite import load_suite

    with user_errors():
        imported = read_results(results)
        data = read_config(config) if config is not None else imported.config
        config_path = config if config is not None else results.parent / "promptfooconfig.yaml"
        with tempfile.TemporaryDirectory(prefix="promptbench-import-") as tmp:
            # Named as `import promptfoo` names it by default, so that the runs match.
            stem = slug(str(data.get("description") or ""), "promptfoo")
            suite_path = suite if suite is not None else Path(tmp) / f"{stem}.yaml"
            conversion = _convert(config_path, suite_path, data)
            if suite is None:
                _write(conversion, suite_path, _header(config_path), force=False)
            loaded = load_suite(suite_path)
            records = records_from_results(imported, conversion, loaded)
            info = write_run(records, loaded, runs_dir or default_runs_dir(), results, imported)
    if as_json:
        print(
            json.dumps(
                {
                    "run_id": info.run_id,
                    "run_dir": str(info.run_dir),
                    "records": len(records),
                    "skipped": imported.skipped,
                },
                indent=2,
            )
        )
        raise typer.Exit(1 if imported.skipped else 0)
    for line in imported.skipped:
        err.print(f"skipped: {line}", markup=False, soft_wrap=True)
    out.print(
        f"stored {len(records)} promptfoo result(s) as run {info.run_id} ({info.run_dir}); "
        f"compare: promptbench diff {info.run_id} latest",
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(1 if imported.skipped else 0)


app.command("promptfoo")(promptfoo)
app.command("promptfoo-results")(promptfoo_results)
