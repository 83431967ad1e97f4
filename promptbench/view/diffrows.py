"""A comparison's rows served in pages, as :mod:`.rows` serves a run's.

The diff page (``diff --html``'s) carries its statistics and first rows; the others
come from ``/api/compare/rows`` with the same ``run``/``variant`` parameters as the
page, filtered here as ``diff.js`` filters them in a file opened from disk.

The statistics are ``promptbench diff``'s, from the same call
(:func:`promptbench.diff.compare_sources`). Then one pass over each run's lines finds
every case's representative record and keeps what the filters and counts read of it
(its verdict, its output, where its line is); a row itself is made from its two lines
when it is sent, as :func:`~promptbench.report.html.diff_data.diff_payload` makes it
(tests/view/test_diffrows.py holds the two to the same rows), its word diff with it.
Built once per comparison and version of the runs' files, kept for the last few; the
rows' search text (and each score's verdict, which only a filter by a metric reads) is
made from the lines in the background once the page has gone out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from promptbench.bulk import decode_fast, gc_paused, loads
from promptbench.config import StrictModel
from promptbench.diff import DiffOptions, DiffResult, Source, compare_sources
from promptbench.errors import RunStoreError, UsageError
from promptbench.report.html.cells import cell, text
from promptbench.report.html.diff_data import case_order, pair_json, with_word_diff
from promptbench.runner.store import RECORDS_FILE
from promptbench.types import Record
from promptbench.view.rows import FIRST_ROWS, MAX_LIMIT, SEARCH_WARM_S

Group = tuple[str, str]
DiffMode = Literal["all", "flip", "reg", "imp", "fail", "changed"]
COMPARISONS_KEPT = 3


class DiffRowsQuery(StrictModel):
    """``/api/compare/rows``: the comparison (as the page's URL names it) and which rows."""

    run: list[str] = Field(min_length=1, max_length=2)
    variant: list[str] = Field(default_factory=list, max_length=2)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=FIRST_ROWS, ge=1, le=MAX_LIMIT)
    mode: DiffMode = "all"
    q: str = Field(default="", max_length=500)
    metric: int = Field(default=-1, ge=-1)
    pair: int = Field(default=-1, ge=-1)


def _verdict(c: dict[str, Any] | None, m: int) -> str | None:
    if c is None:
        return None
    if m < 0:
        return str(c["v"])
    s = c.get("s")
    score = s[m] if s is not None and m < len(s) else None
    return None if score is None else str(score[1])


def _flip(row: dict[str, Any], m: int) -> str:
    if m < 0:
        return str(row.get("f") or "")
    va, vb = _verdict(row["a"], m), _verdict(row["b"], m)
    return "r" if (va, vb) == ("p", "f") else "i" if (va, vb) == ("f", "p") else ""


# Not frozen: a frozen dataclass sets each field through object.__setattr__, five times
# the cost of a plain one, and a big comparison makes 200,000 of these and 100,000 rows.
@dataclass(slots=True)
class _Rep:
    """A case's representative record on one side: where its line is, and what filters read.

    As in :func:`promptbench.report.html.diff_data.diff_payload`, the lowest repeat whose
    call did not fail (else one that did). The rest of the record (its variables, the
    scores' values and reasons, latency, cost) is read from its line when the row is sent.
    """

    failed: bool
    repeat: int
    offset: int  # of its line in records.jsonl
    verdict: str  # p, f, e, n: as cells.cell writes it
    # The metrics it scored, in the record's order; their verdicts are read from the line
    # with the search text (DiffRows._codes), for the first filter by a metric.
    scores: tuple[str, ...]
    var_names: tuple[str, ...]
    output: str | None


def _score_code(s: dict[str, Any]) -> str:
    if s.get("error") is not None or s.get("passed") is None:
        return "e"
    return "p" if s["passed"] else "f"


class _Scanner:
    """Each case's representative record in one run's lines, noted as they go by."""

    def __init__(self) -> None:
        self.reps: dict[Group, dict[str, _Rep]] = {}
        self._seen: dict[tuple[Any, ...], Any] = {}  # a run has few score and variable sets

    def lines(self, run_dir: Path) -> Iterator[dict[str, Any]]:
        """The lines as :func:`~promptbench.runner.store.iter_record_dicts` yields them."""
        path = run_dir / RECORDS_FILE
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None
        offset = 0
        with fh:
            for line in fh:
                at, offset = offset, offset + len(line)
                if not line.endswith(b"\n"):
                    return  # the last write of a killed run
                try:
                    # loads(line, exact_big_ints=False) (the row is read again, exactly, to
                    # be sent), orjson called here: what it refuses goes through loads.
                    data = decode_fast(line)
                except ValueError:
                    try:
                        data = loads(line, exact_big_ints=False)
                    except ValueError as exc:
                        raise RunStoreError(f"{path}: corrupt record: {exc}") from None
                if type(data) is not dict:
                    raise RunStoreError(f"{path}: corrupt record: not a JSON object")
                self._note(data, at)
                yield data

    def _note(self, data: dict[str, Any], at: int) -> None:
        # Run once per line of both runs: written out, no call per score.
        group = (data["variant"], data["model"])
        cases = self.reps.get(group)
        if cases is None:
            cases = self.reps[group] = {}
        case_id, repeat, failed = data["case_id"], data["repeat"], bool(data.get("error"))
        kept = cases.get(case_id)
        if kept is not None and (kept.failed, kept.repeat) <= (failed, repeat):
            return
        scores = data.get("scores") or {}
        passed = data.get("passed")
        if failed:
            verdict = "e"
        elif passed is None:
            verdict = "e" if scores else "n"
        else:
            verdict = "p" if passed else "f"
        seen = self._seen
        keys = tuple(data.get("vars") or ())
        codes = tuple(scores)
        cases[case_id] = _Rep(
            failed,
            repeat,
            at,
            verdict,
            seen.setdefault(codes, codes),
            seen.setdefault(keys, keys),
            data.get("output"),
        )


def _scan(run_dir: Path) -> dict[Group, dict[str, _Rep]]:
    """Per group, per case: its representative record, from one pass over the lines."""
    scanner = _Scanner()
    try:
        for _ in scanner.lines(run_dir):
            pass
    except (KeyError, TypeError, AttributeError) as exc:
        raise RunStoreError(f"{run_dir / RECORDS_FILE}: corrupt record: {exc!r}") from None
    return scanner.reps


@dataclass
class _ScannedRun(Source):
    """A run as a side whose lines, as the comparison folds them, are noted for the rows."""

    scanner: _Scanner = field(default_factory=_Scanner)

    def scored_lines(self) -> Iterator[Mapping[str, Any]]:
        """The lines, each one noted on its way to the fold: one pass for both."""
        return self.scanner.lines(self.path)


def _scanned(source: Source) -> Source:
    if source.baseline_records is not None:
        return source
    return _ScannedRun(source.info, source.metric_names, source.regression_rules, source.path, None)


def _reps(source: Source) -> dict[Group, dict[str, _Rep]]:
    if source.baseline_records is not None:
        raise UsageError("the viewer compares stored runs, not baseline files")
    if isinstance(source, _ScannedRun):
        return source.scanner.reps
    return _scan(source.path)


@dataclass(slots=True)
class _Row:
    pair: int
    case_id: str
    a: _Rep | None
    b: _Rep | None
    flip: str  # r, i or ""
    flaky: bool
    width: int  # the variables the page knew of when it reached this row
    changed: bool  # both outputs there, and different


_Codes = dict[int, tuple[str, ...]]  # a side's lines (by offset): each score's verdict


def _code(rep: _Rep | None, codes: _Codes, metric: str) -> str | None:
    if rep is None:
        return None
    for name, code in zip(rep.scores, codes[rep.offset], strict=True):
        if name == metric:
            return code
    return None


@dataclass
class DiffRows:
    """One comparison: its statistics (``diff``'s own), and its rows, built when sent.

    What the filters and counts read of each row is held (verdicts, flips, whether the
    outputs differ); a row itself (both cells, the variables, the word diff) is made from
    its two records' lines when a page asks for it, the way ``diff_payload`` makes it.
    """

    head: dict[str, Any]
    rows: list[_Row]
    files: tuple[Path, Path]  # A's and B's records.jsonl (the same file for one run)
    metrics: dict[str, int]
    var_names: dict[str, int]
    _haystacks: list[str] | None = None
    _codes: tuple[_Codes, _Codes] | None = None
    _matches: OrderedDict[tuple[object, ...], tuple[list[int], dict[str, int]]] = field(
        default_factory=OrderedDict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _making: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def compare(cls, a: Source, b: Source | None, options: DiffOptions) -> DiffRows:
        """``diff``'s comparison of two runs (or two groups of one), and its rows.

        Each run's lines are read once: the comparison folds them, and each case's
        representative line is noted on the way (runs only; a baseline side is read apart).
        """
        sa, sb = _scanned(a), _scanned(b) if b is not None else None
        # One pause for all of it: between its steps the collector would otherwise walk
        # the million objects of both folds, held until the rows are made (a second).
        with gc_paused():
            return cls.of(compare_sources(sa, sb, options), sa, sb)

    @classmethod
    def of(cls, result: DiffResult, a: Source, b: Source | None) -> DiffRows:
        """The rows of ``result``, a comparison of ``a`` and ``b`` (None: groups of ``a``)."""
        with gc_paused():
            side_a = _reps(a)
            side_b = side_a if b is None else _reps(b)
            known = list(dict.fromkeys([*a.metric_names, *(b.metric_names if b else [])]))
            metrics = {name: i for i, name in enumerate(known)}
            var_names: dict[str, int] = {}
            names_seen: set[tuple[str, ...]] = set()
            scores_seen: set[tuple[str, ...]] = set()
            rows: list[_Row] = []
            for index, pr in enumerate(result.pairs):
                p = pr.pair
                cases_a = side_a[(p.variant_a, p.model_a)]
                cases_b = side_b[(p.variant_b, p.model_b)]
                flips = {f.case_id: f.direction[0] for f in pr.flips}
                flaky = {c.case_id for c in pr.flaky}
                for case_id in case_order(cases_a, cases_b):
                    ra, rb = cases_a.get(case_id), cases_b.get(case_id)
                    first = ra or rb
                    assert first is not None
                    # A run has few sets of variables and of scores (the scanner shares
                    # each one): each set is looked at once, not once per row.
                    if first.var_names not in names_seen:
                        names_seen.add(first.var_names)
                        for name in first.var_names:
                            var_names.setdefault(name, len(var_names))
                    for rep in (ra, rb):
                        if rep is not None and rep.scores not in scores_seen:
                            scores_seen.add(rep.scores)
                            for name in rep.scores:
                                metrics.setdefault(name, len(metrics))
                    out_a, out_b = ra.output if ra else None, rb.output if rb else None
                    changed = out_a is not None and out_b is not None and out_a != out_b
                    rows.append(
                        _Row(
                            index,
                            case_id,
                            ra,
                            rb,
                            flips.get(case_id, ""),
                            case_id in flaky,
                            len(var_names),
                            changed,
                        )
                    )
            head = result.to_json(pairs=False)
            head["pairs"] = [pair_json(pr) for pr in result.pairs]
        data = {
            "kind": "diff",
            "title": f"diff · {result.a.label} → {result.b.label}",
            "diff": head,
            "metrics": list(metrics),
            "vars": list(var_names),
        }
        files = (a.path / RECORDS_FILE, (b or a).path / RECORDS_FILE)
        return cls(data, rows, files, metrics, var_names)

    def page_data(self, api: str) -> dict[str, Any]:
        """Everything but the rows, and the first of them under ``remote``.

        ``api`` is where the page asks for more, the comparison's parameters included.
        """
        first = self.answer(0, FIRST_ROWS, "all", "", -1, -1)
        return {**self.head, "rows": [], "remote": {**first, "api": api}}

    def answer(
        self, offset: int, limit: int, mode: str, q: str, metric: int, pair: int
    ) -> dict[str, Any]:
        """The rows asked for, with their word diffs, and the counts the toolbar shows."""
        if metric >= len(self.head["metrics"]):
            raise ValueError(f"metric: no metric {metric}; there are {len(self.head['metrics'])}")
        if pair >= len(self.head["diff"]["pairs"]):
            raise ValueError(f"pair: no pair {pair}; there are {len(self.head['diff']['pairs'])}")
        chosen, counts = self._select(mode, q.lower(), metric, pair)
        page = chosen[offset:][:limit]
        return {
            "total": len(self.rows),
            "shown": len(chosen),
            "counts": counts,
            "offset": offset,
            "rows": [
                {**with_word_diff(row), "i": i}
                for i, row in zip(page, self.built(page), strict=True)
            ],
        }

    def built(self, indices: list[int]) -> list[dict[str, Any]]:
        """The rows at ``indices`` as ``diff_payload(..., word_diffs=False)`` makes them."""
        lines: dict[tuple[int, int], Record] = {}
        with self.files[0].open("rb") as fa, self.files[1].open("rb") as fb:
            handles = (fa, fb)
            for i in indices:
                row = self.rows[i]
                for side, rep in enumerate((row.a, row.b)):
                    if rep is not None and (side, rep.offset) not in lines:
                        handles[side].seek(rep.offset)
                        data = loads(handles[side].readline())
                        lines[side, rep.offset] = Record.from_json(data)
        out = []
        for i in indices:
            row = self.rows[i]
            ra = lines[0, row.a.offset] if row.a else None
            rb = lines[1, row.b.offset] if row.b else None
            first = ra or rb
            assert first is not None
            values: list[str | None] = [None] * row.width
            for name, value in first.vars.items():
                values[self.var_names[name]] = text(value)
            built: dict[str, Any] = {
                "p": row.pair,
                "id": row.case_id,
                "v": values,
                "x": text(first.expected),
                "a": cell(ra, self.metrics) if ra else None,
                "b": cell(rb, self.metrics) if rb else None,
            }
            if row.flip:
                built["f"] = row.flip
            if row.flaky:
                built["k"] = 1
            if row.changed:
                built["dc"] = 1
            out.append(built)
        return out

    def _select(self, mode: str, q: str, m: int, pair: int) -> tuple[list[int], dict[str, int]]:
        key = (mode, q, m, pair)
        with self._lock:
            hit = self._matches.get(key)
            if hit is not None:
                return hit
        hay = self.search_text() if q else None
        metric = self.head["metrics"][m] if m >= 0 else None
        codes = self._made()[1] if metric is not None else ({}, {})
        # Once per row of the comparison for the page's first answer (its counts): the
        # counts in locals and the mode's test written out, no dict made per row.
        n_all = n_flip = n_reg = n_imp = n_fail = n_changed = 0
        kept: list[int] = []
        for i, row in enumerate(self.rows):
            if pair >= 0 and row.pair != pair:
                continue
            if metric is None:
                va = row.a.verdict if row.a is not None else None
                vb = row.b.verdict if row.b is not None else None
                f = row.flip
            else:
                va, vb = _code(row.a, codes[0], metric), _code(row.b, codes[1], metric)
                if va is None and vb is None:
                    continue
                f = "r" if (va, vb) == ("p", "f") else "i" if (va, vb) == ("f", "p") else ""
            if hay is not None and q not in hay[i]:
                continue
            fail = va == "f" or vb == "f"
            n_all += 1
            if f:
                n_flip += 1
                if f == "r":
                    n_reg += 1
                else:
                    n_imp += 1
            n_fail += fail
            n_changed += row.changed
            if (
                mode == "all"
                or (mode == "flip" and f)
                or (mode == "reg" and f == "r")
                or (mode == "imp" and f == "i")
                or (mode == "fail" and fail)
                or (mode == "changed" and row.changed)
            ):
                kept.append(i)
        counts = {
            "all": n_all,
            "flip": n_flip,
            "reg": n_reg,
            "imp": n_imp,
            "fail": n_fail,
            "changed": n_changed,
        }
        with self._lock:
            self._matches[key] = (kept, counts)
            while len(self._matches) > 16:
                self._matches.popitem(last=False)
        return kept, counts

    def search_text(self) -> list[str]:
        """Each row's searched text, lowercased: made once (seconds for 100,000 rows), kept."""
        return self._made()[0]

    def _made(self) -> tuple[list[str], tuple[_Codes, _Codes]]:
        """The search text, and each line's verdict per score: made together, once."""
        hay, codes = self._haystacks, self._codes
        if hay is not None and codes is not None:
            return hay, codes
        # Its own lock: a page of rows (self._lock) is not held up while this is made.
        with self._making:
            if self._haystacks is None or self._codes is None:
                # Paused: the collector walked every object of the cached comparisons
                # again and again while 200,000 lines were decoded (half the time).
                with gc_paused():
                    self._haystacks, self._codes = self._haystacks_of_lines()
            return self._haystacks, self._codes

    def _haystacks_of_lines(self) -> tuple[list[str], tuple[_Codes, _Codes]]:
        """Each row's searched text (what the page searches in a row), from one pass a file.

        Made in the background once the page has gone out (:class:`DiffRowsCache`), or by
        a search that comes first: the id, the variables and expected value, both outputs
        and call errors, as the cells write them, read from the lines themselves rather
        than from whole records (a tenth of the time). With it, each line's verdict per
        score, which only a filter by a metric reads: not noted while the comparison
        folds the lines, where it was a tenth of the page's time.
        """
        wanted: tuple[set[int], set[int]] = (set(), set())
        for row in self.rows:
            for side, rep in enumerate((row.a, row.b)):
                if rep is not None:
                    wanted[side].add(rep.offset)
        texts = [_texts(path, offsets) for path, offsets in zip(self.files, wanted, strict=True)]
        names = list(self.var_names)
        out = []
        for row in self.rows:
            ta = texts[0][row.a.offset] if row.a else None
            tb = texts[1][row.b.offset] if row.b else None
            first = ta or tb
            assert first is not None
            variables, expected = first[0], first[1]
            parts = [row.case_id, *(variables.get(names[j]) or "" for j in range(row.width))]
            parts += [
                expected or "",
                *(f"{t[2] or ''}\n{t[3] or ''}" if t else "" for t in (ta, tb)),
            ]
            out.append("\n".join(parts).lower())
        codes = ({at: t[4] for at, t in texts[0].items()}, {at: t[4] for at, t in texts[1].items()})
        return out, codes


# Variables and expected value as text, output, call error, and each score's verdict.
_Texts = tuple[dict[str, str | None], str | None, str | None, str | None, tuple[str, ...]]


def _texts(path: Path, offsets: set[int]) -> dict[int, _Texts]:
    """For the lines at ``offsets``: what is searched, and each score's verdict.

    Variables and expected value as text, output, call error; the verdicts as
    ``cells.cell`` writes them, in the record's order.
    """
    out: dict[int, _Texts] = {}
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    offset = 0
    with path.open("rb") as fh:
        for line in fh:
            at, offset = offset, offset + len(line)
            if at not in offsets:
                continue
            data = loads(line)
            err = data.get("error")
            error = None
            if err:
                status = f" (HTTP {err['status']})" if err.get("status") else ""
                error = f"{err['kind']}{status}: {err['message']}"
            variables = {name: text(v) for name, v in (data.get("vars") or {}).items()}
            codes = tuple([_score_code(sc) for sc in (data.get("scores") or {}).values()])
            codes = seen.setdefault(codes, codes)  # few distinct ones: each held once
            out[at] = (variables, text(data.get("expected")), data.get("output"), error, codes)
    return out


class DiffRowsCache:
    """The last few comparisons looked at, keyed by what they compare and file versions."""

    def __init__(self, kept: int = COMPARISONS_KEPT) -> None:
        self._kept = kept
        self._items: OrderedDict[object, DiffRows] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()

    def rows(self, key: object, build: Callable[[], DiffRows]) -> DiffRows:
        """The comparison ``key`` names, built by ``build`` when not kept."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        with self._building:  # one comparison built at a time: each holds two runs
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    return hit
            built = build()
            with self._lock:
                self._items[key] = built
                while len(self._items) > self._kept:
                    self._items.popitem(last=False)
            # The search text is made once the page has gone out, as the run page's is
            # (rows.RowsCache): the first search then does not wait seconds for it.
            warm = threading.Timer(SEARCH_WARM_S, built.search_text)
            warm.daemon = True
            warm.start()
            return built
