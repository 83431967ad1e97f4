"""``promptbench diff A B``: whether B is better or worse than A, or the same within noise."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from promptbench.cli import _ci, _wandb
from promptbench.cli._common import JsonOpt, err, out, user_errors
from promptbench.cli.report import HtmlOpt
from promptbench.cli.runs import RunsDirOpt

if TYPE_CHECKING:
    from promptbench.report.diff_terminal import Only as OnlyName


class Only(StrEnum):
    """What ``--only`` keeps in the report."""

    regressions = "regressions"
    improvements = "improvements"
    flips = "flips"


def diff(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="A and B: run ids (or unique prefixes), run directories, latest, or baseline "
            "files. One run (default: latest) with --variants or --models.",
            metavar="[A] [B]",
            show_default=False,
        ),
    ] = None,
    variants: Annotated[
        tuple[str, str] | None,
        typer.Option("--variants", metavar="A B", help="Compare two variants of one run."),
    ] = None,
    models: Annotated[
        tuple[str, str] | None,
        typer.Option("--models", metavar="A B", help="Compare two models of one run."),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", "-v", help="Only pairs of this variant (repeatable)."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Only pairs of this model (repeatable)."),
    ] = None,
    only: Annotated[
        Only | None,
        typer.Option(
            "--only",
            help="Show only worse metrics and pass→fail cases, or the reverse, "
            "or only the flipped cases.",
            case_sensitive=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="Flipped cases shown per pair.", min=0)
    ] = 10,
    alpha: Annotated[
        float,
        typer.Option("--alpha", help="Significance level, after Holm's correction (0 to 0.5)."),
    ] = 0.05,
    detect: Annotated[
        float,
        typer.Option(
            "--detect",
            help="The difference to plan for: how many cases a suite needs to see it "
            "(0.05: 5 points).",
        ),
    ] = 0.05,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when B is significantly worse than A by more than the suite's "
            "gate.regression margins (without rules: any metric significantly worse).",
        ),
    ] = False,
    markdown: _ci.MarkdownOpt = None,
    junit: _ci.JunitOpt = None,
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
    runs_dir: RunsDirOpt = None,
    best: Annotated[
        bool,
        typer.Option(
            "--best",
            help="Compare every variant × model of one run with the best on --metric: the "
            "ranking and the set as good as the best, as promptbench rank shows them.",
        ),
    ] = False,
    metric: Annotated[
        str, typer.Option("--metric", "-M", help="With --best: the metric to rank on.")
    ] = "pass_rate",
    wandb: Annotated[
        bool,
        typer.Option(
            "--wandb",
            help="Log the diff table to the W&B run of the run compared (B; with --variants, "
            "--models or --best, the one run), which was logged with --wandb.",
            rich_help_panel=_wandb.PANEL,
        ),
    ] = False,
) -> None:
    """Compare B against A case by case: deltas with 95% intervals, paired tests, flips.

    Cases are paired by id (and repeat) and repeats are clustered by case. For each
    metric and the pass rate: both means, B − A with a bootstrap interval, the paired
    test's p-value after Holm's correction over everything compared, a verdict (better,
    worse, no detectable difference) and the smallest difference the sample can detect.
    Then the cases that flipped, with both outputs and a word diff.

    Exit codes: 0 compared (whatever the verdicts), 1 with --fail-on-regression and a
    regression found, 2 bad usage.

    Example: promptbench diff --variants terse guided

    Example: promptbench diff baselines/triage.json latest --only regressions

    Example: promptbench diff 20261126-0833 20261127-0910 --fail-on-regression --markdown diff.md

    Example: promptbench diff latest --best --metric exact
    """
    if best:
        from promptbench.cli.rank import rank

        if (refs and len(refs) > 1) or variants or models:
            with user_errors():
                raise _ci.usage("--best ranks the settings of ONE run; give one run")
        rank(
            run=(refs or ["latest"])[0],
            metric=metric,
            alpha=alpha,
            as_json=as_json,
            markdown=markdown,
            runs_dir=runs_dir,
            wandb=wandb,
        )
        return
    from promptbench.diff import DiffOptions, open_source
    from promptbench.diff.api import compare_sides

    given = list(refs or [])
    with user_errors():
        if len(given) > 2:
            raise _ci.usage(f"give at most two runs to compare, got {len(given)}")
        if variants and models:
            raise _ci.usage("give --variants or --models, not both")
        options = DiffOptions(
            variants=variants,
            models=models,
            only_variants=variant,
            only_models=model,
            alpha=alpha,
            detect=detect,
            fail_on_regression=fail_on_regression,
        )
        if variants or models:
            if len(given) > 1:
                raise _ci.usage("--variants and --models compare inside ONE run; give one run")
            a, b = open_source(given[0] if given else "latest", runs_dir), None
        else:
            if len(given) != 2:
                raise _ci.usage(
                    "give two runs or baseline files (A B), or one run with --variants A B "
                    "or --models A B"
                )
            a, b = open_source(given[0], runs_dir), open_source(given[1], runs_dir)
        ref = None
        if wandb:
            compared = b if b is not None else a
            if compared.info.kind != "run":
                raise _ci.usage("--wandb logs to the W&B run of a run, and B is a baseline file")
            from promptbench.runner.runmeta import read_meta

            ref = _wandb.run_ref(read_meta(compared.path), compared.info.source)
        result = compare_sides(a, b, options)
    report = result.regression
    shown: OnlyName | None = only.value if only else None
    if as_json:
        # The same object promptbench.compare() returns: one to_json() for both.
        from promptbench.diff.jsonout import result_json  # json.dumps' text, by orjson

        # As bytes: 20 MB for a big diff, not copied into a str and encoded back.
        text = result_json(result)
        sys.stdout.flush()
        sys.stdout.buffer.write(text + b"\n")
        sys.stdout.buffer.flush()
    else:
        from promptbench.report.diff_terminal import print_diff, print_regression

        print_diff(out, result, only=shown, limit=limit)
        if report is not None:
            print_regression(out, report, what="A")
    _ci.write_diff_outputs(result, report, markdown=markdown, junit=junit, only=shown, limit=limit)
    if html is not None:
        from promptbench.cli.report import write_diff_html

        write_diff_html(html, result, a, b)
    if ref is not None:
        from promptbench.report.wandb_out import log_tables
        from promptbench.report.wandb_rows import diff_table

        with user_errors():  # W&B failed: one line naming its directory, exit 4
            where = log_tables(ref, {"diff": diff_table(result.to_json())})
        if where:
            err.print(f"W&B: {where}", markup=False, soft_wrap=True)
    raise typer.Exit(1 if report is not None and not report.passed else 0)
