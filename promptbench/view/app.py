"""The viewer's routes, on Starlette: every one a GET that reads the run store.

=================================  ==================================================
``/``                              the runs: filter, sort, page; choose two to compare
``/suites/NAME``                   a suite's history, charted, with the gate's threshold
``/runs/ID``                       a run's report (``promptbench report``'s page, its
                                   rows fetched a page at a time as they come into view); a run
                                   in progress shows its progress, polled, until it ends
``/api/runs/ID/progress``          what that page polls (JSON)
``/api/runs/ID/rows``              the run page's rows, a page at a time: ``offset``,
                                   ``limit``, ``mode``, ``q``, ``metric``, ``cols``,
                                   ``sort``, ``order`` (JSON; :mod:`.rows`)
``/api/runs/ID/ranking``           that page's ranking, computed after it is drawn (JSON)
``/compare``                       choose; with ``run=A&run=B`` or ``run=R&variant=X&
                                   variant=Y`` the comparison, drawn as ``diff --html``
=================================  ==================================================

Reports and comparisons are computed in Starlette's thread pool (plain ``def``
endpoints), so a large one does not stop the live pages from being served.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from promptbench.diff import DiffOptions, Source
from promptbench.errors import PromptbenchError
from promptbench.report.html import served_diff_report, served_run_report
from promptbench.view.diffrows import DiffRows, DiffRowsCache, DiffRowsQuery
from promptbench.view.index import RunEntry, RunIndex, valid_run_id
from promptbench.view.layout import rows_api, with_nav
from promptbench.view.pages import (
    compare_page,
    history_page,
    live_page,
    message_page,
    progress_json,
    runs_page,
    unreadable_page,
)
from promptbench.view.partfold import FoldWorker
from promptbench.view.query import CompareQuery, HistoryQuery, RunsQuery
from promptbench.view.rows import RowsCache, RowsQuery, files_version
from promptbench.view.security import ViewerRules, allowed_hosts

Q = TypeVar("Q", bound=BaseModel)


def _query(model: type[Q], request: Request, lists: tuple[str, ...] = ()) -> Q:
    data: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        data[key] = values if key in lists else values[-1]
    return model.model_validate(data)


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "query"
    return f"{where}: {first['msg']}"


def _bad_query(exc: ValidationError) -> HTMLResponse:
    return HTMLResponse(message_page("Bad request", _problem(exc)), status_code=400)


def _compare_api(chosen: list[RunEntry], variants: list[str]) -> str:
    """Where the diff page fetches its rows: the comparison's own parameters, and more."""
    pairs = [("run", e.run_id) for e in chosen] + [("variant", v) for v in variants]
    return "/api/compare/rows?" + urlencode(pairs)


def create_app(
    runs_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    fold_worker: FoldWorker | None = None,
) -> ViewerRules:
    """The viewer of ``runs_dir`` as an ASGI app that answers only to ``host:port``.

    ``fold_worker``: a process that reads half of a big run's lines (:mod:`.partfold`).
    """
    index = RunIndex(Path(runs_dir))
    run_rows = RowsCache(worker=fold_worker)
    diff_rows = DiffRowsCache()

    def not_found(what: str) -> HTMLResponse:
        return HTMLResponse(message_page("Not found", what), status_code=404)

    def entry_of(request: Request) -> RunEntry | None:
        run_id = str(request.path_params["run_id"])
        return index.get(run_id) if valid_run_id(run_id) else None

    def runs(request: Request) -> Response:
        try:
            q = _query(RunsQuery, request)
        except ValidationError as exc:
            return _bad_query(exc)
        return HTMLResponse(runs_page(index.entries(), q))

    def history(request: Request) -> Response:
        try:
            q = _query(HistoryQuery, request)
        except ValidationError as exc:
            return _bad_query(exc)
        suite = str(request.path_params["suite"])
        chosen = [e for e in index.entries() if e.suite == suite]
        if not chosen:
            return not_found(f"no run of a suite named {suite!r}")
        chosen.sort(key=lambda e: (e.started, e.run_id))
        chosen = chosen[-q.last :]
        gate: dict[str, tuple[float, str]] = {}
        latest = chosen[-1].meta
        if latest is not None:
            for rule in latest.suite.gate_rules():
                gate.setdefault(rule.metric, (rule.value, rule.text))
        return HTMLResponse(history_page(suite, [(e, index.summary(e)) for e in chosen], gate))

    def run(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return not_found("no such run")
        if entry.meta is None:
            return HTMLResponse(unreadable_page(entry, entry.problem or ""), status_code=200)
        if entry.status == "running":
            return HTMLResponse(live_page(entry))
        try:
            return HTMLResponse(
                with_nav(served_run_report(run_rows.rows(entry).page_data(rows_api(entry.run_id))))
            )
        except PromptbenchError as exc:
            return HTMLResponse(unreadable_page(entry, str(exc)))
        except (OSError, ValueError) as exc:
            return HTMLResponse(unreadable_page(entry, f"{type(exc).__name__}: {exc}"))

    def rows(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        try:
            q = _query(RowsQuery, request)
        except ValidationError as exc:
            return JSONResponse({"error": _problem(exc)}, status_code=400)
        if entry.meta is None:
            return JSONResponse({"error": f"unreadable: {entry.problem}"}, status_code=409)
        try:
            return JSONResponse(run_rows.rows(entry).answer(q))
        except PromptbenchError as exc:
            return JSONResponse({"error": f"unreadable: {exc}"}, status_code=409)
        except (OSError, ValueError) as exc:
            # A column or metric the run does not have: the query's fault, said in one line.
            return JSONResponse({"error": str(exc)}, status_code=400)

    def progress(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse(progress_json(entry, index.summary(entry)))

    def compare(request: Request) -> Response:
        try:
            q = _query(CompareQuery, request, lists=("run", "variant"))
        except ValidationError as exc:
            return _bad_query(exc)
        entries = index.entries()
        chosen: list[RunEntry] = []
        for run_id in q.run:
            entry = index.get(run_id)
            if entry is None:
                return not_found(f"no run {run_id!r}")
            if entry.meta is None:
                return HTMLResponse(unreadable_page(entry, entry.problem or ""))
            chosen.append(entry)
        if (len(chosen) == 2 and not q.variant) or (len(chosen) == 1 and len(q.variant) == 2):
            try:
                key, build = _comparison(chosen, q.variant)
            except ValidationError as exc:
                problem = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
                return HTMLResponse(compare_page(entries, chosen[0], problem), status_code=400)
            try:
                data = diff_rows.rows(key, build).page_data(_compare_api(chosen, q.variant))
                return HTMLResponse(with_nav(served_diff_report(data)))
            except PromptbenchError as exc:
                return HTMLResponse(compare_page(entries, None, str(exc)), status_code=400)
        if q.variant or len(chosen) > 2:
            problem = "choose two runs, or one run and two of its variants"
            return HTMLResponse(compare_page(entries, None, problem), status_code=400)
        return HTMLResponse(compare_page(entries, chosen[0] if chosen else None))

    def _comparison(
        chosen: list[RunEntry], variants: list[str]
    ) -> tuple[object, Callable[[], DiffRows]]:
        """What the comparison is (its cache key) and how to make its page's data."""
        options = DiffOptions(variants=(variants[0], variants[1])) if variants else DiffOptions()
        sources = [Source.of_run(e.stored, e.run_id) for e in chosen]
        a, b = sources[0], (sources[1] if len(sources) > 1 else None)
        key = (tuple((e.run_id, files_version(e)) for e in chosen), tuple(variants))

        def build() -> DiffRows:
            return DiffRows.compare(a, b, options)

        return key, build

    def compare_rows(request: Request) -> Response:
        try:
            q = _query(DiffRowsQuery, request, lists=("run", "variant"))
        except ValidationError as exc:
            return JSONResponse({"error": _problem(exc)}, status_code=400)
        if (len(q.run) == 1 and len(q.variant) != 2) or (len(q.run) == 2 and q.variant):
            problem = "run: two runs, or one run and two of its variants"
            return JSONResponse({"error": problem}, status_code=400)
        chosen = []
        for run_id in q.run:
            entry = index.get(run_id)
            if entry is None:
                return JSONResponse({"error": f"no run {run_id!r}"}, status_code=404)
            if entry.meta is None:
                return JSONResponse({"error": f"unreadable: {entry.problem}"}, status_code=409)
            chosen.append(entry)
        try:
            key, build = _comparison(chosen, q.variant)
        except ValidationError as exc:
            return JSONResponse({"error": _problem(exc)}, status_code=400)
        try:
            rows = diff_rows.rows(key, build)
            return JSONResponse(rows.answer(q.offset, q.limit, q.mode, q.q, q.metric, q.pair))
        except PromptbenchError as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def ranking(request: Request) -> Response:
        entry = entry_of(request)
        if entry is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        if request.query_params:
            return JSONResponse({"error": "this takes no query"}, status_code=400)
        if entry.meta is None:
            return JSONResponse({"error": f"unreadable: {entry.problem}"}, status_code=409)
        try:
            return JSONResponse({"ranking": run_rows.rows(entry).ranking(entry)})
        except PromptbenchError as exc:
            return JSONResponse({"error": f"unreadable: {exc}"}, status_code=409)
        except (OSError, ValueError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=409)

    routes = [
        Route("/", runs),
        Route("/suites/{suite}", history),
        Route("/runs/{run_id}", run),
        Route("/api/runs/{run_id}/progress", progress),
        Route("/api/runs/{run_id}/rows", rows),
        Route("/api/runs/{run_id}/ranking", ranking),
        Route("/compare", compare),
        Route("/api/compare/rows", compare_rows),
    ]
    app = Starlette(routes=routes)
    return ViewerRules(app, allowed_hosts(host, port))
