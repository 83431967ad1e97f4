"""The table of stored runs that ``promptbench runs`` prints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from promptbench.report.terminal import cost_text, percent_text


def _when(iso: str | None) -> str:
    if not iso:
        return "—"
    try:
        # Local time: run ids are in UTC, but people read their own clock.
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """One row per run (as ``promptbench runs --json`` gives them): newest first."""
    table = Table(header_style="bold")
    table.add_column("run")
    table.add_column("suite")
    table.add_column("when")
    table.add_column("status")
    table.add_column("models")
    table.add_column("pass rate")
    table.add_column("cost", justify="right")
    for r in rows:
        rates = "\n".join(
            f"{g['variant']} × {g['model']}: {percent_text(g['pass_rate'])}" for g in r["groups"]
        )
        status = Text(r["status"], style="" if r["status"] == "finished" else "yellow")
        # Text, not markup: names come from users and may hold brackets.
        table.add_row(
            Text(r["run_id"]),
            Text(r["suite"]),
            _when(r["started_at"]),
            status,
            Text(", ".join(r["models"])),
            Text(rates or "—"),
            cost_text(r["cost"]),
        )
    return table
