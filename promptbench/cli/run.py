"""``promptbench run``: the main job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from promptbench.cli import _wandb
from promptbench.cli._common import err, fail, is_tty, out, user_errors

if TYPE_CHECKING:
    from promptbench.api import RunResult

EXIT_CODES = {"passed": 0, "gate_failed": 1, "too_many_errors": 3}


def run(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", metavar="SUITE...")],
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="Only this variant (repeatable).")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Only this model (repeatable).")
    ] = None,
    case: Annotated[
        list[str] | None, typer.Option("--case", "-c", help="Only this case id (repeatable).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Only the first N cases.", min=1)
    ] = None,
    repeat: Annotated[
        int | None, typer.Option("--repeat", "-r", help="Override the suite's repeat.", min=1)
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency", "-j", help="Calls at once (default: the suite's concurrency).", min=1
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Call every model again; do not read or write the cache."),
    ] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write one row per call to this CSV file.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
    runs_dir: Annotated[
        Path | None,
        typer.Option(
            "--runs-dir", help="Where runs are stored (default: ./runs or $PROMPTBENCH_RUNS_DIR)."
        ),
    ] = None,
    max_error_rate: Annotated[
        float | None,
        typer.Option(
            "--max-error-rate", help="Exit 3 when a larger share of calls fails.", min=0, max=1
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    wandb: _wandb.WandbOpt = None,
    wandb_entity: _wandb.EntityOpt = None,
    wandb_group: _wandb.GroupOpt = None,
    wandb_tags: _wandb.TagsOpt = None,
    wandb_name: _wandb.NameOpt = None,
) -> None:
    """Run every variant × model × case × repeat, score the outputs, and gate the result.

    Records stream to runs/<run-id>/records.jsonl as calls finish; a re-run reuses
    the cache, so an interrupted run resumes without paying twice.

    Exit codes: 0 all gates hold, 1 a gate failed, 2 bad usage or invalid suite,
    3 too many call errors for a verdict, 130 interrupted.

    Example: promptbench run suites/triage.yaml -m mini -j 16 --csv results.csv

    Example: promptbench run suites/triage.yaml --wandb triage --wandb-tags nightly
    """
    from promptbench.api import prepare, run_prepared
    from promptbench.report.progress import LiveProgress, PlainProgress
    from promptbench.runner import Observer, RunOptions

    with user_errors():
        options = RunOptions(
            variants=variant,
            models=model,
            cases=case,
            limit=limit,
            repeat=repeat,
            concurrency=concurrency,
            use_cache=not no_cache,
            runs_dir=runs_dir,
            max_error_rate=max_error_rate,
        )
        # Every suite is checked before the first call is made.
        prepared = [prepare(path, options) for path in suites]
    # So are W&B's install, login and project names: nothing is called if one is wrong.
    wb = _wandb.request(wandb, wandb_entity, wandb_group, wandb_tags, wandb_name)
    targets = [
        wb.target(s.name, s.wandb.model_dump() if s.wandb else None) if wb else None
        for s, _ in prepared
    ]

    results: list[RunResult] = []
    for (suite, runner), target in zip(prepared, targets, strict=True):
        observers: list[Observer] = []
        if not quiet:
            observers.append(LiveProgress(err) if is_tty() else PlainProgress(err.file))
        wb_logger = _wandb.logger(suite, target) if target is not None else None
        if wb_logger is not None:
            observers.append(wb_logger)  # after the bar: W&B's last upload follows it
        try:
            with user_errors():
                result = run_prepared(suite, runner, observers)
        except KeyboardInterrupt:
            where = f" in {runner.info.run_dir}" if runner.info else ""
            err.print(
                f"interrupted: {runner.counts['records']} records saved{where}; run the same "
                "command again to resume from the cache",
                style="yellow",
                markup=False,
                soft_wrap=True,  # a path broken over two lines cannot be copied
            )
            raise typer.Exit(130) from None
        results.append(result)
        if wb_logger is not None:
            _wandb.done(wb_logger)
        if csv_path is not None:
            _write_csv(result, csv_path, multiple=len(prepared) > 1)
        if not as_json:
            _print(result)

    if as_json:
        data = [r.to_json() for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
    codes = [EXIT_CODES[r.verdict.outcome.value] for r in results]
    raise typer.Exit(3 if 3 in codes else max(codes, default=0))


def _print(result: RunResult) -> None:
    from promptbench.report.terminal import print_summary

    title = f"{result.suite.name} · run {result.info.run_id}"
    print_summary(
        out, result.summary, result.verdict, title=title, run_dir=str(result.info.run_dir)
    )


def _write_csv(result: RunResult, path: Path, *, multiple: bool) -> None:
    from promptbench.report.csv_out import write_csv
    from promptbench.runner import iter_records

    if multiple:
        path = path.with_name(f"{path.stem}-{result.suite.name}{path.suffix or '.csv'}")
    try:
        n = write_csv(
            path,
            iter_records(result.info.run_dir),
            result.suite.cases.var_names,
            result.summary.metric_names,
        )
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}; choose another --csv path") from None
    err.print(f"wrote {n} rows to {path}", markup=False, soft_wrap=True)
