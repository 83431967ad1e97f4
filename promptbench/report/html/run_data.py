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
    verdict = run.verdict(summary)
    return {
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
    }
