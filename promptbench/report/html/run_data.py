"""A stored run as the report page's data: the summary, the gate, and one row per case.

A row is a case (and repeat, when the suite repeats), with one cell per variant × model
group: the outputs of every variant and model side by side. Records are read once,
streamed from ``records.jsonl``; the summary is computed in the same pass, so it is the
one ``promptbench show`` prints.
"""

from __future__ import annotations

from typing import Any

from promptbench.diff.pairing import natural_key
from promptbench.report.html.cells import cell, images, text
from promptbench.runs import StoredRun
from promptbench.stats import Summary
from promptbench.stats.probes import ProbeReport

Row = dict[str, Any]


def _header(run: StoredRun) -> dict[str, Any]:
    meta = run.meta
    models = {
        name: " · ".join(str(v) for v in (m.provider, m.model) if v)
        for name, m in meta.models.items()
    }
    return {
        "id": run.run_id,
        "suite": run.suite_name,
        "description": meta.suite.description,
        "status": run.status,
        "started_at": meta.started_at,
        "finished_at": meta.finished_at,
        "wall_seconds": meta.wall_seconds,
        "dir": str(run.run_dir),
        "command": " ".join(["promptbench", *map(str, meta.command or [])]),
        "version": meta.promptbench,
        "commit": meta.git.commit if meta.git else None,
        "variants": {k: str(v) for k, v in meta.variants.items()},
        "models": models,
    }


def _ranking(run: StoredRun, groups: int) -> dict[str, Any] | None:
    """The table ``promptbench rank`` prints, on the pass rate; None for a single group."""
    if groups < 2:
        return None
    from promptbench.diff.rank import PASS_RATE, rank_records
    from promptbench.errors import UsageError
    from promptbench.report.rank_table import HEADERS, cells, footer

    try:
        report = rank_records(run.records(), PASS_RATE, run_id=run.run_id)
    except UsageError:  # nothing to rank on (no verdicts): the page goes without
        return None
    cheapest = report.cheapest_best
    return {
        "metric": PASS_RATE,
        "columns": list(HEADERS),
        "rows": [
            {"cells": cells(row, cheapest), "best": row.ranked.in_best_set} for row in report.rows
        ],
        "note": footer(report),
    }


def run_payload(run: StoredRun) -> dict[str, Any]:
    """Everything the run page shows, as plain JSON types."""
    suite = run.meta.suite
    summary = Summary(suite.metrics, run.variants, run.models)
    # The summary and the cells meet metrics in the same order: their lists agree.
    metrics = {name: i for i, name in enumerate(summary.metric_names)}
    var_names: dict[str, int] = {name: i for i, name in enumerate(suite.variables)}
    columns: dict[tuple[str, str], int] = {}
    rows: dict[tuple[str, int], tuple[Row, dict[int, dict[str, Any]]]] = {}
    repeats = 0
    for r in run.records():
        summary.add(r)
        repeats = max(repeats, r.repeat + 1)
        key = (r.case_id, r.repeat)
        entry = rows.get(key)
        if entry is None:
            for name in r.vars:
                var_names.setdefault(name, len(var_names))
            values: list[str | None] = [None] * len(var_names)
            for name, value in r.vars.items():
                values[var_names[name]] = text(value)
            row: Row = {"id": r.case_id, "r": r.repeat, "v": values, "x": text(r.expected)}
            shown = images(r)
            if shown:
                row["im"] = shown
            entry = rows[key] = (row, {})
        else:  # another variant may send other images, or the first sent none
            row = entry[0]
            seen = {im["p"] for im in row.get("im", [])}
            more = [im for im in images(r) if im["p"] not in seen]
            if more:
                row["im"] = [*row.get("im", []), *more]
        group = (r.variant, r.model)
        col = columns.setdefault(group, len(columns))
        entry[1][col] = cell(r, metrics)
    summary.drop_empty()
    # Columns in the summary's order: variant by variant, as the suite lists them.
    order = [g for g in summary.groups if g in columns]
    position = {columns[g]: i for i, g in enumerate(order)}
    out_rows = []
    for key in sorted(rows, key=lambda k: (natural_key(k[0]), k[1])):
        row, cells = rows[key]
        placed: list[dict[str, Any] | None] = [None] * len(order)
        for col, c in cells.items():
            placed[position[col]] = c
        row["c"] = placed
        out_rows.append(row)
    probes = run.probes()
    verdict = run.verdict(summary, probes)
    return {
        "ranking": _ranking(run, len(order)),
        "kind": "run",
        "title": f"{run.suite_name} · run {run.run_id}",
        "run": _header(run),
        "metrics": list(metrics),
        "vars": list(var_names),
        "groups": [{"variant": v, "model": m} for v, m in order],
        "repeats": repeats,
        "summary": summary.to_json(),
        "gate": verdict.to_json(),
        "rows": out_rows,
        "probes": probes_payload(probes) if probes else None,
    }


def probes_payload(report: ProbeReport, flips: int = 20) -> dict[str, Any]:
    """The robustness tables per variant × model, and the flipped twins with a word diff."""
    from promptbench.report.probes import COLUMNS, cells, groups_of
    from promptbench.report.worddiff import word_diff

    return {
        "columns": list(COLUMNS),
        "tables": [
            {
                "variant": v,
                "model": m,
                "rows": [[cells(r)[c] for c in COLUMNS] for r in results],
                "verdicts": [r.verdict for r in results],
            }
            for v, m, results in groups_of(report)
        ],
        "flips": [
            {
                "probe": f.probe,
                "twin": f.twin,
                "origin": f.origin,
                "variant": f.variant,
                "model": f.model,
                "lost": f.original_passed and not f.twin_passed,
                "a": f.original_output,
                "b": f.twin_output,
                "d": [[op, t] for op, t in word_diff(f.original_output, f.twin_output)],
            }
            for f in report.flips[: flips * max(1, len(report.results))]
        ],
    }
