"""The plan of a dry run, as a table."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptbench.runner.plan import ModelPlan
from promptbench.suite.grid import GridPoint, describe


def print_plan(
    console: Console,
    suite_name: str,
    plans: Sequence[ModelPlan],
    grid: Sequence[GridPoint] = (),
    variants: Sequence[str] = (),
) -> None:
    """One row per model: calls, cached, to call, estimated tokens and cost; then totals.

    A judge's or a simulated user's model has a row of its own calls. Calls that
    tools or a simulated user make a bound are marked ``≤``.

    Before the table, what each grid expanded to (``grid``: the suite's grid points).
    """
    if grid:
        by_base: dict[str, list[GridPoint]] = {}
        for point in grid:
            by_base.setdefault(point.base, []).append(point)
        for line, (_, points) in zip(describe(grid), by_base.items(), strict=True):
            console.print(f"grid {line}: " + ", ".join(g.name for g in points), markup=False)
    if variants:
        console.print(f"variants: {', '.join(variants)}", markup=False)
    table = Table(
        title=f"{suite_name} · dry run: nothing is called",
        title_justify="left",
        header_style="bold",
    )
    for col in (
        "model",
        "calls",
        "cached",
        "to call",
        "≈ prompt tokens",
        "≈ answer tokens",
        "≈ cost",
    ):
        table.add_column(col, justify="left" if col == "model" else "right")
    for p in plans:
        table.add_row(
            escape(p.model),  # a grid's names hold brackets: mini[temperature=0.7]
            _calls(p.calls, p.exact),
            f"{p.cached:,}",
            f"{p.to_call:,}",
            f"{p.prompt_tokens:,.0f}",
            f"{p.answer_tokens:,.0f}",
            _usd(p.cost),
        )
    costs = [p.cost for p in plans]
    total = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
    table.add_section()
    table.add_row(
        "total",
        _calls(sum(p.calls for p in plans), all(p.exact for p in plans)),
        f"{sum(p.cached for p in plans):,}",
        f"{sum(p.to_call for p in plans):,}",
        f"{sum(p.prompt_tokens for p in plans):,.0f}",
        f"{sum(p.answer_tokens for p in plans):,.0f}",
        _usd(total),
    )
    console.print(table)
    if not all(p.exact for p in plans):
        console.print(
            "≤ : at most; a tool loop stops when the model answers, a simulated user when "
            "its goal is met",
            markup=False,
        )
    if total is None:
        console.print(
            "[yellow]— : no known price; set price: {input, output} in the suite "
            "(USD per million tokens)[/yellow]"
        )


def _calls(n: int, exact: bool) -> str:
    return f"{n:,}" if exact else f"≤ {n:,}"


def _usd(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:.4f}" if x < 1 else f"${x:,.2f}"
