"""The viewer's own pages: the runs, a suite's history, choosing a comparison, a live run.

A run's page and a comparison's page are the HTML report's (:mod:`promptbench.report.html`),
served as ``promptbench report`` and ``diff --html`` write them; these are the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptbench.stats import Summary
from promptbench.suite.regression import PASS_RATE
from promptbench.view.chart import Series, line_chart
from promptbench.view.index import RunEntry
from promptbench.view.layout import esc, page, pct, run_url, suite_url, url
from promptbench.view.query import RunsQuery

COLUMNS = (("id", "run"), ("suite", "suite"), ("started", "started"), ("status", "status"))


def _sort_key(q: RunsQuery, e: RunEntry) -> tuple[object, ...]:
    key = {
        "started": e.started,
        "id": e.run_id,
        "suite": e.suite,
        "status": e.status,
        "records": e.records,
    }[q.sort]
    return (key, e.run_id)


def select_runs(entries: Sequence[RunEntry], q: RunsQuery) -> list[RunEntry]:
    """The runs that pass the filters, in the order asked for."""
    kept = [
        e
        for e in entries
        if (not q.suite or e.suite == q.suite)
        and (not q.model or q.model in e.models)
        and (not q.status or e.status == q.status)
    ]
    kept.sort(key=lambda e: _sort_key(q, e), reverse=q.order == "desc")
    return kept


def _options(name: str, values: Sequence[str], chosen: str | None, everything: str) -> str:
    opts = [f'<option value="">{esc(everything)}</option>']
    for v in values:
        sel = " selected" if v == chosen else ""
        opts.append(f'<option value="{esc(v)}"{sel}>{esc(v)}</option>')
    return f'<select name="{name}" id="filter-{name}">{"".join(opts)}</select>'


def runs_page(entries: Sequence[RunEntry], q: RunsQuery) -> str:
    """The runs: filters, a sortable table, two to compare, server-side pages."""
    suites = sorted({e.suite for e in entries if e.suite})
    models = sorted({m for e in entries for m in e.models})
    statuses = sorted({e.status for e in entries})
    kept = select_runs(entries, q)
    pages = max(1, -(-len(kept) // q.per))
    page_no = min(q.page, pages)
    shown = kept[(page_no - 1) * q.per : page_no * q.per]
    base = {"suite": q.suite, "model": q.model, "status": q.status, "per": q.per}
    here = {**base, "sort": q.sort, "order": q.order}

    def head(key: str, label: str, cls: str = "") -> str:
        order = "asc" if q.sort == key and q.order == "desc" else "desc"
        mark = (" ▼" if q.order == "desc" else " ▲") if q.sort == key else ""
        href = url("/", **base, sort=key, order=order)
        return f'<th class="{cls}"><a href="{href}" data-sort="{key}">{esc(label)}{mark}</a></th>'

    rows = []
    for e in shown:
        status = f'<span class="status-{esc(e.status)}">{esc(e.status)}</span>'
        if e.meta is None:
            status += f' <span class="muted problem">{esc(e.problem or "")}</span>'
        suite = f'<a href="{suite_url(e.suite)}">{esc(e.suite)}</a>' if e.suite else ""
        rows.append(
            f'<tr class="run" data-run="{esc(e.run_id)}" data-status="{esc(e.status)}">'
            f'<td><input type="checkbox" name="run" value="{esc(e.run_id)}" '
            f'aria-label="choose {esc(e.run_id)}"></td>'
            f'<td><a class="run-link" href="{run_url(e.run_id)}">{esc(e.run_id)}</a></td>'
            f"<td>{suite}</td><td>{esc(e.started[:19].replace('T', ' '))}</td>"
            f"<td>{status}</td><td>{esc(', '.join(e.variants))}</td>"
            f'<td>{esc(", ".join(e.models))}</td><td class="num">{e.records}</td></tr>'
        )
    pager = []
    if page_no > 1:
        pager.append(f'<a rel="prev" href="{url("/", **here, page=page_no - 1)}">← newer</a>')
    pager.append(
        f'<span id="page-info" data-page="{page_no}" data-pages="{pages}" '
        f'data-total="{len(kept)}">page {page_no} of {pages} · {len(kept)} runs</span>'
    )
    if page_no < pages:
        pager.append(f'<a rel="next" href="{url("/", **here, page=page_no + 1)}">older →</a>')
    body = f"""
<h1>Runs</h1>
<form class="filters" method="get" action="/">
<label>suite {_options("suite", suites, q.suite, "every suite")}</label>
<label>model {_options("model", models, q.model, "every model")}</label>
<label>status {_options("status", statuses, q.status, "any status")}</label>
<input type="hidden" name="sort" value="{esc(q.sort)}">
<input type="hidden" name="order" value="{esc(q.order)}">
<button type="submit" id="apply">Filter</button></form>
<form method="get" action="/compare" id="compare-form">
<div class="pager">{"".join(pager)}
<button type="submit" id="compare-chosen">Compare the two chosen runs</button></div>
<table id="runs"><thead><tr><th></th>{head("id", "run")}{head("suite", "suite")}
{head("started", "started")}{head("status", "status")}<th>variants</th><th>models</th>
{head("records", "records", "num")}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></form>
"""
    return page("Runs", body, kind="runs")


def history_page(
    suite: str, runs: Sequence[tuple[RunEntry, Summary | str]], gate: dict[str, tuple[float, str]]
) -> str:
    """A suite's runs, oldest first: pass rate and each metric per variant × model, charted."""
    readable = [(e, s) for e, s in runs if isinstance(s, Summary)]
    ids = [e.run_id for e, _ in readable]
    groups = list(dict.fromkeys(key for _, s in readable for key in s.groups))
    metrics = list(dict.fromkeys(m for _, s in readable for m in s.metric_names))
    charts = []
    for measure in [PASS_RATE, *metrics]:
        series = []
        for v, m in groups:
            values = []
            for _, s in readable:
                g = s.groups.get((v, m))
                values.append(None if g is None else g.figure(measure))
            series.append(Series(f"{v} × {m}", values))
        threshold, text = gate.get(measure, (None, ""))
        title = "pass rate" if measure == PASS_RATE else measure
        charts.append(
            f'<h2 id="chart-{esc(measure)}">{esc(title)}</h2>'
            + line_chart(
                measure,
                ids,
                series,
                threshold=threshold,
                threshold_label=text,
                percent=measure == PASS_RATE,
            )
        )
    head = "".join(f"<th class=num>{esc(v)} × {esc(m)}</th>" for v, m in groups)
    rows = []
    for i, (e, got) in enumerate(runs, 1):
        if isinstance(got, Summary):
            cells = "".join(
                f'<td class="num">{pct(got.groups[k].pass_rate) if k in got.groups else "—"}</td>'
                for k in groups
            )
        else:
            cells = f'<td colspan="{max(1, len(groups))}" class="error">unreadable: {esc(got)}</td>'
        rows.append(
            f'<tr class="history-run" data-run="{esc(e.run_id)}"><td>#{i}</td>'
            f'<td><a href="{run_url(e.run_id)}">{esc(e.run_id)}</a></td>'
            f"<td>{esc(e.started[:19].replace('T', ' '))}</td>{cells}</tr>"
        )
    empty = "" if readable else '<p class="muted">No readable run of this suite yet.</p>'
    body = (
        f'<h1>History of <span id="suite-name">{esc(suite)}</span></h1>'
        f'<p class="muted">{len(runs)} runs, oldest first; each point links to its run. '
        f'<a href="{url("/", suite=suite)}">this suite\'s runs</a></p>{empty}'
        + "".join(charts)
        + f'<h2>pass rate per run</h2><table id="history"><thead><tr><th></th><th>run</th>'
        f"<th>started</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return page(f"History of {suite}", body, kind="history")


def compare_page(entries: Sequence[RunEntry], chosen: RunEntry | None, problem: str = "") -> str:
    """Choose two runs, or one run and two of its variants."""
    readable = [e for e in entries if e.meta is not None][:500]

    def run_select(name: str, element_id: str, pick: int) -> str:
        opts = "".join(
            f'<option value="{esc(e.run_id)}"{" selected" if i == pick else ""}>'
            f"{esc(e.run_id)} · {esc(e.suite)}</option>"
            for i, e in enumerate(readable)
        )
        return f'<select name="{name}" id="{element_id}">{opts}</select>'

    variants = ""
    if chosen is not None and chosen.meta is not None:
        vs = chosen.variants

        def variant_select(element_id: str, pick: int) -> str:
            opts = "".join(
                f'<option value="{esc(v)}"{" selected" if i == pick else ""}>{esc(v)}</option>'
                for i, v in enumerate(vs)
            )
            return f'<select name="variant" id="{element_id}">{opts}</select>'

        variants = (
            f'<h2>Two variants of run {esc(chosen.run_id)}</h2><form class="filters" method="get"'
            f' action="/compare"><input type="hidden" name="run" value="{esc(chosen.run_id)}">'
            f"<label>A {variant_select('variant-a', 0)}</label>"
            f"<label>B {variant_select('variant-b', min(1, len(vs) - 1))}</label>"
            '<button type="submit" id="compare-variants">Compare variants</button></form>'
        )
    error = f'<p class="error" id="problem">{esc(problem)}</p>' if problem else ""
    body = f"""<h1>Compare</h1>{error}
<h2>Two runs</h2>
<form class="filters" method="get" action="/compare">
<label>A (before) {run_select("run", "run-a", 1)}</label>
<label>B (after) {run_select("run", "run-b", 0)}</label>
<button type="submit" id="compare-runs">Compare runs</button></form>
<h2>Two variants of one run</h2>
<form class="filters" method="get" action="/compare">
<label>run {run_select("run", "run-one", 0)}</label>
<button type="submit" id="choose-run">Choose its variants</button></form>
{variants}"""
    return page("Compare", body, kind="compare")


LIVE_SCRIPT = """
const box = document.getElementById('live');
async function poll() {
  try {
    const r = await fetch(box.dataset.api, {cache: 'no-store'});
    if (r.ok) {
      const d = await r.json();
      document.getElementById('live-records').textContent = d.records;
      document.getElementById('live-status').textContent = d.status;
      const rows = d.groups.map(g => {
        const tr = document.createElement('tr');
        for (const v of [g.variant, g.model, g.records, g.pass_rate]) {
          const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
        }
        return tr;
      });
      document.getElementById('live-groups').replaceChildren(...rows);
      box.dataset.polls = String(Number(box.dataset.polls) + 1);
      if (d.status !== 'running') { location.reload(); return; }
    }
  } catch (e) { /* the viewer restarting: try again */ }
  setTimeout(poll, Number(box.dataset.every));
}
setTimeout(poll, Number(box.dataset.every));
"""


def live_page(entry: RunEntry, every_ms: int = 1000) -> str:
    """A run still in progress: its counts so far, refreshed until it ends, then its report."""
    api = esc(f"/api/runs/{entry.run_id}/progress")
    body = (
        f'<h1>Run {esc(entry.run_id)} <span class="muted">· {esc(entry.suite)}</span></h1>'
        f'<div id="live" data-api="{api}" data-every="{every_ms}" data-polls="0">'
        f'<div class="cards"><div class="card">status<b id="live-status">running</b></div>'
        f'<div class="card">records so far<b id="live-records">{entry.records}</b></div></div>'
        "<h2>so far, per variant × model</h2><table><thead><tr><th>variant</th><th>model</th>"
        '<th>records</th><th>pass rate</th></tr></thead><tbody id="live-groups"></tbody></table>'
        '<p class="muted">This page follows the run as it goes; when the run ends it shows '
        "the report.</p></div>"
    )
    return page(f"Run {entry.run_id} (running)", body, kind="live", script=LIVE_SCRIPT)


def progress_json(entry: RunEntry, summary: Summary | str) -> dict[str, object]:
    """What the live page polls."""
    groups = []
    if isinstance(summary, Summary):
        for g in summary.groups.values():
            groups.append(
                {
                    "variant": g.variant,
                    "model": g.model,
                    "records": g.records,
                    "pass_rate": pct(g.pass_rate),
                }
            )
    records = summary.records if isinstance(summary, Summary) else entry.records
    return {"run": entry.run_id, "status": entry.status, "records": records, "groups": groups}


def unreadable_page(entry: RunEntry, why: str) -> str:
    """A run that cannot be read: what is wrong with it; the rest of the viewer works."""
    body = (
        f'<h1>Run {esc(entry.run_id)}</h1><p class="error" id="problem">This run is unreadable: '
        f'{esc(why)}</p><p><a href="/">all runs</a></p>'
    )
    return page(f"Run {entry.run_id} (unreadable)", body, kind="unreadable")


def message_page(title: str, text: str) -> str:
    """A plain message (not found, bad request)."""
    body = f'<h1>{esc(title)}</h1><p class="error" id="problem">{esc(text)}</p>'
    return page(title, body, kind="message")
