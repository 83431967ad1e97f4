"""``promptbench run``: the main job."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from promptbench.cli import _ci, _wandb
from promptbench.cli._common import (
    CsvRawOpt,
    command_line,
    err,
    fail,
    is_tty,
    out,
    user_errors,
)
from promptbench.cli.report import HtmlOpt, html_after_run

if TYPE_CHECKING:
    from promptbench.api import RunResult
    from promptbench.runner import Runner, RunOptions
    from promptbench.suite import Suite

EXIT_CODES = {
    "passed": 0,
    "no_gate": 0,
    "gate_failed": 1,
    "too_many_errors": 3,
    "budget_exceeded": 3,
    "interrupted": 130,
}


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
    no_user_code: Annotated[
        bool,
        typer.Option(
            "--no-user-code",
            help="Refuse a suite that would run Python from its files "
            "(python: metrics): for suites from untrusted pull requests.",
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Start a new run even if the same job was left unfinished "
            "(by default it is taken up where it stopped).",
        ),
    ] = False,
    csv_path: Annotated[
        Path | None, typer.Option("--csv", help="Write one row per call to this CSV file.")
    ] = None,
    csv_raw: CsvRawOpt = False,
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Count the calls, tokens and cost per model, and what is cached; call nothing.",
        ),
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="Start no call that would take the spend past this many "
            "USD; exit 3 if it stops the run.",
            min=0,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Run the i-th of n disjoint shares of the cases, as i/n; "
            "join the runs with promptbench merge.",
        ),
    ] = None,
    probe: Annotated[
        list[str] | None,
        typer.Option(
            "--probe",
            help="Only this probe of the suite's probes: (repeatable); the others make no twins.",
        ),
    ] = None,
    no_probes: Annotated[
        bool, typer.Option("--no-probes", help="Run no probe: the cases only.")
    ] = False,
    probes_only: Annotated[
        bool,
        typer.Option(
            "--probes-only",
            help="Judge the probes only: their gates and robustness tables, not the suite's "
            "own gate (the originals still run, from the cache when they can: twins are "
            "compared with them).",
        ),
    ] = False,
    wandb: _wandb.WandbOpt = None,
    wandb_entity: _wandb.EntityOpt = None,
    wandb_group: _wandb.GroupOpt = None,
    wandb_tags: _wandb.TagsOpt = None,
    wandb_name: _wandb.NameOpt = None,
    baseline: _ci.BaselineOpt = None,
    sequential: _ci.SequentialOpt = False,
    junit: _ci.JunitOpt = None,
    markdown: _ci.MarkdownOpt = None,
    html: HtmlOpt = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Run again whenever the suite, a template, a dataset or a python: metric "
            "file is saved (the cache makes unchanged calls free); after each run, the diff "
            "against the previous one. Ctrl-C stops (exit 130).",
        ),
    ] = False,
) -> None:
    """Run every variant × model × case × repeat, score the outputs, and gate the result.

    Records stream to runs/<run-id>/records.jsonl as calls finish; a re-run reuses
    the cache, so an interrupted run resumes without paying twice.

    Exit codes: 0 all gates hold, 1 a gate failed (or a regression against --baseline),
    2 bad usage or invalid suite,
    3 too many call errors for a verdict, 4 an infrastructure fault (disk, runs
    directory, W&B), 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP.

    Example: promptbench run suites/triage.yaml -m mini -j 16 --csv results.csv

    Example: promptbench run suites/triage.yaml --wandb triage --wandb-tags nightly

    Example: promptbench run suites/triage.yaml --watch
    Example: promptbench run suites/probes.yaml --probe typos --probe gender

    Example: promptbench run suites/triage.yaml --baseline baselines/triage.json --junit
    junit.xml --markdown report.md
    """
    from promptbench.api import prepare, run_prepared
    from promptbench.runner import BaseObserver, Observer, RunOptions

    class _Notices(BaseObserver):
        """Prints what the run says without stopping for it (the cache failed)."""

        def on_notice(self, message: str) -> None:
            err.print(message, style="yellow", markup=False, soft_wrap=True)

    with user_errors():
        options = RunOptions(
            variants=variant,
            models=model,
            cases=case,
            limit=limit,
            repeat=repeat,
            concurrency=concurrency,
            use_cache=not no_cache,
            resume=not fresh,
            user_code=not no_user_code,
            runs_dir=runs_dir,
            max_error_rate=max_error_rate,
            max_cost=max_cost or None,
            shard=_shard(shard),
            order_seed=0 if sequential else None,
            command=command_line(),
            probes=[] if no_probes else probe,
            probes_only=probes_only,
        )
        if sequential and baseline is None:
            raise fail("--sequential needs --baseline: it stops once the comparison is settled")
        if watch:
            _watch(suites, options, quiet=quiet, refused=_watch_refused(locals()))
        if no_probes and (probe or probes_only):
            raise fail("--no-probes cannot be combined with --probe or --probes-only")
        # Every suite is checked before the first call is made.
        prepared = [prepare(path, options) for path in suites]
    for suite, _ in prepared:
        if suite.cases.note:  # such as: offline, the hub dataset is read from the local cache
            err.print(f"note: {suite.cases.note}", markup=False, soft_wrap=True)
    if dry_run:
        _dry_run(prepared, options, as_json)
        return
    ci = _ci.RunCi.prepare(baseline, junit, markdown, [s for s, _ in prepared])  # --baseline ...
    ci.sequential = sequential
    # So are W&B's install, login and project names: nothing is called if one is wrong.
    wb = _wandb.request(wandb, wandb_entity, wandb_group, wandb_tags, wandb_name)
    targets = [
        wb.target(s.name, s.wandb.model_dump() if s.wandb else None) if wb else None
        for s, _ in prepared
    ]

    results: list[RunResult] = []
    wandb_codes: list[int] = []  # 4 where W&B failed: said after the run, which went on
    for (suite, runner), target in zip(prepared, targets, strict=True):
        observers: list[Observer] = [_Notices()]  # even with --quiet
        if not quiet:
            from promptbench.report.progress import LiveProgress, PlainProgress  # rich.progress

            observers.append(LiveProgress(err) if is_tty() else PlainProgress(err.file))
        wb_logger = _wandb.logger(suite, target) if target is not None else None
        if wb_logger is not None:
            observers.append(wb_logger)  # after the bar: W&B's last upload follows it
        monitor = ci.monitor(suite, runner)  # --sequential: settles the verdict, stops early
        if monitor is not None:
            observers.append(monitor)
        try:
            with user_errors():
                result = run_prepared(suite, runner, observers)
        except KeyboardInterrupt as exc:
            # 128 + the signal's number, as a shell reports a process its signal ended:
            # 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP.
            signum = getattr(exc, "signum", signal.SIGINT)
            word = "interrupted" if signum == signal.SIGINT else signal.Signals(signum).name
            where = f" in {runner.info.run_dir}" if runner.info else ""
            err.print(
                f"{word}: {runner.counts['records']} records saved{where}; run the same "
                "command again to take it up where it stopped",
                style="yellow",
                markup=False,
                soft_wrap=True,  # a path broken over two lines cannot be copied
            )
            raise typer.Exit(128 + signum) from None
        results.append(result)
        if csv_path is not None:
            _write_csv(result, csv_path, multiple=len(prepared) > 1, raw=csv_raw)
        if html is not None:
            html_after_run(result, html, multiple=len(prepared) > 1)
        if not as_json:
            _print(result)
        ci.after(result, multiple=len(prepared) > 1, show=not as_json, runner=runner)
        if wb_logger is not None:  # last, so that a W&B failure is the line a reader sees
            wandb_codes.append(_wandb.done(wb_logger))

    if as_json:
        data = [ci.to_json(r) for r in results]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False))
    # 1: regressed; 4: W&B failed (it outranks a gate's 0 or 1, never the 3 of no verdict).
    codes = [EXIT_CODES[r.verdict.outcome.value] for r in results] + ci.codes + wandb_codes
    raise typer.Exit(3 if 3 in codes else max(codes, default=0))


def _watch_refused(given: dict[str, object]) -> list[str]:
    """The options that make no sense in a loop that a person watches."""
    flags = {
        "dry_run": "--dry-run",
        "as_json": "--json",
        "csv_path": "--csv",
        "wandb": "--wandb",
        "baseline": "--baseline",
        "junit": "--junit",
        "markdown": "--markdown",
        "html": "--html",
    }
    return [flag for name, flag in flags.items() if given.get(name) not in (None, False)]


def _watch(suites: list[Path], options: RunOptions, *, quiet: bool, refused: list[str]) -> None:
    from promptbench.cli.watch import watch
    from promptbench.report.progress import LiveProgress, PlainProgress
    from promptbench.runner import Observer

    if refused:
        raise fail(f"--watch runs in a loop at the terminal; leave out {', '.join(refused)}")

    def observers() -> list[Observer]:
        if quiet:
            return []
        return [LiveProgress(err) if is_tty() else PlainProgress(err.file)]

    watch(suites, options, observers, _print)


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    i, sep, n = text.partition("/")
    if not sep or not i.strip().isdigit() or not n.strip().isdigit():
        raise fail(f"--shard {text!r}: write it as i/n, such as 1/4")
    return int(i), int(n)


def _dry_run(prepared: list[tuple[Suite, Runner]], options: RunOptions, as_json: bool) -> None:
    from promptbench.report.plan_table import print_plan
    from promptbench.runner.plan import plan
    from promptbench.runner.selection import select

    report = []
    with user_errors():
        for suite, _ in prepared:
            plans = plan(suite, options)
            variants, models = select(suite, options)
            chosen = set(variants) | set(models)
            points = [p for p in suite.grid_points if p.name in chosen]
            report.append(
                {
                    "suite": suite.name,
                    "variants": variants,
                    "grid": {p.name: p.as_dict() for p in points},
                    "models": [p.to_json() for p in plans],
                }
            )
            if not as_json:
                print_plan(out, suite.name, plans, points, variants)
    if as_json:
        print(json.dumps(report[0] if len(report) == 1 else report, indent=2))


def _print(result: RunResult) -> None:
    from promptbench.report.terminal import print_summary

    title = f"{result.suite.name} · run {result.info.run_id}"
    if result.probes:
        from promptbench.report.probes import print_probes

        print_probes(out, result.probes)
    print_summary(
        out,
        result.summary,
        result.verdict,
        title=title,
        run_dir=str(result.info.run_dir),
        budget=result.info.meta.budget,
    )


def _write_csv(result: RunResult, path: Path, *, multiple: bool, raw: bool) -> None:
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
            raw=raw,
        )
        if result.probes:
            from promptbench.report.probes import write_probes_csv

            probes_path = path.with_name(f"{path.stem}-probes{path.suffix or '.csv'}")
            rows = write_probes_csv(probes_path, result.probes)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}; choose another --csv path") from None
    err.print(f"wrote {n} rows to {path}", markup=False, soft_wrap=True)
    if result.probes:
        err.print(f"wrote {rows} probe rows to {probes_path}", markup=False, soft_wrap=True)
