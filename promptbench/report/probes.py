"""The robustness table of a run's probes, for the terminal, Markdown and CSV.

One table per variant × model: each probe's cases, pass rate of the originals and of the
twins, the difference and PDR with 95% intervals, the share of flipped verdicts, the
injection follow rate, the Holm-corrected p and the verdict. Then the flipped cases with
both outputs and a word diff. Every output format takes its cells from :func:`rows`, so
they say the same thing.
"""

from __future__ import annotations

import csv
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from promptbench.report.diff_terminal import diff_text
from promptbench.report.worddiff import word_diff
from promptbench.stats.probes import Interval, ProbeFlip, ProbeReport, ProbeResult

COLUMNS = (
    "probe", "kind", "cases", "original", "twin", "Δ (95% CI)", "PDR (95% CI)", "flipped",
    "followed", "p (Holm)", "verdict",
)  # fmt: skip
OUTPUT_CHARS = 300
VERDICT_STYLE = {"robust": "green", "sensitive": "red", "not enough cases": "yellow"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _pts(i: Interval | None, *, sign: bool = True) -> str:
    """A share with its interval, in points: "-12.0 [-18.5, -5.5]"."""
    if i is None or i.value is None:
        return "—"
    fmt = "{:+.1f}" if sign else "{:.1f}"
    text = fmt.format(100 * i.value)
    if i.low is not None and i.high is not None:
        text += f" [{fmt.format(100 * i.low)}, {fmt.format(100 * i.high)}]"
    return text


def _ratio(i: Interval) -> str:
    if i.value is None:
        return "—"
    text = f"{i.value:.2f}"
    if i.low is not None and i.high is not None:
        text += f" [{i.low:.2f}, {i.high:.2f}]"
    return text


def _p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def cells(r: ProbeResult) -> dict[str, str]:
    """The row of one probe result, as text, keyed by :data:`COLUMNS`."""
    return {
        "probe": r.probe,
        "kind": r.kind,
        "cases": f"{r.n_cases:,}",
        "original": _pct(r.mean_original),
        "twin": _pct(r.mean_perturbed),
        "Δ (95% CI)": _pts(r.diff),
        "PDR (95% CI)": _ratio(r.pdr),
        "flipped": _pts(r.flip_rate, sign=False),
        "followed": _pts(r.follow_rate, sign=False) if r.follow_rate else "—",
        "p (Holm)": _p(r.p_adjusted),
        "verdict": r.verdict,
    }


def groups_of(report: ProbeReport) -> list[tuple[str, str, list[ProbeResult]]]:
    """The results per variant × model, in the order they first appear."""
    out: dict[tuple[str, str], list[ProbeResult]] = {}
    for r in report.results:
        out.setdefault((r.variant, r.model), []).append(r)
    return [(v, m, rs) for (v, m), rs in out.items()]


def _clip(text: str) -> str:
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + " …"


# -- terminal --------------------------------------------------------------------------------


def print_probes(console: Console, report: ProbeReport, *, flips: int = 5) -> None:
    """The robustness tables, the per-group breakdowns and up to ``flips`` flips per probe."""
    for variant, model, results in groups_of(report):
        table = Table(
            title=f"robustness · {variant} × {model}", title_justify="left", header_style="bold"
        )
        for col in COLUMNS:
            table.add_column(
                col, justify="left" if col in ("probe", "kind", "verdict") else "right"
            )
        for r in results:
            row = cells(r)
            style = VERDICT_STYLE.get(r.verdict, "")
            table.add_row(*(Text(row[c], style=style if c == "verdict" else "") for c in COLUMNS))
        console.print(table)
        for r in results:
            if len(r.groups) > 1 or r.follow_rate is not None or r.similarity is not None:
                parts = [
                    f"{g.group} ({g.n_cases}): flipped {_pts(g.flip_rate, sign=False)}"
                    + (f", followed {_pts(g.follow_rate, sign=False)}" if g.follow_rate else "")
                    + (f", similarity {_ratio(g.similarity)}" if g.similarity else "")
                    for g in r.groups
                ]
                console.print(
                    f"  {r.probe} by group: " + "; ".join(parts), markup=False, soft_wrap=True
                )
    shown: dict[tuple[str, str, str], int] = {}
    for f in report.flips:
        key = (f.probe, f.variant, f.model)
        shown[key] = shown.get(key, 0) + 1
        if shown[key] <= flips:
            print_flip(console, f)


def print_flip(console: Console, f: ProbeFlip) -> None:
    """One flipped twin: which way, both outputs side by side, and the word diff."""
    lost = f.original_passed and not f.twin_passed
    mark = "[red]▼[/red]" if lost else "[green]▲[/green]"
    change = "pass → fail" if lost else "fail → pass"
    group = f" ({f.group})" if f.group else ""
    console.print(
        f"{mark} [bold]{f.twin}[/bold]{group}  {change} · {f.variant} × {f.model}", soft_wrap=True
    )
    outputs = Table(box=box.SIMPLE, show_edge=False, expand=True, header_style="bold")
    outputs.add_column(f"{f.origin} output", ratio=1)
    outputs.add_column(f"{f.twin} output", ratio=1)
    outputs.add_row(Text(_clip(f.original_output)), Text(_clip(f.twin_output)))
    console.print(outputs)
    line = Text("  word diff: ")
    line.append_text(diff_text(console, _clip(f.original_output), _clip(f.twin_output)))
    console.print(line, soft_wrap=True)


# -- Markdown --------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def probes_markdown(report: ProbeReport, *, flips: int = 5) -> list[str]:
    """The robustness tables and the flipped cases (folded), as Markdown lines."""
    import html

    lines: list[str] = []
    for variant, model, results in groups_of(report):
        lines += [f"### Robustness: {_md(variant)} × {_md(model)}", ""]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append(
            "|"
            + "|".join("---" if c in ("probe", "kind", "verdict") else "---:" for c in COLUMNS)
            + "|"
        )
        for r in results:
            row = cells(r)
            lines.append("| " + " | ".join(_md(row[c]) for c in COLUMNS) + " |")
        lines.append("")
    shown: dict[tuple[str, str, str], int] = {}
    for f in report.flips:
        key = (f.probe, f.variant, f.model)
        shown[key] = shown.get(key, 0) + 1
        if shown[key] > flips:
            continue
        change = "pass → fail" if f.original_passed else "fail → pass"
        diff = "".join(
            html.escape(t)
            if op == "equal"
            else (
                f"<del>{html.escape(t)}</del>" if op == "delete" else f"<ins>{html.escape(t)}</ins>"
            )
            for op, t in word_diff(_clip(f.original_output), _clip(f.twin_output))
        )
        lines += [
            f"<details><summary>{html.escape(f.twin)}: {change} ({html.escape(f.variant)} × "
            f"{html.escape(f.model)})</summary>",
            "",
            f"**{html.escape(f.origin)}**: {html.escape(_clip(f.original_output))}<br>",
            f"**{html.escape(f.twin)}**: {html.escape(_clip(f.twin_output))}<br>",
            f"word diff: {diff}",
            "",
            "</details>",
        ]
    return lines


# -- CSV -------------------------------------------------------------------------------------


# The machine-readable row (CSV, W&B): numbers unformatted, an empty cell for none.
FIELDS = (
    "probe", "kind", "variant", "model", "cases", "pairs", "errors", "original", "twin",
    "diff", "diff_low", "diff_high", "pdr", "pdr_low", "pdr_high", "flip_rate",
    "flip_low", "flip_high", "follow_rate", "p_value", "p_adjusted", "test", "verdict",
)  # fmt: skip


def write_probes_csv(path: Path, report: ProbeReport) -> int:
    """One row per probe × variant × model (:data:`FIELDS`); returns the rows written."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        for r in report.results:
            writer.writerow(["" if v is None else v for v in values(r)])
    return len(report.results)


def values(r: ProbeResult) -> tuple[object, ...]:
    """The row of :data:`FIELDS` for one result; None where there is no figure."""

    def num(x: float | None) -> float | None:
        return None if x is None else round(x, 6)

    follow = r.follow_rate.value if r.follow_rate else None
    return (
        r.probe, r.kind, r.variant, r.model, r.n_cases, r.n_pairs, r.n_errors,
        num(r.mean_original), num(r.mean_perturbed), num(r.diff.value), num(r.diff.low),
        num(r.diff.high), num(r.pdr.value), num(r.pdr.low), num(r.pdr.high),
        num(r.flip_rate.value), num(r.flip_rate.low), num(r.flip_rate.high), num(follow),
        num(r.p_value), num(r.p_adjusted), r.test, r.verdict,
    )  # fmt: skip
