'use strict';
/* promptbench report: one run. The summary per variant × model with charts, then every
 * case with each variant × model's output side by side, filtered and searched in memory.
 * Served by `promptbench view` (D.remote set), the page holds only the first rows: the
 * viewer filters, searches and sorts, and the rows in view are fetched a page at a time. */
(() => {
  const t0 = performance.now();
  const D = PB.data();
  const { esc, fmt } = PB;
  const app = document.getElementById('app');
  const groups = D.groups;
  const remote = D.remote || null;
  const rows = D.rows;
  const PAGE = 100;
  // Remote rows by their position in the current query's answer; gen drops late answers.
  const view = { gen: 0, byPos: new Map(), pending: new Set(), first: remote };
  const metrics = D.metrics;
  const key = (v, m) => v + '\u0000' + m;
  const byGroup = new Map(D.summary.groups.map((g) => [key(g.variant, g.model), g]));
  const sums = groups.map((g) => byGroup.get(key(g.variant, g.model)));
  const label = (g) => `${g.variant} × ${g.model}`;
  const variants = [...new Set(groups.map((g) => g.variant))];
  const models = [...new Set(groups.map((g) => g.model))];
  const state = {
    mode: 'all',
    q: '',
    metric: -1,
    variants: new Set(variants),
    models: new Set(models),
    open: new Set(),
    cols: groups.map((_, i) => i),
    sort: 'case',
    order: 'asc',
  };
  const totalRows = remote ? remote.total : rows.length;
  const timings = { parse: performance.now() - t0 };

  /* ---------------------------------------------------------------- header */
  const OUTCOMES = {
    passed: ['ok', '✓ gate passed'],
    no_gate: ['neutral', 'no gate'],
    gate_failed: ['bad', '✗ gate failed'],
    too_many_errors: ['warn', '⚠ too many call errors for a verdict'],
    budget_exceeded: ['warn', '⚠ stopped at --max-cost'],
  };

  function header() {
    const r = D.run;
    const [cls, text] = !D.summary.records ? ['neutral', 'no records']
      : D.gate.checks.length || D.gate.outcome !== 'passed'
      ? OUTCOMES[D.gate.outcome] || ['neutral', D.gate.outcome]
      : ['neutral', 'no gate'];
    const bits = [`<span>run <code>${esc(r.id)}</code></span>`];
    if (r.status !== 'finished') bits.push(`<span class="warnline">${esc(r.status)}</span>`);
    if (r.started_at) bits.push(`<span>${esc(fmt.when(r.started_at))}</span>`);
    if (r.wall_seconds != null) bits.push(`<span>${esc(fmt.duration(r.wall_seconds))}</span>`);
    bits.push(`<span>${fmt.int(D.summary.records)} records</span>`);
    bits.push(`<span>${variants.length} variant${variants.length === 1 ? '' : 's'} × ${models.length} model${models.length === 1 ? '' : 's'}</span>`);
    if (D.repeats > 1) bits.push(`<span>${D.repeats} repeats</span>`);
    if (r.commit) bits.push(`<span>commit <code>${esc(String(r.commit).slice(0, 10))}</code></span>`);
    return `<header class="top"><div><h1>${esc(r.suite)}</h1><div class="sub">${bits.join('')}</div>`
      + (r.description ? `<div class="desc">${esc(r.description)}</div>` : '')
      + `</div><div class="outcome ${cls}" id="outcome" data-outcome="${esc(D.gate.outcome)}">${esc(text)}</div></header>`;
  }

  /* ---------------------------------------------------------------- summary */
  function charts() {
    const items = (f) => groups.map((g, i) => ({ label: label(g), color: PB.color(i), ...f(sums[i], i) }));
    const cards = [];
    cards.push(PB.chartCard('Pass rate', PB.barChart(items((s) => {
      const n = s.records || 1;
      return {
        stack: [['vp', s.passed / n], ['vf', s.failed / n], ['ve', s.errors / n], ['vn', s.no_verdict / n]],
        text: fmt.pct(s.pass_rate),
      };
    })), '<i class="vp"></i>pass<i class="vf"></i>fail<i class="ve"></i>error<i class="vn"></i>none'));
    metrics.forEach((name) => {
      cards.push(PB.chartCard(`${name} · mean score`, PB.barChart(
        items((s) => ({ value: s.metrics[name]?.mean ?? null })), { max: 1, format: fmt.score })));
    });
    cards.push(PB.chartCard('Latency', PB.barChart(items((s) => ({
      value: s.latency_ms.p50, ghost: s.latency_ms.p95,
      text: `${fmt.ms(s.latency_ms.p50)} / ${fmt.ms(s.latency_ms.p95)}`,
    })), { ghostTitle: 'p95' }), 'ms · p50 / p95 (faded)'));
    cards.push(PB.chartCard('Cost', PB.barChart(items((s) => ({
      value: s.cost, text: s.cost == null ? 'unknown' : fmt.usd(s.cost),
    }))), 'USD'));
    return `<div class="charts">${cards.join('')}</div>`;
  }

  function summaryTable() {
    const cell = (i, k, value, text, cls = '') =>
      `<td data-g="${i}" data-k="${esc(k)}" data-value="${value == null ? '' : esc(String(value))}"${cls ? ` class="${cls}"` : ''}>${text}</td>`;
    let head = '<tr><th>variant</th><th>model</th><th>cases</th><th>pass rate</th>';
    metrics.forEach((m) => { head += `<th>${esc(m)}</th>`; });
    head += '<th>errors</th><th>p50 ms</th><th>p95 ms</th><th>tokens</th><th>cost</th></tr>';
    let body = '';
    groups.forEach((g, i) => {
      const s = sums[i];
      const bar = s.pass_rate == null ? '' : `<span class="minibar"><i style="width:${(s.pass_rate * 100).toFixed(1)}%"></i></span>`;
      body += `<tr><td><span class="dot" style="background:${PB.color(i)}"></span>${esc(g.variant)}</td><td>${esc(g.model)}</td>`;
      body += cell(i, 'records', s.records, fmt.int(s.records));
      body += cell(i, 'pass_rate', s.pass_rate, bar + fmt.pct(s.pass_rate));
      metrics.forEach((m) => {
        const st = s.metrics[m];
        const err = st && st.errors ? ` <span class="small">(${st.errors} err)</span>` : '';
        body += cell(i, 'metric:' + m, st ? st.mean : null, fmt.score(st ? st.mean : null) + err);
      });
      body += cell(i, 'errors', s.errors, fmt.int(s.errors), s.errors ? 'err-some' : '');
      body += cell(i, 'p50', s.latency_ms.p50, fmt.ms(s.latency_ms.p50));
      body += cell(i, 'p95', s.latency_ms.p95, fmt.ms(s.latency_ms.p95));
      body += cell(i, 'tokens', s.tokens.total, fmt.int(s.tokens.total));
      body += cell(i, 'cost', s.cost, fmt.usd(s.cost));
      body += '</tr>';
    });
    return `<div class="tablewrap"><table class="summary" id="summary"><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
  }

  function gate() {
    const kinds = {};
    D.summary.groups.forEach((g) => Object.entries(g.error_kinds || {}).forEach(([k, n]) => { kinds[k] = (kinds[k] || 0) + n; }));
    let s = '';
    const k = Object.entries(kinds);
    if (k.length) {
      s += `<div class="warnline">call errors (not counted as wrong answers): ${k.map(([a, n]) => `${esc(a)}: ${n}`).join(', ')}</div>`;
    }
    if (D.gate.checks.length) {
      s += '<div class="gate">' + D.gate.checks.map((c) => {
        const actual = c.actual == null ? '—' : Number(c.actual.toPrecision(4)).toString();
        return `<span class="check ${c.holds ? 'ok' : 'bad'}">${c.holds ? '✓' : '✗'} ${esc(c.rule)} · ${esc(c.variant)} × ${esc(c.model)}: ${esc(actual)}</span>`;
      }).join('') + '</div>';
    }
    if (D.gate.outcome === 'too_many_errors') {
      s += `<div class="warnline">${fmt.pct(D.gate.error_rate)} of calls failed; the limit is ${fmt.pct(D.gate.max_error_rate)}</div>`;
    }
    return s;
  }

  function prompts() {
    const r = D.run;
    const tpl = Object.entries(r.variants).map(([name, text]) =>
      `<div><b>${esc(name)}</b><pre>${esc(text)}</pre></div>`).join('');
    const mdl = Object.entries(r.models).map(([name, what]) => `<b>${esc(name)}</b> ${esc(what)}`).join(' · ');
    return `<details class="prompts"><summary>Prompts and models</summary><div class="small" style="margin-top:8px">${mdl}</div>`
      + `<div class="tpl">${tpl}</div><div class="small" style="margin-top:8px"><code>${esc(r.command)}</code> · ${esc(r.dir)}</div></details>`;
  }

  /* ---------------------------------------------------------------- toolbar and table */
  function toolbar() {
    let s = PB.searchBox('Search cases and outputs');
    s += PB.segmented([['all', 'All'], ['fail', 'Failures'], ['error', 'Errors'], ['flip', 'Flipped']], state.mode);
    if (metrics.length) {
      s += '<label class="lab">metric <select id="metric"><option value="-1">all metrics</option>'
        + metrics.map((m, i) => `<option value="${i}">${esc(m)}</option>`).join('') + '</select></label>';
    }
    const toggles = (what, names, attr) => names.length < 2 ? '' : `<span class="toggles"><span class="what">${what}</span>`
      + names.map((n) => `<button type="button" class="toggle" data-${attr}="${esc(n)}" aria-pressed="true">${esc(n)}</button>`).join('') + '</span>';
    s += toggles('variants', variants, 'variant');
    s += toggles('models', models, 'model');
    if (remote) {
      s += '<label class="lab">order <select id="sort"><option value="case:asc">by case</option>'
        + '<option value="latency:desc">slowest first</option><option value="cost:desc">costliest first</option></select></label>';
    }
    s += '<span class="count" id="count"></span>';
    return `<div class="toolbar" id="toolbar">${s}</div>`;
  }

  function colHeader(i) {
    const s = sums[i];
    const bits = [`${fmt.pct(s.pass_rate)} pass`];
    if (s.errors) bits.push(`${fmt.int(s.errors)} error${s.errors === 1 ? '' : 's'}`);
    return `<th class="col"><span class="colname"><span class="dot" style="background:${PB.color(i)}"></span>`
      + `<b>${esc(groups[i].variant)}</b>&nbsp;×&nbsp;${esc(groups[i].model)}</span><span class="colstat">${bits.join(' · ')}</span></th>`;
  }

  /* The ranking on the pass rate, as `promptbench rank` prints it. The viewer sends it
   * after the page (its bootstrap is the dearest part of a large run): a slot until then. */
  function ranking(R = D.ranking) {
    if (remote?.ranking && R === D.ranking) return '<div id="ranking-slot"></div>';
    if (!R) return '';
    const head = `<tr>${R.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
    const body = R.rows.map((r) => `<tr class="${r.best ? 'best' : 'dim'}">`
      + r.cells.map((c, i) => `<td>${i === 1 && r.best ? `<b>${esc(c)}</b>` : esc(c)}</td>`).join('') + '</tr>').join('');
    const best = R.rows.filter((r) => r.best).map((r) => r.cells[1]);
    // Folded, like the prompts: the cases stay in view; the line says what it found.
    return `<details class="prompts ranking"><summary>Ranking on ${esc(R.metric)}: as good as the best, `
      + `${esc(best.join(', '))}</summary>`
      + `<div class="tablewrap"><table class="summary" id="ranking"><thead>${head}</thead><tbody>${body}</tbody></table></div>`
      + `<p class="small">${esc(R.note)}</p></details>`;
  }

  /* ---------------------------------------------------------------- probes */
  function robustness() {
    const P = D.probes;
    if (!P) return '';
    const VERDICT = { robust: 'better', sensitive: 'worse', 'not enough cases': '' };
    let s = '<section class="panel" id="robustness"><h2>Robustness</h2>';
    for (const t of P.tables) {
      const head = P.columns.map((c) => `<th>${esc(c)}</th>`).join('');
      const body = t.rows.map((row, i) => '<tr>' + row.map((cell, j) => (
        P.columns[j] === 'verdict'
          ? `<td><span class="pill ${VERDICT[t.verdicts[i]] || ''}">${esc(cell)}</span></td>`
          : `<td>${esc(cell)}</td>`)).join('') + '</tr>').join('');
      s += `<h3>${esc(t.variant)} × ${esc(t.model)}</h3><div class="tablewrap"><table class="summary probes">`
        + `<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
    }
    if (P.flips.length) {
      s += '<details class="prompts"><summary>Flipped twins: both outputs and the changed words</summary>';
      for (const f of P.flips) {
        const diff = f.d.map(([op, text]) => (op === 'equal' ? esc(text)
          : op === 'delete' ? `<del>${esc(text)}</del>` : `<ins>${esc(text)}</ins>`)).join('');
        s += `<div class="flip" data-twin="${esc(f.twin)}"><b>${esc(f.twin)}</b> `
          + `${f.lost ? 'pass → fail' : 'fail → pass'} · ${esc(f.variant)} × ${esc(f.model)}`
          + `<div class="small">${esc(f.origin)}: ${esc(f.a)}</div>`
          + `<div class="small">${esc(f.twin)}: ${esc(f.b)}</div><div class="small">word diff: ${diff}</div></div>`;
      }
      s += '</details>';
    }
    return s + '</section>';
  }

  app.innerHTML = header()
    + `<section class="panel"><h2>Summary</h2>${charts()}${summaryTable()}${gate()}${ranking()}${prompts()}</section>`
    + robustness()
    + toolbar()
    + '<table class="cases" id="cases"><thead><tr id="colheads"></tr></thead><tbody id="rows"></tbody></table>';

  const tbody = document.getElementById('rows');
  const table = document.getElementById('cases');
  const tb = document.getElementById('toolbar');
  const search = document.getElementById('search');
  const count = document.getElementById('count');
  const pager = PB.remoteRows(view, query, PAGE, () => lazy.render(true));

  function rowHTML(i) {
    if (!remote) return rowOf(rows[i], i);
    const row = view.byPos.get(i);
    if (row) return rowOf(row, i);
    pager.want(i);
    return `<tr class="row pending" data-i="${i}"><th class="case" scope="row">…</th>`
      + `<td class="cell" colspan="${state.cols.length || 1}"><span class="small">loading…</span></td></tr>`;
  }

  function rowOf(row, i) {
    const open = state.open.has(i);
    let s = `<tr class="row${open ? ' open' : ''}" data-i="${i}" data-id="${esc(row.id)}" data-repeat="${row.r}">`;
    s += `<th class="case" scope="row">${PB.caseHeader(row, D.vars)}</th>`;
    for (const k of state.cols) s += PB.cellHTML(row.c[k], metrics, { q: state.q, metric: state.metric, open });
    return s + '</tr>';
  }
  const lazy = new PB.LazyRows(tbody, rowHTML, { columns: groups.length + 1 });
  lazy.emptyText = totalRows ? 'No case matches these filters.' : 'This run has no records yet.';

  /* The viewer's URL for the rows of the current filters, from ``offset``. */
  function query(offset) {
    const p = new URLSearchParams({ offset: String(offset), limit: String(PAGE), mode: state.mode });
    if (state.q) p.set('q', state.q);
    if (state.metric >= 0) p.set('metric', String(state.metric));
    if (state.cols.length !== groups.length) p.set('cols', state.cols.join(','));
    if (state.sort !== 'case' || state.order !== 'asc') {
      p.set('sort', state.sort);
      p.set('order', state.order);
    }
    return `${remote.api}?${p}`;
  }

  function counted(counts, shown) {
    PB.showCounts(tb, count, state.mode, counts, shown, totalRows, 'rows');
  }


  function colHeads(colsChanged, cols) {
    if (colsChanged || !document.getElementById('colheads').children.length) {
      document.getElementById('colheads').innerHTML = '<th class="case">Case</th>' + cols.map(colHeader).join('');
      table.style.minWidth = `calc(17rem + ${cols.length} * 16rem)`;
    }
  }

  /* The viewer's answer to the filters: the counts, and a window over its rows. */
  function applyRemote(start, cols, colsChanged) {
    const gen = pager.restart();
    state.open.clear();
    const draw = (answer) => {
      pager.first(answer);
      counted(answer.counts, answer.shown);
      colHeads(colsChanged, cols);
      PB.scrollToTable(table, tb);
      lazy.forget();
      lazy.show([...Array(answer.shown).keys()], cols.length + 1);
      return PB.filtered(timings, start);
    };
    if (view.first) { // the first rows came with the page
      const answer = view.first;
      view.first = null;
      return draw(answer);
    }
    pager.ask(0).then((answer) => { if (gen === view.gen) draw(answer); }).catch((err) => {
      if (gen !== view.gen) return;
      count.textContent = String(err.message || err);
      lazy.show([], cols.length + 1);
    });
    return 0;
  }

  /* Lower-cased text to search, built on the first search only. */
  function haystack(row) {
    if (!row._h) {
      row._h = [row.id, ...(row.v || []), row.x ?? ''].join('\n').toLowerCase();
      row._o = row.c.map((c) => (c ? `${c.o ?? ''}\n${c.x ?? ''}`.toLowerCase() : ''));
    }
    return row;
  }

  function matches(row, cols, q) {
    const h = haystack(row);
    if (h._h.includes(q)) return true;
    for (const k of cols) if (h._o[k].includes(q)) return true;
    return false;
  }

  function apply() {
    const start = performance.now();
    const cols = groups.map((_, i) => i).filter((i) => state.variants.has(groups[i].variant) && state.models.has(groups[i].model));
    const colsChanged = cols.join() !== state.cols.join();
    state.cols = cols;
    if (remote) return applyRemote(start, cols, colsChanged);
    const m = state.metric;
    const q = state.q;
    const counts = { all: 0, fail: 0, error: 0, flip: 0 };
    const order = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      let any = false;
      let p = false;
      let f = false;
      let e = false;
      for (const k of cols) {
        const c = row.c[k];
        if (!c) continue;
        let v = c.v;
        if (m >= 0) {
          const s = c.s && c.s[m];
          if (!s) continue;
          v = s[1];
        }
        any = true;
        if (v === 'p') p = true;
        else if (v === 'f') f = true;
        else if (v === 'e') e = true;
      }
      if (!any || (q && !matches(row, cols, q))) continue;
      counts.all++;
      if (f) counts.fail++;
      if (e) counts.error++;
      if (p && f) counts.flip++;
      const mode = state.mode;
      if (mode === 'all' || (mode === 'fail' && f) || (mode === 'error' && e) || (mode === 'flip' && p && f)) order.push(i);
    }
    counted(counts, order.length);
    colHeads(colsChanged, cols);
    PB.scrollToTable(table, tb);
    lazy.show(order, cols.length + 1);
    return PB.filtered(timings, start);
  }

  tb.addEventListener('click', (ev) => {
    const seg = ev.target.closest('.seg button');
    if (seg) {
      state.mode = seg.dataset.mode;
      apply();
      return;
    }
    const t = ev.target.closest('.toggle');
    if (t) {
      const [set, name] = t.dataset.variant != null ? [state.variants, t.dataset.variant] : [state.models, t.dataset.model];
      if (set.has(name)) set.delete(name);
      else set.add(name);
      t.setAttribute('aria-pressed', String(set.has(name)));
      apply();
    }
  });
  document.getElementById('metric')?.addEventListener('change', (ev) => {
    state.metric = Number(ev.target.value);
    apply();
  });
  document.getElementById('sort')?.addEventListener('change', (ev) => {
    [state.sort, state.order] = ev.target.value.split(':');
    apply();
  });
  PB.start({ tbody, lazy, state, apply, toolbar: tb, search, data: D, timings });
  if (remote?.ranking) {
    fetch(remote.ranking, { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null)).then((got) => {
      const slot = document.getElementById('ranking-slot');
      if (got && slot) slot.outerHTML = ranking(got.ranking);
      document.body.dataset.ranked = '1';
    }).catch(() => { document.body.dataset.ranked = '1'; });
  }
})();
