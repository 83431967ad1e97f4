'use strict';
/* promptbench report: B against A. The statistics per pair (means, B − A with its
 * interval, Holm-corrected p, verdict), then every paired case with both outputs side
 * by side and the changed words marked: deleted from A, inserted in B.
 * Served by `promptbench view` (D.remote set), the page holds only the first rows: the
 * viewer filters and searches, and the rows in view are fetched a page at a time. */
(() => {
  const t0 = performance.now();
  const D = PB.data();
  const { esc, fmt } = PB;
  const X = D.diff;
  const rows = D.rows;
  const remote = D.remote || null;
  const PAGE = 100;
  const view = { gen: 0, byPos: new Map(), pending: new Set(), first: remote };
  const totalRows = remote ? remote.total : rows.length;
  const metrics = D.metrics;
  const app = document.getElementById('app');
  const state = { mode: 'all', q: '', metric: -1, pair: -1, open: new Set() };
  const timings = { parse: performance.now() - t0 };
  const PASS_RATE = 'pass_rate';

  /* The terminal's formats (promptbench/report/diff_terminal.py). */
  const isPts = (name) => name === PASS_RATE;
  const mean = (name, x) => (x == null ? '—' : isPts(name) ? fmt.pct(x) : fmt.score(x));
  const signed = (s) => (s.startsWith('-') ? s : '+' + s);
  const delta = (name, x, sign = true) => {
    if (x == null) return '—';
    const s = isPts(name) ? (x * 100).toFixed(1) : x.toFixed(3);
    return sign ? signed(s) : s + (isPts(name) ? ' pts' : '');
  };
  const pval = (p) => (p == null ? '—' : p < 1e-4 ? '<0.0001' : p < 0.01 ? p.toFixed(4) : p.toFixed(3));
  const VCLS = { better: 'better', worse: 'worse', 'no detectable difference': 'same', 'no data': 'nodata' };

  function diffText(c) {
    if (c.diff == null) return '—';
    const unit = isPts(c.name) ? ' pts' : '';
    const ci = c.ci_low != null && c.ci_high != null ? ` [${delta(c.name, c.ci_low)}, ${delta(c.name, c.ci_high)}]` : '';
    return `${delta(c.name, c.diff)}${unit}${ci}`;
  }

  /* B − A and its interval on an axis centred on zero. */
  function forest(c, scale) {
    if (c.diff == null) return '';
    const W = 150;
    const H = 18;
    const x = (v) => (W / 2 + (v / scale) * (W / 2 - 6)).toFixed(1);
    const cls = VCLS[c.verdict] === 'better' ? 'better' : VCLS[c.verdict] === 'worse' ? 'worse' : 'same';
    let s = `<svg width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" aria-hidden="true">`;
    s += `<line class="axis" x1="4" x2="${W - 4}" y1="${H / 2}" y2="${H / 2}"/>`;
    s += `<line class="zero" x1="${W / 2}" x2="${W / 2}" y1="2" y2="${H - 2}"/>`;
    if (c.ci_low != null && c.ci_high != null) {
      s += `<line class="${cls}" x1="${x(c.ci_low)}" x2="${x(c.ci_high)}" y1="${H / 2}" y2="${H / 2}" stroke-width="3" stroke-linecap="round"/>`;
    }
    s += `<circle class="${cls}" cx="${x(c.diff)}" cy="${H / 2}" r="3.5"/>`;
    return s + '</svg>';
  }

  function pairPanel(p, index) {
    const scale = Math.max(0.02, ...p.metrics.flatMap((m) => [m.diff, m.ci_low, m.ci_high]).filter((v) => v != null).map(Math.abs));
    const conf = p.metrics.length ? Math.round(100 * p.metrics[0].confidence) : 95;
    let body = '';
    for (const m of p.metrics) {
      const v = VCLS[m.verdict] || 'same';
      body += `<tr data-pair="${index}" data-metric="${esc(m.name)}">`
        + `<td>${esc(m.name)}</td>`
        + `<td data-k="mean_a" data-value="${m.mean_a ?? ''}">${mean(m.name, m.mean_a)}</td>`
        + `<td data-k="mean_b" data-value="${m.mean_b ?? ''}">${mean(m.name, m.mean_b)}</td>`
        + `<td data-k="diff" data-value="${m.diff ?? ''}">${esc(diffText(m))}</td>`
        + `<td class="forest">${forest(m, scale)}</td>`
        + `<td data-k="p" data-value="${m.p_adjusted ?? ''}">${pval(m.p_adjusted)}</td>`
        + `<td class="v" data-k="verdict"><span class="verdict ${v}">${esc(m.verdict)}</span></td>`
        + `<td>${delta(m.name, m.mde, false)}</td>`
        + `<td>${fmt.int(m.n_paired)}</td>`
        + `<td>${m.cases_needed == null ? '—' : '~' + fmt.int(m.cases_needed)}</td></tr>`;
    }
    const head = '<tr><th>metric</th><th>A</th><th>B</th>'
      + `<th>B − A [${conf}% CI]</th><th></th><th>p (Holm)</th><th class="v">verdict</th><th>MDE</th><th>n</th>`
      + `<th>cases for ±${+(X.detect * 100).toFixed(2)} pts</th></tr>`;
    const cov = [`paired cases: ${fmt.int(p.metrics[0]?.n_paired ?? 0)}`,
      `only in A: ${fmt.int(p.only_a.count)}`, `only in B: ${fmt.int(p.only_b.count)}`];
    if (p.call_errors_a || p.call_errors_b) cov.push(`call errors left out: A ${p.call_errors_a}, B ${p.call_errors_b}`);
    cov.push(`flipped: ${p.regressions} pass → fail, ${p.improvements} fail → pass`);
    if (p.flaky) cov.push(`flaky: ${p.flaky}`);
    return `<div class="pair"><h3>${esc(p.label)}</h3><div class="tablewrap"><table class="stats">`
      + `<thead>${head}</thead><tbody>${body}</tbody></table></div><div class="coverage">${esc(cov.join(' · '))}</div></div>`;
  }

  function header() {
    const side = (tag, s) => `<span>${tag}</span><span><b>${esc(s.label)}</b> (${esc(s.kind)} ${esc(s.source)}${s.suite ? `, suite ${esc(s.suite)}` : ''})</span>`;
    const v = X.verdicts;
    const pills = [['worse', 'worse'], ['better', 'better'], ['no detectable difference', 'same'], ['no data', 'nodata']]
      .filter(([k]) => k !== 'no data' || v[k])
      .map(([k, cls]) => `<span class="pill ${cls}" data-verdict="${esc(k)}">${v[k]} ${esc(k)}</span>`).join('');
    const worst = v.worse ? ['bad', `✗ ${v.worse} worse`] : v.better ? ['ok', `✓ ${v.better} better`] : ['neutral', 'no detectable difference'];
    const tests = `${X.holm_family} distinct test${X.holm_family === 1 ? '' : 's'}`;
    let warn = '';
    if (X.unmatched_a.length) warn += `<div class="warnline">not compared, only in A: ${esc(X.unmatched_a.join(', '))}</div>`;
    if (X.unmatched_b.length) warn += `<div class="warnline">not compared, only in B: ${esc(X.unmatched_b.join(', '))}</div>`;
    return `<header class="top"><div><h1>${esc(X.a.label)} → ${esc(X.b.label)}</h1>`
      + `<div class="sides">${side('A', X.a)}${side('B', X.b)}</div>`
      + `<div class="verdicts">${pills}<span class="small">B against A; Holm over ${tests} at alpha ${X.alpha}</span></div>${warn}</div>`
      + `<div class="outcome ${worst[0]}">${esc(worst[1])}</div></header>`;
  }

  function toolbar() {
    let s = PB.searchBox('Search cases and outputs');
    s += PB.segmented([['all', 'All'], ['flip', 'Flipped'], ['reg', 'Pass → fail'], ['imp', 'Fail → pass'],
      ['fail', 'Failures'], ['changed', 'Changed output']], state.mode);
    if (X.pairs.length > 1) {
      s += '<label class="lab">pair <select id="pair"><option value="-1">all pairs</option>'
        + X.pairs.map((p, i) => `<option value="${i}">${esc(p.label)}</option>`).join('') + '</select></label>';
    }
    if (metrics.length) {
      s += '<label class="lab">metric <select id="metric"><option value="-1">case verdict</option>'
        + metrics.map((m, i) => `<option value="${i}">${esc(m)}</option>`).join('') + '</select></label>';
    }
    s += '<span class="count" id="count"></span>';
    return `<div class="toolbar" id="toolbar">${s}</div>`;
  }

  function colHeads() {
    const one = X.pairs.length === 1 ? X.pairs[0] : null;
    const pr = one?.metrics.find((m) => m.name === PASS_RATE);
    const col = (tag, s, rate, color) => `<th class="col"><span class="colname"><span class="dot" style="background:${color}"></span>`
      + `<b>${tag}</b>&nbsp;·&nbsp;${esc(s.label)}</span><span class="colstat">`
      + `${pr ? `${mean(PASS_RATE, rate)} pass · ` : ''}${tag === 'A' ? '<del>deleted</del> words' : '<ins>inserted</ins> words'}</span></th>`;
    return '<th class="case">Case</th>' + col('A', X.a, pr?.mean_a, PB.color(0)) + col('B', X.b, pr?.mean_b, PB.color(1));
  }

  app.innerHTML = header()
    + `<section class="panel"><h2>Statistics</h2>${X.pairs.map(pairPanel).join('')}</section>`
    + toolbar()
    + `<table class="cases" id="cases"><thead><tr id="colheads">${colHeads()}</tr></thead><tbody id="rows"></tbody></table>`;

  const tbody = document.getElementById('rows');
  const table = document.getElementById('cases');
  const tb = document.getElementById('toolbar');
  const search = document.getElementById('search');
  const count = document.getElementById('count');
  const pager = PB.remoteRows(view, query, PAGE, () => lazy.render(true));

  /* Both outputs marked up from the word diff's [op, length, ...] (see diff_data.py). */
  function marked(a, b, ops, q) {
    const hl = (s) => PB.highlight(s, q);
    let ia = 0;
    let ib = 0;
    let A = '';
    let B = '';
    for (let k = 0; k < ops.length; k += 2) {
      const n = ops[k + 1];
      if (ops[k] === 0) {
        A += hl(a.slice(ia, ia + n));
        B += hl(b.slice(ib, ib + n));
        ia += n;
        ib += n;
      } else if (ops[k] === 1) {
        A += `<del>${hl(a.slice(ia, ia + n))}</del>`;
        ia += n;
      } else {
        B += `<ins>${hl(b.slice(ib, ib + n))}</ins>`;
        ib += n;
      }
    }
    return [A, B];
  }

  const FLIP = { r: ['r', '▼ pass → fail'], i: ['i', '▲ fail → pass'] };

  function flipOf(row) {
    const m = state.metric;
    if (m < 0) return row.f || '';
    const va = row.a?.s?.[m]?.[1];
    const vb = row.b?.s?.[m]?.[1];
    return va === 'p' && vb === 'f' ? 'r' : va === 'f' && vb === 'p' ? 'i' : '';
  }

  function rowHTML(i) {
    if (!remote) return rowOf(rows[i], i);
    const row = view.byPos.get(i);
    if (row) return rowOf(row, i);
    pager.want(i);
    return `<tr class="row pending" data-i="${i}"><th class="case" scope="row">…</th>`
      + '<td class="cell" colspan="2"><span class="small">loading…</span></td></tr>';
  }

  function rowOf(row, i) {
    const open = state.open.has(i);
    const f = flipOf(row);
    let extra = f ? `<span class="flip ${FLIP[f][0]}">${FLIP[f][1]}</span>` : '';
    if (row.k) extra += '<span class="flip k" title="the verdict changes across repeats">flaky</span>';
    if (X.pairs.length > 1) extra += `<span class="pairlabel">${esc(X.pairs[row.p].label)}</span>`;
    let A = null;
    let B = null;
    if (row.d && row.a && row.b && !row.a.x && !row.b.x) [A, B] = marked(row.a.o, row.b.o, row.d, state.q);
    return `<tr class="row${open ? ' open' : ''}" data-i="${i}" data-id="${esc(row.id)}" data-flip="${f}">`
      + `<th class="case" scope="row">${PB.caseHeader(row, D.vars, extra)}</th>`
      + PB.cellHTML(row.a, metrics, { q: state.q, metric: state.metric, outputHTML: A, open })
      + PB.cellHTML(row.b, metrics, { q: state.q, metric: state.metric, outputHTML: B, open })
      + '</tr>';
  }
  const lazy = new PB.LazyRows(tbody, rowHTML, { columns: 3 });
  lazy.emptyText = 'No case matches these filters.';

  function matches(row, q) {
    if (!row._h) {
      const side = (c) => (c ? `${c.o ?? ''}\n${c.x ?? ''}` : '');
      row._h = [row.id, ...(row.v || []), row.x ?? '', side(row.a), side(row.b)].join('\n').toLowerCase();
    }
    return row._h.includes(q);
  }

  function query(offset) {
    const p = new URLSearchParams({ offset: String(offset), limit: String(PAGE), mode: state.mode });
    if (state.q) p.set('q', state.q);
    if (state.metric >= 0) p.set('metric', String(state.metric));
    if (state.pair >= 0) p.set('pair', String(state.pair));
    return `${remote.api}&${p}`;
  }

  function counted(counts, shown) {
    PB.showCounts(tb, count, state.mode, counts, shown, totalRows, 'cases');
  }

  function applyRemote(start) {
    const gen = pager.restart();
    state.open.clear();
    const draw = (answer) => {
      pager.first(answer);
      counted(answer.counts, answer.shown);
      PB.scrollToTable(table, tb);
      lazy.forget();
      lazy.show([...Array(answer.shown).keys()]);
      return PB.filtered(timings, start);
    };
    if (view.first) {
      const answer = view.first;
      view.first = null;
      return draw(answer);
    }
    pager.ask(0).then((answer) => { if (gen === view.gen) draw(answer); }).catch((err) => {
      if (gen !== view.gen) return;
      count.textContent = String(err.message || err);
      lazy.show([]);
    });
    return 0;
  }

  function verdict(c, m) {
    if (!c) return null;
    if (m < 0) return c.v;
    const s = c.s && c.s[m];
    return s ? s[1] : null;
  }

  function apply() {
    const start = performance.now();
    if (remote) return applyRemote(start);
    const { q, metric: m, pair } = state;
    const counts = { all: 0, flip: 0, reg: 0, imp: 0, fail: 0, changed: 0 };
    const order = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (pair >= 0 && row.p !== pair) continue;
      const va = verdict(row.a, m);
      const vb = verdict(row.b, m);
      if (m >= 0 && va == null && vb == null) continue;
      if (q && !matches(row, q)) continue;
      const f = flipOf(row);
      const fail = va === 'f' || vb === 'f';
      const changed = !!row.d;
      counts.all++;
      if (f) counts.flip++;
      if (f === 'r') counts.reg++;
      if (f === 'i') counts.imp++;
      if (fail) counts.fail++;
      if (changed) counts.changed++;
      const keep = {
        all: true, flip: !!f, reg: f === 'r', imp: f === 'i', fail, changed,
      }[state.mode];
      if (keep) order.push(i);
    }
    counted(counts, order.length);
    PB.scrollToTable(table, tb);
    lazy.show(order);
    return PB.filtered(timings, start);
  }

  tb.addEventListener('click', (ev) => {
    const seg = ev.target.closest('.seg button');
    if (seg) {
      state.mode = seg.dataset.mode;
      apply();
    }
  });
  for (const [id, prop] of [['metric', 'metric'], ['pair', 'pair']]) {
    document.getElementById(id)?.addEventListener('change', (ev) => {
      state[prop] = Number(ev.target.value);
      apply();
    });
  }
  PB.start({ tbody, lazy, state, apply, toolbar: tb, search, data: D, timings });
})();
