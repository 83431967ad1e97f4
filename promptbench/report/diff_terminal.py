"""``promptbench diff`` at a terminal: a table per pair, the flipped cases, the gate.

Colour carries meaning only where the terminal shows it; without colour (a pipe, a CI
log, ``NO_COLOR``) the word diff is written as ``[-deleted-]{+inserted+}``, the way
``git diff --word-diff=plain`` does, so that it still reads.
"""

from __future__ import annotations

from typing import Literal

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from promptbench.diff import DiffResult, MetricResult, PairResult, RegressionReport
from promptbench.diff.result import Flip
from promptbench.report.worddiff import plain, word_diff
from promptbench.suite.regression import PASS_RATE

Only = Literal["regressions", "improvements", "flips"]
OUTPUT_CHARS = 600  # of each output shown beside the other
SIDE_BY_SIDE_WIDTH = 140  # wider lines are hard to read across, even on a wide terminal
VERDICT_STYLE = {"better": "green", "worse": "bold red", "no data": "yellow"}


def _pts(name: str) -> bool:
    return name == PASS_RATE


def fmt_mean(name: str, x: float | None) -> str:
    """A mean: pass rates in percent, scores on their 0-1 scale."""
    if x is None:
        return "—"
    return f"{x:.1%}" if _pts(name) else f"{x:.3f}"


def fmt_delta(name: str, x: float | None, *, sign: bool = True) -> str:
    """A difference: points for pass rates, the score's own units otherwise."""
    if x is None:
        return "—"
    if _pts(name):
        return f"{x * 100:+.1f}" if sign else f"{x * 100:.1f} pts"
    return f"{x:+.3f}" if sign else f"{x:.3f}"


def fmt_diff(m: MetricResult) -> str:
    """``−10.0 pts [−15.2, −4.8]`` or ``−0.100 [−0.152, −0.048]``."""
    c = m.comparison
    if c.diff is None:
        return "—"
    unit = " pts" if _pts(c.name) else ""
    ci = ""
    if c.ci_low is not None and c.ci_high is not None:
        ci = f" [{fmt_delta(c.name, c.ci_low)}, {fmt_delta(c.name, c.ci_high)}]"
    return f"{fmt_delta(c.name, c.diff)}{unit}{ci}"


def fmt_p(p: float | None) -> str:
    """A p-value with the precision it deserves."""
    if p is None:
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def keep_metric(m: MetricResult, only: Only | None) -> bool:
    """Whether ``--only`` shows this metric's row."""
    if only == "regressions":
        return m.comparison.verdict == "worse"
    if only == "improvements":
        return m.comparison.verdict == "better"
    return only is None


def keep_flips(pr: PairResult, only: Only | None) -> list[Flip]:
    """The flips ``--only`` shows, largest score change first."""
    if only == "regressions":
        return pr.regressions
    if only == "improvements":
        return pr.improvements
    return pr.flips


def metric_table(pr: PairResult, result: DiffResult, only: Only | None) -> Table | None:
    """The pair's comparison table; None when ``--only`` leaves no row."""
    rows = [m for m in pr.metrics if keep_metric(m, only)]
    if not rows:
        return None
    table = Table(
        title=escape(pr.pair.label), title_justify="left", header_style="bold", box=box.SIMPLE
    )
    for name, justify in (
        ("metric", "left"),
        ("A", "right"),
        ("B", "right"),
        (f"B − A [{round(100 * rows[0].comparison.confidence)}% CI]", "right"),
        ("p (Holm)", "right"),
        ("verdict", "left"),
        ("MDE", "right"),
        ("n", "right"),
        (f"cases for ±{result.detect * 100:g} pts", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for m in rows:
        c = m.comparison
        table.add_row(
            c.name,
            fmt_mean(c.name, c.mean_a),
            fmt_mean(c.name, c.mean_b),
            fmt_diff(m),
            fmt_p(c.p_adjusted),
            Text(c.verdict, style=VERDICT_STYLE.get(c.verdict, "dim")),
            fmt_delta(c.name, c.mde, sign=False),
            str(c.n_paired),
            "—" if m.cases_needed is None else f"~{m.cases_needed:,}",
        )
    return table


def _ids(ids: list[str], most: int = 5) -> str:
    shown = ", ".join(ids[:most])
    return f" ({shown}{', …' if len(ids) > most else ''})" if ids else ""


def coverage_line(pr: PairResult) -> str:
    """Paired, unpaired and error counts: nothing dropped silently."""
    row = pr.metric(PASS_RATE)
    n = row.comparison.n_paired if row else 0
    parts = [f"paired cases: {n}"]
    parts.append(f"only in A: {len(pr.only_a)}{_ids(pr.only_a)}")
    parts.append(f"only in B: {len(pr.only_b)}{_ids(pr.only_b)}")
    if pr.call_errors_a or pr.call_errors_b:
        parts.append(f"call errors left out: A {pr.call_errors_a}, B {pr.call_errors_b}")
    if row and row.comparison.no_data:
        parts.append(f"no verdict on either side: {len(row.comparison.no_data)}")
    return " · ".join(parts)


def planning_line(pr: PairResult, result: DiffResult) -> str | None:
    """How many cases the suite needs to see a drop of ``detect`` in the pass rate."""
    row = pr.metric(PASS_RATE)
    if row is None or row.cases_needed is None:
        return None
    pts = f"{result.detect * 100:g}-point"
    have = row.comparison.n_paired
    enough = "enough" if have >= row.cases_needed else "too few to see it reliably"
    return (
        f"to see a {pts} change in pass rate at 80% power you need ~{row.cases_needed:,} "
        f"paired cases; you have {have:,} ({enough})"
    )


def diff_text(console: Console, a: str, b: str) -> Text:
    """The word diff of ``a`` into ``b``: red struck deletions, green insertions."""
    segments = word_diff(a, b)
    if console.no_color or console.color_system is None:
        return Text(plain(segments))
    text = Text()
    styles = {"equal": "", "delete": "red strike", "insert": "green"}
    for op, chunk in segments:
        text.append(chunk, style=styles[op])
    return text


def _clip(text: str | None) -> str:
    if text is None:
        return "(no output)"
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + " …"


def print_flip(console: Console, flip: Flip) -> None:
    """One flipped case: what changed, why the failing side failed, both outputs, the diff."""
    regression = flip.direction == "regression"
    mark = "[red]▼[/red]" if regression else "[green]▲[/green]"
    change = "pass → fail" if regression else "fail → pass"
    scores = ", ".join(
        f"{n} {fmt_mean(n, flip.scores_a.get(n))} → {fmt_mean(n, flip.scores_b.get(n))}"
        for n in flip.scores_a
        if flip.scores_a.get(n) != flip.scores_b.get(n)
    )
    score_change = "" if flip.score_change is None else f" · score change {flip.score_change:+.3f}"
    console.print(f"{mark} [bold]{flip.case_id}[/bold]  {change}{score_change}", soft_wrap=True)
    if scores:
        console.print(f"  {scores}", markup=False, soft_wrap=True)
    reasons = flip.reasons_b if regression else flip.reasons_a
    side = "B" if regression else "A"
    for name, reason in reasons.items():
        console.print(f"  why {side} fails: {name}: {reason}", markup=False, soft_wrap=True)
    outputs = Table(
        box=box.SIMPLE,
        show_edge=False,
        expand=True,
        header_style="bold",
        width=min(console.width, SIDE_BY_SIDE_WIDTH),
    )
    outputs.add_column("A output", ratio=1)
    outputs.add_column("B output", ratio=1)
    outputs.add_row(Text(_clip(flip.output_a)), Text(_clip(flip.output_b)))
    console.print(outputs)
    if flip.output_a is not None and flip.output_b is not None:
        line = Text("  word diff: ")
        line.append_text(diff_text(console, _clip(flip.output_a), _clip(flip.output_b)))
        console.print(line, soft_wrap=True)


def print_repeats(console: Console, pr: PairResult, only: Only | None) -> None:
    """pass@k and pass^k per side, and the flaky cases, listed apart from the flips."""
    ra, rb = pr.repeats_a, pr.repeats_b
    if only is None and ra is not None and rb is not None:
        table = Table(title="repeats", title_justify="left", box=box.SIMPLE, header_style="bold")
        for col in ("k", "pass@k A", "pass@k B", "pass^k A", "pass^k B"):
            table.add_column(col, justify="right")
        for k in sorted(set(ra.pass_at_k) | set(rb.pass_at_k)):
            table.add_row(
                str(k),
                fmt_mean(PASS_RATE, ra.pass_at_k.get(k)),
                fmt_mean(PASS_RATE, rb.pass_at_k.get(k)),
                fmt_mean(PASS_RATE, ra.pass_hat_k.get(k)),
                fmt_mean(PASS_RATE, rb.pass_hat_k.get(k)),
            )
        console.print(table)
    flaky = pr.flaky
    if only == "regressions":
        flaky = [c for c in flaky if (c.rate_b or 0.0) < (c.rate_a or 0.0)]
    elif only == "improvements":
        flaky = [c for c in flaky if (c.rate_b or 0.0) > (c.rate_a or 0.0)]
    elif only == "flips":
        flaky = []
    if flaky:
        cases = ", ".join(
            f"{c.case_id} {c.passes_a}/{c.runs_a} → {c.passes_b}/{c.runs_b}" for c in flaky[:20]
        )
        more = f", and {len(flaky) - 20} more" if len(flaky) > 20 else ""
        console.print(
            f"flaky (the verdict changes across repeats; not counted as flips): {cases}{more}",
            markup=False,
            soft_wrap=True,
        )


def print_pair(
    console: Console, pr: PairResult, result: DiffResult, *, only: Only | None, limit: int
) -> None:
    """One pair: its table, what was paired, the planning figure, repeats and flips."""
    table = metric_table(pr, result, only)
    if table is not None:
        console.print(table)
    elif only != "flips":
        console.print(f"[bold]{escape(pr.pair.label)}[/bold]: no metric is {_only_word(only)}")
    else:
        console.print(f"[bold]{escape(pr.pair.label)}[/bold]")
    console.print(coverage_line(pr), markup=False, soft_wrap=True)
    plan = planning_line(pr, result)
    if plan and only is None:
        console.print(plan, markup=False, soft_wrap=True)
    print_repeats(console, pr, only)
    flips = keep_flips(pr, only)
    if not flips:
        if only != "improvements" or pr.flips:
            console.print("no flipped cases" + ("" if only is None else f" ({only})"))
        return
    counts = f"{len(pr.regressions)} pass → fail, {len(pr.improvements)} fail → pass"
    shown = f"; showing {limit} (--limit)" if len(flips) > limit else ""
    console.print(f"\n[bold]flipped cases[/bold]: {counts}{shown}", soft_wrap=True)
    for flip in flips[:limit]:
        print_flip(console, flip)


def tests_phrase(n: int) -> str:
    """``1 distinct test`` / ``4 distinct tests``."""
    return f"{n} distinct test{'' if n == 1 else 's'}"


def _only_word(only: Only | None) -> str:
    return {"regressions": "worse", "improvements": "better"}.get(only or "", "shown")


def print_diff(
    console: Console,
    result: DiffResult,
    *,
    only: Only | None = None,
    limit: int = 10,
) -> None:
    """The whole report: both sides, every pair, and the verdict counts."""
    for tag, side in (("A", result.a), ("B", result.b)):
        suite = f", suite {side.suite}" if side.suite else ""
        console.print(
            f"[bold]{tag}[/bold]: {side.label} ({side.kind} {side.source}{suite})",
            soft_wrap=True,
        )
    for tag, groups in (("A", result.unmatched_a), ("B", result.unmatched_b)):
        if groups:
            console.print(
                f"[yellow]not compared, only in {tag}: {', '.join(groups)}[/yellow]",
                soft_wrap=True,
            )
    for pr in result.pairs:
        console.print()
        print_pair(console, pr, result, only=only, limit=limit)
    console.print(
        f"\n{result.count('worse')} worse, {result.count('better')} better, "
        f"{result.count('no detectable difference')} no detectable difference"
        + (f", {result.count('no data')} no data" if result.count("no data") else "")
        + f" (B against A; Holm over {tests_phrase(result.family)} at alpha {result.alpha:g})",
        soft_wrap=True,
    )


def print_regression(console: Console, report: RegressionReport, what: str = "baseline") -> None:
    """The regression gate, one line per check, like the ordinary gate's lines."""
    if report.default_rules:
        console.print(
            f"regression gate against the {what}: every metric, margin 0 "
            "(set gate.regression in the suite to choose metrics and margins)",
            style="dim",
            soft_wrap=True,
        )
    for c in report.checks:
        mark = "[red]✗[/red]" if c.regressed else "[green]✓[/green]"
        console.print(
            f"{mark} regression {c.rule.metric} (margin {c.rule.margin:g}) for {c.pair}: ",
            end="",
            soft_wrap=True,
        )
        console.print(c.reason, markup=False, soft_wrap=True)


def print_iteration_diff(
    console: Console, result: DiffResult, *, before: str, after: str, limit: int = 10
) -> None:
    """``run --watch``: what changed since the previous iteration, the flipped cases first.

    A person who just saved an edit wants to see which cases it broke or fixed before
    the statistics, so each pair starts with its flips, then its metric table.
    """
    console.print(
        f"\n[bold]since the previous iteration[/bold] (run {before} → {after})",
        soft_wrap=True,
    )
    for pr in result.pairs:
        counts = f"{len(pr.regressions)} pass → fail, {len(pr.improvements)} fail → pass"
        console.print(f"\n[bold]{pr.pair.label}[/bold]: {counts}", soft_wrap=True)
        for flip in pr.flips[:limit]:
            print_flip(console, flip)
        if len(pr.flips) > limit:
            console.print(f"… and {len(pr.flips) - limit} more flipped cases", markup=False)
        table = metric_table(pr, result, None)
        if table is not None:
            console.print(table)
