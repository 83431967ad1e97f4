"""The run page as the general path makes it, from :class:`Record` objects, for comparison.

The report and the viewer read a run's raw lines (``promptbench.report.html.run_fold``,
``promptbench.view.rowindex``); what they make must be what this makes of the same run
through ``Record.from_json``, ``cells.cell``, ``Summary.add`` and ``rank_records``: the
page's data as it was built before the fast path, and the viewer's filter, search and
sort as they ran over whole rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptbench.diff.pairing import natural_key
from promptbench.diff.rank import PASS_RATE, RankReport, rank_records
from promptbench.errors import UsageError
from promptbench.report.html.cells import cell, images, text
from promptbench.report.html.run_data import _header, _ranking, probes_payload
from promptbench.runs import StoredRun
from promptbench.stats import Summary

Row = dict[str, Any]


def reference_payload(run: StoredRun, *, ranking: bool = True) -> dict[str, Any]:
    """The run page's data, from the run's Records."""
    suite = run.meta.suite
    summary = Summary(suite.metrics, run.variants, run.models)
    metrics = {name: i for i, name in enumerate(summary.metric_names)}
    var_names: dict[str, int] = {name: i for i, name in enumerate(suite.variables)}
    columns: dict[tuple[str, str], int] = {}
    rows: dict[tuple[str, int], tuple[Row, dict[int, dict[str, Any]]]] = {}
    repeats = 0
    records = list(run.records())
    for r in records:
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
        else:
            row = entry[0]
            seen = {im["p"] for im in row.get("im", [])}
            more = [im for im in images(r) if im["p"] not in seen]
            if more:
                row["im"] = [*row.get("im", []), *more]
        col = columns.setdefault((r.variant, r.model), len(columns))
        entry[1][col] = cell(r, metrics)
    ranked: RankReport | None = None
    if ranking and len(run.variants) * len(run.models) > 1:
        try:
            ranked = rank_records(records, PASS_RATE, run_id=run.run_id)
        except UsageError:
            ranked = None
    summary.drop_empty()
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


def reference_search_text(rows: Sequence[Row]) -> list[tuple[str, list[str]]]:
    """Per row, lower-cased: its id, vars and expected; each cell's output and error."""
    return [
        (
            "\n".join([row["id"], *(v or "" for v in row["v"]), row["x"] or ""]).lower(),
            [f"{c.get('o') or ''}\n{c.get('x') or ''}".lower() if c else "" for c in row["c"]],
        )
        for row in rows
    ]


def reference_filter(
    rows: Sequence[Row], mode: str, q: str, metric: int, cols: Sequence[int]
) -> tuple[list[int], dict[str, int]]:
    """The page's filter (run.js's apply) over whole rows: the rows kept, and the counts."""
    counts = {"all": 0, "fail": 0, "error": 0, "flip": 0}
    kept: list[int] = []
    hay = reference_search_text(rows) if q else None
    for i, row in enumerate(rows):
        any_ = p = f = e = False
        for k in cols:
            c = row["c"][k]
            if c is None:
                continue
            v = c["v"]
            if metric >= 0:
                s = c.get("s")
                score = s[metric] if s is not None and metric < len(s) else None
                if score is None:
                    continue
                v = score[1]
            any_ = True
            p, f, e = p or v == "p", f or v == "f", e or v == "e"
        if not any_:
            continue
        if hay is not None:
            head, outs = hay[i]
            if q not in head and not any(q in outs[k] for k in cols):
                continue
        counts["all"] += 1
        counts["fail"] += f
        counts["error"] += e
        counts["flip"] += p and f
        wanted = {"all": True, "fail": f, "error": e, "flip": p and f}
        if wanted[mode]:
            kept.append(i)
    return kept, counts


def reference_sort(
    rows: Sequence[Row], chosen: list[int], by: str, order: str, cols: Sequence[int]
) -> list[int]:
    """The rows ``chosen`` by the largest latency or cost of ``cols`` (unknown last)."""
    if by == "case":
        return chosen[::-1] if order == "desc" else chosen
    key = "l" if by == "latency" else "c"

    def value(i: int) -> float | None:
        got = [
            c[key] for k in cols if (c := rows[i]["c"][k]) is not None and c.get(key) is not None
        ]
        return max(got) if got else None

    known = [(v, i) for i in chosen if (v := value(i)) is not None]
    unknown = [i for i in chosen if value(i) is None]
    known.sort(key=lambda t: t[0], reverse=order == "desc")
    return [i for _, i in known] + unknown
