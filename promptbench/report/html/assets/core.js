'use strict';
/* promptbench report: what the run page and the diff page share.
 *
 * Every string that comes from the data (model outputs, case ids, variables, reasons)
 * goes through esc() before it reaches innerHTML. Rows are drawn lazily by LazyRows:
 * only those near the viewport are in the DOM, the rest are two spacer rows whose
 * heights come from the rows already measured.
 */
const PB = (() => {
  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
  const nf = new Intl.NumberFormat('en-US');
  const PALETTE = ['#3d5afe', '#f08c2e', '#1aa179', '#d6457a', '#8b5cf6', '#0ea5c6', '#b7961c', '#64748b',
    '#ef4444', '#22c55e'];

  const fmt = {
    int: (n) => (n == null ? '—' : nf.format(n)),
    pct: (x) => (x == null ? '—' : (x * 100).toFixed(1) + '%'),
    score: (x) => (x == null ? '—' : x.toFixed(3)),
    ms: (x) => (x == null ? '—' : nf.format(Math.round(x))),
    usd: (x) => (x == null ? '—' : x < 1 ? '$' + x.toFixed(4) : '$' + x.toFixed(2)),
    when(iso) {
      if (!iso) return '';
      const d = new Date(iso);
      if (Number.isNaN(d.getTime())) return String(iso);
      return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
    },
    duration(s) {
      if (s == null) return '';
      if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
      const m = Math.floor(s / 60);
      return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
    },
  };

  const VERDICT = { p: 'PASS', f: 'FAIL', e: 'ERROR', n: 'NO VERDICT' };
  const badge = (v) => `<span class="badge ${v}">${VERDICT[v] || esc(v)}</span>`;

  function debounce(fn, ms) {
    let timer = 0;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  /* Text with the (lower-cased) query marked, escaped. */
  function highlight(text, q) {
    const s = String(text ?? '');
    if (!q) return esc(s);
    const lower = s.toLowerCase();
    if (lower.length !== s.length) return esc(s); // lower-casing moved the offsets
    let out = '';
    let at = 0;
    for (let i = lower.indexOf(q); i !== -1; i = lower.indexOf(q, at)) {
      out += esc(s.slice(at, i)) + '<mark>' + esc(s.slice(i, i + q.length)) + '</mark>';
      at = i + q.length;
    }
    return out + esc(s.slice(at));
  }

  /* Horizontal bar chart as an SVG string.
   * items: [{label, value, ghost?, color?, stack?: [[cls, fraction]...], text?}] */
  function barChart(items, { max, format, ghostTitle } = {}) {
    const W = 320;
    const rowH = 22;
    const labelW = 112;
    const valW = 64;
    const barW = W - labelW - valW - 6;
    const H = items.length * rowH + 2;
    const top = Math.max(1e-12, max ?? Math.max(0, ...items.map((i) => Math.max(i.value ?? 0, i.ghost ?? 0))));
    const trunc = (s) => (s.length > 19 ? s.slice(0, 18) + '…' : s);
    let s = `<svg viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" role="img">`;
    items.forEach((it, k) => {
      const y = k * rowH + 1;
      const mid = y + rowH / 2;
      s += `<text class="lbl" x="${labelW - 8}" y="${mid}" text-anchor="end" dominant-baseline="central">`
        + `${esc(trunc(it.label))}<title>${esc(it.label)}</title></text>`;
      s += `<rect class="track" x="${labelW}" y="${y + 5}" width="${barW}" height="${rowH - 10}" rx="3"/>`;
      if (it.stack) {
        let x = labelW;
        for (const [cls, frac] of it.stack) {
          const w = frac * barW;
          if (w > 0) s += `<rect class="${cls}" x="${x.toFixed(2)}" y="${y + 5}" width="${w.toFixed(2)}" height="${rowH - 10}"/>`;
          x += w;
        }
      } else {
        if (it.ghost != null) {
          const w = Math.max(1, (it.ghost / top) * barW);
          s += `<rect class="ghost" x="${labelW}" y="${y + 5}" width="${w.toFixed(2)}" height="${rowH - 10}" rx="3" fill="${it.color}">`
            + `<title>${esc(ghostTitle || '')}</title></rect>`;
        }
        if (it.value != null) {
          const w = Math.max(1, (it.value / top) * barW);
          s += `<rect x="${labelW}" y="${y + 5}" width="${w.toFixed(2)}" height="${rowH - 10}" rx="3" fill="${it.color}"/>`;
        }
      }
      const text = it.text ?? (format ? format(it.value) : String(it.value ?? '—'));
      s += `<text class="val" x="${W - 2}" y="${mid}" text-anchor="end" dominant-baseline="central">${esc(text)}</text>`;
    });
    return s + '</svg>';
  }

  function chartCard(title, svg, legend = '') {
    return `<figure class="chart"><figcaption><span>${esc(title)}</span>`
      + `<span class="legend">${legend}</span></figcaption>${svg}</figure>`;
  }

  /* Rows drawn only near the viewport; the window is the scroller, so the page's
   * sticky toolbar and table header keep working. */
  class LazyRows {
    constructor(tbody, rowHTML, { columns = 1, estimate = 120, overscan = 900, maxRows = 120 } = {}) {
      this.tbody = tbody;
      this.rowHTML = rowHTML;
      this.columns = columns;
      this.estimate = estimate;
      this.overscan = overscan;
      this.maxRows = maxRows;
      this.heights = new Map();
      this.measured = 0;
      this.measuredSum = 0;
      this.order = [];
      this.start = -1;
      this.end = -1;
      this.pending = false;
      this.emptyText = 'No rows match.';
      addEventListener('scroll', () => this.schedule(), { passive: true });
      addEventListener('resize', () => { this.forget(); this.schedule(true); });
    }

    height(i) { return this.heights.get(i) ?? this.estimate; }

    forget(i) {
      if (i === undefined) {
        this.heights.clear();
        this.measured = 0;
        this.measuredSum = 0;
      } else {
        this.heights.delete(i);
      }
    }

    show(order, columns) {
      this.order = order;
      if (columns !== undefined && columns !== this.columns) {
        this.columns = columns;
        this.forget(); // other widths, other heights
      }
      this.render(true);
    }

    schedule(force = false) {
      this.force = this.force || force;
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        const f = this.force;
        this.force = false;
        this.render(f);
      });
    }

    spacer(h, cls) {
      return `<tr class="spacer ${cls}" aria-hidden="true"><td colspan="${this.columns}" style="height:${h.toFixed(0)}px"></td></tr>`;
    }

    range() {
      const n = this.order.length;
      const top = this.tbody.getBoundingClientRect().top;
      const from = Math.max(0, -top - this.overscan);
      const to = Math.max(600, -top + innerHeight + this.overscan);
      let i = 0;
      let y = 0;
      while (i < n) {
        const h = this.height(this.order[i]);
        if (y + h > from) break;
        y += h;
        i++;
      }
      const start = i;
      const padTop = y;
      while (i < n && y < to && i - start < this.maxRows) {
        y += this.height(this.order[i]);
        i++;
      }
      const end = i;
      let padBottom = 0;
      for (; i < n; i++) padBottom += this.height(this.order[i]);
      return { start, end, padTop, padBottom };
    }

    render(force, depth = 0) {
      const r = this.range();
      const y = scrollY; // read with the range, before the rows change the page's height
      if (!force && r.start === this.start && r.end === this.end) {
        const [first, last] = [this.tbody.firstElementChild, this.tbody.lastElementChild];
        if (first?.classList.contains('spacer')) first.firstElementChild.style.height = r.padTop.toFixed(0) + 'px';
        if (last?.classList.contains('spacer')) last.firstElementChild.style.height = r.padBottom.toFixed(0) + 'px';
        return;
      }
      this.start = r.start;
      this.end = r.end;
      if (!this.order.length) {
        this.tbody.innerHTML = `<tr class="empty-note"><td colspan="${this.columns}">${esc(this.emptyText)}</td></tr>`;
        return;
      }
      const parts = [this.spacer(r.padTop, 'top')];
      for (let k = r.start; k < r.end; k++) parts.push(this.rowHTML(this.order[k], k));
      parts.push(this.spacer(r.padBottom, 'bottom'));
      this.tbody.innerHTML = parts.join('');
      // A row still being fetched stands at the estimate, and is not measured: its
      // "loading" line is not the row's height, and would pull the estimate down (all
      // writes first, then the reads: one layout).
      const drawn = [];
      for (const tr of this.tbody.children) {
        if (!tr.classList.contains('row')) continue;
        if (tr.classList.contains('pending')) tr.style.height = this.estimate.toFixed(0) + 'px';
        else drawn.push(tr);
      }
      let changed = false;
      for (const tr of drawn) {
        const i = Number(tr.dataset.i);
        const h = tr.getBoundingClientRect().height;
        const old = this.heights.get(i);
        if (old === undefined) {
          this.measured++;
          this.measuredSum += h;
        } else {
          this.measuredSum += h - old;
        }
        if (old === undefined || Math.abs(old - h) > 0.5) changed = true;
        this.heights.set(i, h);
      }
      if (this.measured) this.estimate = this.measuredSum / this.measured;
      if (!changed) return;
      // The estimate moved every row above that is not measured (tens of thousands, far
      // down a large run): scroll by as much, so the rows drawn stay where they are on
      // screen, instead of the window landing on rows in between (and fetching them).
      let padTop = 0;
      for (let k = 0; k < r.start; k++) padTop += this.height(this.order[k]);
      const shift = padTop - r.padTop;
      if (Math.abs(shift) >= 1) {
        this.tbody.firstElementChild.firstElementChild.style.height = padTop.toFixed(0) + 'px';
        scrollTo(0, y + shift); // not scrollBy: a shorter page has clamped scrollY already
      }
      // Measured heights move the window: draw again if it now covers other rows.
      if (depth < 3) this.render(false, depth + 1);
    }
  }

  /* Segmented buttons: one pressed at a time. */
  function segmented(options, current) {
    return '<div class="seg" role="group">' + options.map(([key, label]) =>
      `<button type="button" data-mode="${esc(key)}" aria-pressed="${key === current}">${esc(label)}<span class="n"></span></button>`,
    ).join('') + '</div>';
  }

  const SEARCH_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><circle cx="11" cy="11" r="7"/><path d="M20 20l-3.5-3.5"/></svg>';

  function searchBox(placeholder) {
    return `<div class="search">${SEARCH_ICON}<input id="search" type="search" autocomplete="off" spellcheck="false" placeholder="${esc(placeholder)}" title="Search case ids, variables, expected values and outputs (press / to focus, Esc to clear)" aria-label="Search"></div>`;
  }

  /* Keep --toolbar-h equal to the sticky toolbar's height, so the table header sticks under it. */
  function trackToolbar(toolbar) {
    const set = () => document.documentElement.style.setProperty('--toolbar-h', toolbar.offsetHeight + 'px');
    set();
    new ResizeObserver(set).observe(toolbar);
  }

  /* '/' focuses the search box, Escape clears it. */
  function keys(input) {
    addEventListener('keydown', (ev) => {
      if (ev.key === '/' && document.activeElement !== input && !ev.ctrlKey && !ev.metaKey) {
        ev.preventDefault();
        input.focus();
        input.select();
      } else if (ev.key === 'Escape' && document.activeElement === input) {
        input.value = '';
        input.dispatchEvent(new Event('input'));
      }
    });
  }

  function data() {
    return JSON.parse(document.getElementById('pb-data').textContent);
  }

  /* Case id, variables and expected value: the first cell of a row. */
  function caseHeader(row, vars, extra = '') {
    let dl = '';
    (row.v || []).forEach((value, k) => {
      if (value != null) dl += `<dt>${esc(vars[k])}</dt><dd>${esc(value)}</dd>`;
    });
    if (row.x != null) dl += `<dt>expected</dt><dd>${esc(row.x)}</dd>`;
    const rep = row.r ? `<span class="rep">repeat ${row.r + 1}</span>` : '';
    // Images travel as data: URLs made by promptbench; anything else is named, not loaded.
    const pics = (row.im || []).map((im) => (typeof im.u === 'string' && im.u.startsWith('data:image/'))
      ? `<img class="thumb" src="${esc(im.u)}" alt="${esc(im.p)}" title="${esc(im.p)}">`
      : `<span class="imgref">${esc(im.p)}</span>`).join('');
    return `<div class="headline"><button type="button" class="exp" aria-label="Expand">▶</button>`
      + `<span class="cid">${esc(row.id)}</span>${rep}${extra}</div>${dl ? `<dl>${dl}</dl>` : ''}`
      + (pics ? `<div class="images">${pics}</div>` : '');
  }

  /* A conversation: each turn's user message, then the assistant's text, tool calls and
   * tool results, in order. Folded under a summary line; the output above is the last reply.
   * It is unfolded with its row (``open``), so that a redraw of the lazy rows (a scroll, a
   * resize) keeps what the reader opened. */
  const STEP = { a: 'assistant', c: 'calls', t: 'tool' };
  function turnsHTML(tr, open) {
    const tools = tr.reduce((n, t) => n + t[2].filter((s) => s[0] === 'c').length, 0);
    const head = `${tr.length} turn${tr.length === 1 ? '' : 's'}` + (tools ? ` · ${tools} tool call${tools === 1 ? '' : 's'}` : '');
    const body = tr.map(([n, user, steps]) => `<li class="turn"><div class="step u"><b>${n} user</b> ${esc(user)}</div>`
      + steps.map(([k, t]) => `<div class="step ${esc(k)}"><b>${STEP[k] || esc(k)}</b> ${esc(t)}</div>`).join('')
      + '</li>').join('');
    return `<details class="turns"${open ? ' open' : ''}><summary>${head}</summary><ol>${body}</ol></details>`;
  }

  /* One record: verdict, scores, output (or the call's error), reasons, cost and time.
   * outputHTML, when given, replaces the escaped output (the diff page's marked-up words). */
  function cellHTML(c, metrics, { q = '', metric = -1, outputHTML = null, open = false } = {}) {
    if (!c) return '<td class="cell empty">—</td>';
    let chips = '';
    let reasons = '';
    (c.s || []).forEach((s, k) => {
      if (!s) return;
      const [value, v, reason] = s;
      const shown = value == null ? (v === 'p' ? '✓' : v === 'f' ? '✗' : 'error') : value.toFixed(2);
      chips += `<span class="sc ${v}${k === metric ? ' sel' : ''}" title="${esc(reason || '')}">${esc(metrics[k])} ${shown}</span>`;
      if (v !== 'p' && reason) reasons += `<li><b>${esc(metrics[k])}</b>: ${esc(reason)}</li>`;
    });
    let body;
    if (c.x) {
      body = `<div class="callerr">${esc(c.x)}</div>`;
    } else if (c.o == null) {
      body = '<pre class="out"><span class="none">(no output)</span></pre>';
    } else {
      const long = c.o.length > 600 || (c.o.match(/\n/g) || []).length > 8;
      body = `<pre class="out${long ? ' clip' : ''}">${outputHTML ?? highlight(c.o, q)}</pre>`;
    }
    const meta = [];
    if (c.l != null) meta.push(fmt.ms(c.l) + ' ms');
    if (c.t) meta.push(fmt.int(c.t) + ' tok');
    if (c.c != null) meta.push(fmt.usd(c.c));
    if (c.k) meta.push('cached');
    if (c.r) meta.push(`${c.r} ${c.r === 1 ? 'retry' : 'retries'}`);
    return `<td class="cell v-${c.v}"><div class="cell-head">${badge(c.v)}${chips}</div>${body}`
      + (c.tr ? turnsHTML(c.tr, open) : '')
      + (reasons ? `<ul class="reasons">${reasons}</ul>` : '')
      + (meta.length ? `<div class="meta">${meta.join(' · ')}</div>` : '')
      + '</td>';
  }

  // What the run page and the diff page end alike with: rows that expand on a click on
  // their case (not on a text selection), the toolbar and keys wired, the first render,
  // and a handle for the tests and the benchmark.
  // After a filter: bring the table's top under the sticky toolbar ...
  function scrollToTable(table, toolbar) {
    const top = table.getBoundingClientRect().top;
    if (top < toolbar.offsetHeight) scrollTo(0, Math.max(0, scrollY + top - toolbar.offsetHeight));
  }

  // ... and note how long it took (read by the tests and the benchmark).
  function filtered(timings, start) {
    timings.filter = performance.now() - start;
    document.body.dataset.filtered = String((Number(document.body.dataset.filtered) || 0) + 1);
    return timings.filter;
  }

  function start({ tbody, lazy, state, apply, toolbar, search, data, timings }) {
    search.addEventListener('input', debounce(() => {
      state.q = search.value.trim().toLowerCase();
      apply();
    }, 150));
    tbody.addEventListener('click', (ev) => {
      // A conversation's summary opens its row: the row's state, not the element's, says
      // what is unfolded, and it outlives the redraws of the lazy rows.
      const fold = ev.target.closest('details.turns > summary');
      const th = ev.target.closest('th.case');
      if (fold) ev.preventDefault();
      else if (!th || (!ev.target.closest('.exp') && String(getSelection()))) return;
      const i = Number((fold || th).closest('tr.row').dataset.i);
      if (state.open.has(i)) state.open.delete(i);
      else state.open.add(i);
      lazy.forget(i);
      lazy.render(true);
    });
    trackToolbar(toolbar);
    keys(search);
    apply();
    timings.firstRender = performance.now();
    window.promptbench = {
      data, state, apply, timings, rendered: () => tbody.querySelectorAll('tr.row').length,
    };
    document.body.dataset.ready = '1';
  }

  /* Rows the viewer serves a page at a time (a run's or a comparison's): fetched by offset,
   * kept by position in view.byPos, drawn again (redraw) when a page arrives. A page asked
   * for under an older filter (view.gen moved on) is dropped. */
  function remoteRows(view, query, page, redraw) {
    async function ask(offset) {
      // Counted, for the tests: how many pages a scroll or a filter asked for.
      document.body.dataset.rowRequests = String((Number(document.body.dataset.rowRequests) || 0) + 1);
      const r = await fetch(query(offset), { cache: 'no-store' });
      if (!r.ok) throw new Error(`the viewer answered ${r.status}`);
      return r.json();
    }
    function keep(answer) {
      answer.rows.forEach((row, k) => view.byPos.set(answer.offset + k, row));
    }
    function fetchPage(offset) {
      if (view.pending.has(offset)) return;
      view.pending.add(offset);
      const gen = view.gen;
      ask(offset).then((answer) => {
        if (gen !== view.gen) return;
        keep(answer);
        redraw();
      }).catch(() => { if (gen === view.gen) view.pending.delete(offset); });
    }
    /* The pages one draw wanted are asked for together, after it (a microtask). While
     * the reader keeps scrolling (another draw wanted pages less than QUIET ms ago) they
     * wait until the scrolling stops, and only the last draw's are asked for: a drag of
     * the scrollbar across a large run does not fetch every page it passes. */
    const QUIET = 100;
    let batch = null;
    let waiting = [];
    let timer = 0;
    let lastWant = -Infinity;
    function flush() {
      const offsets = [...batch];
      batch = null;
      const now = performance.now();
      const busy = now - lastWant < QUIET;
      lastWant = now;
      clearTimeout(timer);
      if (!busy) {
        waiting = [];
        offsets.forEach(fetchPage);
        return;
      }
      waiting = offsets;
      timer = setTimeout(() => {
        const last = waiting;
        waiting = [];
        last.forEach(fetchPage);
      }, QUIET);
    }
    /* A row scrolled into view that is not here yet: fetch its page, then draw again. */
    function want(pos) {
      const offset = Math.floor(pos / page) * page;
      if (view.pending.has(offset)) return;
      if (!batch) {
        batch = new Set();
        queueMicrotask(flush);
      }
      batch.add(offset);
    }
    /* New filters: forget the pages of the old ones; the generation answers are checked by. */
    function restart() {
      view.gen++;
      view.byPos = new Map();
      view.pending = new Set();
      waiting = [];
      clearTimeout(timer);
      return view.gen;
    }
    /* The answer to a restart's first request: its rows kept, its page not asked for again. */
    function first(answer) {
      keep(answer);
      view.pending.add(0);
    }
    return { ask, keep, want, restart, first };
  }

  /* The mode buttons (the current one pressed) with their counts, and "N of M <noun>". */
  function showCounts(toolbar, count, mode, counts, shown, total, noun) {
    for (const b of toolbar.querySelectorAll('.seg button')) {
      b.setAttribute('aria-pressed', String(b.dataset.mode === mode));
      b.querySelector('.n').textContent = fmt.int(counts[b.dataset.mode]);
    }
    count.textContent = `${fmt.int(shown)} of ${fmt.int(total)} ${noun}`;
    count.dataset.shown = String(shown);
    count.dataset.total = String(total);
  }

  return {
    esc, fmt, badge, debounce, highlight, barChart, chartCard, LazyRows, segmented, searchBox,
    trackToolbar, keys, data, caseHeader, cellHTML, start, scrollToTable, filtered, remoteRows,
    showCounts,
    color: (i) => PALETTE[i % PALETTE.length],
  };
})();
