"""A stored run as the report page's data: the summary, the gate, and one row per case.

A row is a case (and repeat, when the suite repeats), with one cell per variant × model
group: the outputs of every variant and model side by side. Records are read once,
streamed from ``records.jsonl``; the summary is computed in the same pass, so it is the
one ``promptbench show`` prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from promptbench.diff.pairing import natural_key
from promptbench.diff.rank import PASS_RATE, RankReport, rank_records
from promptbench.errors import UsageError
from promptbench.report.html.cells import cell, images, text
from promptbench.report.html.page import gc_paused
from promptbench.runs import StoredRun
from promptbench.stats import Summary
from promptbench.stats.probes import ProbeReport
from promptbench.types import Record

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


def _ranking(report: RankReport | None, groups: int) -> dict[str, Any] | None:
    """The table ``promptbench rank`` prints, on the pass rate; None for a single group."""
    if report is None or groups < 2:
        return None
    from promptbench.report.rank_table import HEADERS, cells, footer

    cheapest = report.cheapest_best
    return {
        "metric": PASS_RATE,
        "columns": list(HEADERS),
        "rows": [
            {"cells": cells(row, cheapest), "best": row.ranked.in_best_set} for row in report.rows
        ],
        "note": footer(report),
    }


def run_payload(run: StoredRun, *, ranking: bool = True) -> dict[str, Any]:
    """Everything the run page shows, as plain JSON types.

    ``ranking=False`` leaves the ranking out (``"ranking": None``): its bootstrap is the
    dearest part of a large run's page, and the viewer fetches it apart
    (:func:`run_ranking`) once the page is drawn.
    """
    with gc_paused():
        return _run_payload(run, ranking)


def run_ranking(run: StoredRun) -> dict[str, Any] | None:
    """The page's ranking on the pass rate, alone (None for a single group)."""
    with gc_paused():
        try:
            ranked = rank_records(run.records(), PASS_RATE, run_id=run.run_id)
        except UsageError:
            return None
    return _ranking(ranked, len(ranked.rows))


def _run_payload(run: StoredRun, with_ranking: bool) -> dict[str, Any]:
    suite = run.meta.suite
    summary = Summary(suite.metrics, run.variants, run.models)
    # The summary and the cells meet metrics in the same order: their lists agree.
    metrics = {name: i for i, name in enumerate(summary.metric_names)}
    var_names: dict[str, int] = {name: i for i, name in enumerate(suite.variables)}
    columns: dict[tuple[str, str], int] = {}
    rows: dict[tuple[str, int], tuple[Row, dict[int, dict[str, Any]]]] = {}
    repeats = 0

    def read() -> Iterator[Record]:
        nonlocal repeats
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
            yield r

    # One pass over the records: the ranking is fed the records the rows are made from.
    records = read()
    ranked: RankReport | None = None
    if with_ranking and len(run.variants) * len(run.models) > 1:
        try:
            ranked = rank_records(records, PASS_RATE, run_id=run.run_id)
        except UsageError:  # nothing to rank on (no verdicts): the page goes without
            ranked = None
    for _ in records:  # no ranking: the rows still want every record
        pass
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
        "ranking": _ranking(ranked, len(order)),
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
