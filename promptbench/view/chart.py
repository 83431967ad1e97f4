"""A line chart as inline SVG: one line per variant × model over runs, the gate's threshold.

Drawn on the server, so that the page needs no script and no external asset to show
it; each point is a link to its run, with its value in a tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptbench.view.layout import esc, run_url

COLOURS = ("#2457c5", "#d1495b", "#2a9d8f", "#e9a03b", "#7b2cbf", "#3d405b", "#8ab17d", "#f15bb5")
WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 34


@dataclass(frozen=True)
class Series:
    """One line: a label and a value per run (None where the run has none)."""

    label: str
    values: Sequence[float | None]


def colour(i: int) -> str:
    """The colour of the ``i``-th series (also the legend's)."""
    return COLOURS[i % len(COLOURS)]


def line_chart(
    name: str,
    run_ids: Sequence[str],
    series: Sequence[Series],
    *,
    threshold: float | None = None,
    threshold_label: str = "",
    percent: bool = False,
) -> str:
    """The chart of ``series`` over ``run_ids`` (oldest first), values in [0, 1]."""
    n = len(run_ids)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = [
        f'<svg class="history-chart" data-measure="{esc(name)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{esc(name)} over runs" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        ty = y(tick)
        label = f"{tick:.0%}" if percent else f"{tick:.2f}"
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e3e7ed"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#5f6b7a">{label}</text>'
        )
    step = max(1, n // 10)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" font-size="11" text-anchor="middle" '
            f'fill="#5f6b7a">#{i + 1}</text>'
        )
    if threshold is not None:
        ty = y(threshold)
        parts.append(
            f'<line class="gate-threshold" data-threshold="{threshold:g}" x1="{LEFT}" '
            f'x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#c62828" '
            'stroke-dasharray="6 4" stroke-width="1.5"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{ty - 5:.1f}" font-size="11" text-anchor="end" '
            f'fill="#c62828">gate {esc(threshold_label)}</text>'
        )
    for k, s in enumerate(series):
        points = [(i, v) for i, v in enumerate(s.values) if v is not None]
        c = colour(k)
        if len(points) > 1:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
            parts.append(
                f'<polyline class="series" data-series="{esc(s.label)}" points="{path}" '
                f'fill="none" stroke="{c}" stroke-width="2"/>'
            )
        for i, v in points:
            shown = f"{v:.1%}" if percent else f"{v:.3f}"
            parts.append(
                f'<a href="{run_url(run_ids[i])}"><circle class="point" data-series="'
                f'{esc(s.label)}" data-run="{esc(run_ids[i])}" data-value="{v:.6g}" '
                f'cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{c}"><title>{esc(s.label)}, run '
                f"{esc(run_ids[i])}: {shown}</title></circle></a>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colour(k)}"></i>{esc(s.label)}</span>'
        for k, s in enumerate(series)
    )
    return f'<div class="chart"><div class="legend">{legend}</div>{"".join(parts)}</div>'
