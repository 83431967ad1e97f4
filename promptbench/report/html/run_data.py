"""A stored run as the report page's data: the summary, the gate, and one row per case.

A row is a case (and repeat, when the suite repeats), with one cell per variant × model
group: the outputs of every variant and model side by side. Records are read once, as
decoded lines (:mod:`.run_fold`); the summary and the ranking's values are folded in
the same pass, so the summary is the one ``promptbench show`` prints.
"""

from __future__ import annotations

from typing import Any

from promptbench.bulk import gc_paused
from promptbench.diff.rank import PASS_RATE, RankFold, RankReport
from promptbench.errors import UsageError
from promptbench.report.html.run_fold import CellsFold, RunFold
from promptbench.runs import StoredRun
from promptbench.stats.probes import ProbeReport


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
    dearest part of a large run's page.
    """
    with_ranking = ranking and len(run.variants) * len(run.models) > 1
    fold = CellsFold(run, ranking=with_ranking)
    with gc_paused():  # many small objects alive, none in a cycle: see bulk.gc_paused
        fold.fold()
        ranked: RankReport | None = None
        if fold.rank is not None:
            try:
                ranked = fold.rank.report(run_id=run.run_id)
            except UsageError:  # nothing to rank on (no verdicts): the page goes without
                ranked = None
        rows = fold.rows()
        return {**page_head(fold, _ranking(ranked, len(fold.groups))), "rows": rows}


def run_ranking(run: StoredRun) -> dict[str, Any] | None:
    """The page's ranking on the pass rate, alone (None for a single group)."""
    fold = RunFold(run)
    fold.fold()
    return ranking_payload(fold.rank, run.run_id)


def ranking_payload(rank: RankFold | None, run_id: str) -> dict[str, Any] | None:
    """The page's ranking of a folded run (None without a fold, or nothing to rank)."""
    if rank is None:
        return None
    with gc_paused():
        try:
            ranked = rank.report(run_id=run_id)
        except UsageError:
            return None
    return _ranking(ranked, len(ranked.rows))


def page_head(fold: RunFold, ranking: dict[str, Any] | None) -> dict[str, Any]:
    """The page's data but its rows (``rows`` empty), from a folded run."""
    run = fold.run
    probes = run.probes()
    verdict = run.verdict(fold.summary, probes)
    return {
        "ranking": ranking,
        "kind": "run",
        "title": f"{run.suite_name} · run {run.run_id}",
        "run": _header(run),
        "metrics": list(fold.metrics),
        "vars": list(fold.var_names),
        "groups": [{"variant": v, "model": m} for v, m in fold.groups],
        "repeats": fold.repeats,
        "summary": fold.summary.to_json(),
        "gate": verdict.to_json(),
        "rows": [],
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
