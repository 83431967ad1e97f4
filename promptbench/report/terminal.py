"""The summary table and the gate verdict, for people at a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptbench.runner.runmeta import BudgetMeta
from promptbench.stats import GateVerdict, RunOutcome, Summary


def percent_text(x: float | None) -> str:
    """A share as a percentage with one decimal; a dash when unknown."""
    return "—" if x is None else f"{x:.1%}"


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "—" if x is None else fmt.format(x)


def cost_text(x: float | None) -> str:
    """Dollars: cents of cents below a dollar, cents above; a dash when no price is known."""
    if x is None:
        return "—"
    return f"${x:.4f}" if x < 1 else f"${x:.2f}"


def summary_table(summary: Summary, title: str = "") -> Table:
    """One row per variant x model: pass rate, metric means, errors, latency, tokens, cost."""
    table = Table(title=title or None, title_justify="left", header_style="bold")
    table.add_column("variant")
    table.add_column("model")
    table.add_column("cases", justify="right")
    table.add_column("pass rate", justify="right")
    fixed = {
        "variant",
        "model",
        "cases",
        "pass rate",
        "errors",
        "p50 ms",
        "p95 ms",
        "tokens",
        "cost",
    }
    for name in summary.metric_names:
        # A metric may be called like a fixed column (the cost and tokens metrics are).
        table.add_column(f"{name} (score)" if name in fixed else name, justify="right")
    table.add_column("errors", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    for g in summary.groups.values():
        metric_cells = []
        for name in summary.metric_names:
            m = g.metrics.get(name)
            cell = _num(m.mean if m else None)
            if m and m.errors:
                cell += f" [yellow]({m.errors} err)[/yellow]"
            metric_cells.append(cell)
        errors = str(g.call_errors) if g.call_errors else "0"
        if g.call_errors:
            errors = f"[red]{errors}[/red]"
        table.add_row(
            escape(g.variant),  # a grid's names hold brackets: mini[temperature=0.7]
            escape(g.model),
            str(g.records),
            percent_text(g.pass_rate),
            *metric_cells,
            errors,
            _num(g.latency(0.5), "{:.0f}"),
            _num(g.latency(0.95), "{:.0f}"),
            f"{g.tokens:,}",
            cost_text(g.cost),
        )
    return table


def print_summary(
    console: Console,
    summary: Summary,
    verdict: GateVerdict,
    *,
    title: str,
    run_dir: str | None = None,
    budget: BudgetMeta | None = None,
) -> None:
    """Print the table, the gate checks, and where the records are."""
    console.print(summary_table(summary, title))
    cached = sum(g.cached for g in summary.groups.values())
    saved = sum(g.cost_saved for g in summary.groups.values())
    if cached:
        # The cost column is what was spent; a cached answer is free the second time.
        note = f"{cached} of {summary.records} answers from the cache"
        console.print(note + (f", which saved {cost_text(saved)}" if saved else ""), style="dim")
    error_kinds: dict[str, int] = {}
    for g in summary.groups.values():
        for kind, n in g.error_kinds.items():
            error_kinds[kind] = error_kinds.get(kind, 0) + n
    if error_kinds:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(error_kinds.items()))
        console.print(f"[yellow]call errors (not counted as wrong answers): {kinds}[/yellow]")
    for check in verdict.checks:
        mark = "[green]✓[/green]" if check.holds else "[red]✗[/red]"
        actual = "—" if check.actual is None else f"{check.actual:.4g}"
        group = escape(f"{check.variant} × {check.model}")
        console.print(f"{mark} gate {check.rule} for {group}: {actual}")
    if verdict.outcome is RunOutcome.NO_GATE:
        console.print(
            "no gate: nothing was checked (add gate: to the suite for a verdict CI can fail on)",
            style="yellow",
            markup=False,
        )
    if verdict.outcome is RunOutcome.TOO_MANY_ERRORS:
        console.print(
            f"[red]too many call errors for a verdict: {verdict.error_rate:.1%} of calls failed "
            f"(the limit is {verdict.max_error_rate:.0%}; max_error_rate in the suite)[/red]"
        )
    if verdict.outcome is RunOutcome.BUDGET_EXCEEDED and budget is not None:
        console.print(
            f"[red]stopped at the budget: spent ${budget.spent:.4f} of "
            f"${budget.limit:.4f} (--max-cost); {budget.not_run} calls were not made. "
            "Every finished call is recorded and cached: run again with a larger --max-cost "
            "to finish without paying twice.[/red]"
        )
    if verdict.outcome is RunOutcome.INTERRUPTED:
        console.print(
            "[yellow]the run was interrupted: its gates give no verdict until it is finished "
            "(run the same command again to take it up)[/yellow]"
        )
    if run_dir:
        console.print(f"records: {run_dir}", style="dim", markup=False, soft_wrap=True)
