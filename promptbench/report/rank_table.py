"""``promptbench rank``'s table, for the terminal and as Markdown."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from promptbench.diff.rank import RankReport, RankRow

HEADERS = (
    "#",
    "setting",
    "mean",
    "interval",
    "gap to best",
    "MCS p",
    "as good as best",
    "cost/call",
    "p50 ms",
)


def _usd(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:.6f}" if x < 0.01 else f"${x:.4f}"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def cells(row: RankRow, cheapest: RankRow | None) -> list[str]:
    """A row's cells, as plain text."""
    r = row.ranked
    best = "yes" + (" (cheapest)" if cheapest is row else "") if r.in_best_set else "no"
    return [
        str(r.rank),
        r.setting,
        f"{r.mean:.3f}",
        f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
        "—" if r.rank == 1 else f"{r.gap:+.3f} [{r.gap_low:+.3f}, {r.gap_high:+.3f}]",
        f"{r.p_value:.3f}",
        best,
        _usd(row.cost_per_call),
        _ms(row.latency_p50_ms),
    ]


def footer(report: RankReport) -> str:
    """What the set is and how it was found, and the cheapest setting in it."""
    k = report.ranking
    level = round((1 - k.alpha) * 100)
    text = (
        f"as good as best: the {level}% model confidence set (Hansen, Lunde & Nason 2011), "
        f"paired by case over {k.n_cases:,} cases"
    )
    if k.dropped:
        text += f" ({len(k.dropped):,} cases without a value for every setting left out)"
    cheapest = report.cheapest_best
    if cheapest is not None:
        text += f"; cheapest in the set: {cheapest.ranked.setting}"
    return text


def print_rank(console: Console, report: RankReport, title: str) -> None:
    """The ranking as a rich table, best first."""
    table = Table(title=escape(title), title_justify="left", header_style="bold", box=box.SIMPLE)
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("setting", "as good as best") else "right")
    cheapest = report.cheapest_best
    for row in report.rows:
        values = [escape(c) for c in cells(row, cheapest)]
        style = None if row.ranked.in_best_set else "dim"
        table.add_row(*values, style=style)
    console.print(table)
    console.print(footer(report), markup=False, soft_wrap=True)


def rank_markdown(report: RankReport, title: str) -> str:
    """The ranking as a Markdown table, for a pull request or a job summary."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")

    lines = [f"### {cell(title)}", "", "| " + " | ".join(HEADERS) + " |"]
    lines.append(
        "|"
        + "|".join("---:" if h not in ("setting", "as good as best") else "---" for h in HEADERS)
        + "|"
    )
    cheapest = report.cheapest_best
    for row in report.rows:
        values = [cell(c) for c in cells(row, cheapest)]
        if row.ranked.in_best_set:
            values[1] = f"**{values[1]}**"
        lines.append("| " + " | ".join(values) + " |")
    lines += ["", footer(report), ""]
    return "\n".join(lines)


__all__ = ["cells", "footer", "print_rank", "rank_markdown"]
