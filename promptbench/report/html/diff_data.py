"""A comparison as the diff page's data: the statistics, and each paired case side by side.

The statistics are :meth:`DiffResult.to_json`'s, less the long per-case lists the rows
replace. A row is one case of one pair: A's output and B's, the word diff between
them, and whether the case flipped. As in :mod:`promptbench.diff.pairing`, a case
shows its lowest repeat whose call did not fail.

The word diff is :func:`promptbench.report.worddiff.word_diff`'s (the terminal's and
the Markdown report's), sent as lengths rather than text: ``[op, n, op, n, ...]`` where
op 0 keeps ``n`` characters of both outputs, 1 deletes ``n`` of A's and 2 inserts ``n``
of B's; ``n`` counts UTF-16 code units, as JavaScript strings do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from promptbench.diff import DiffResult, PairResult
from promptbench.diff.pairing import natural_key
from promptbench.report.html.cells import cell, text
from promptbench.report.html.page import gc_paused
from promptbench.report.worddiff import word_diff
from promptbench.types import Record

if TYPE_CHECKING:
    from promptbench.diff import Source

Group = tuple[str, str]
_OPS = {"equal": 0, "delete": 1, "insert": 2}


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def diff_ops(a: str, b: str) -> list[int]:
    """The word diff of ``a`` into ``b`` as ``[op, length, ...]`` (see the module)."""
    ops: list[int] = []
    for op, chunk in word_diff(a, b):
        ops += (_OPS[op], _utf16(chunk))
    return ops


def case_order(cases_a: Mapping[str, object], cases_b: Mapping[str, object]) -> list[str]:
    """A pair's case ids, A's and then B's others, in natural order (``q2`` before ``q10``).

    The ids go to the sort in the order the runs wrote them, which is mostly sorted
    already: the sort then finds long runs and compares each id about once, where a
    set's order (by hash) made it compare each some sixteen times (half a second for
    100,000 cases). Ids whose keys tie keep that order, the same in every process.
    """
    ids = list(cases_a)
    ids += [c for c in cases_b if c not in cases_a]
    ids.sort(key=natural_key)
    return ids


def _representatives(
    records: Iterable[Record], groups: set[Group]
) -> dict[Group, dict[str, Record]]:
    """Per group, per case: the lowest repeat without a call error (else with one)."""
    out: dict[Group, dict[str, Record]] = {g: {} for g in groups}
    for r in records:
        cases = out.get((r.variant, r.model))
        if cases is None:
            continue
        kept = cases.get(r.case_id)
        if kept is None or (kept.error is not None, kept.repeat) > (r.error is not None, r.repeat):
            cases[r.case_id] = replace(r, messages=())
    return out


def _pair_json(pr: PairResult) -> dict[str, Any]:
    """The pair's statistics, without the per-case lists (the rows carry those)."""
    data = pr.to_json()
    for side in ("a", "b"):
        ids = data.pop(f"only_{side}")
        data[f"only_{side}"] = {"count": len(ids), "first": ids[:5]}
        repeats = data.get(f"repeats_{side}")
        if repeats:
            repeats.pop("case_pass_rates", None)
            repeats["flaky"] = len(repeats.get("flaky") or ())
    data.pop("flips")
    data.pop("flaky")
    data["regressions"] = len(pr.regressions)
    data["improvements"] = len(pr.improvements)
    data["flaky"] = len(pr.flaky)
    for m in data["metrics"]:
        m["n_no_data"] = len(m.pop("no_data", ()) or ())
        m.pop("unpaired_a", None)
        m.pop("unpaired_b", None)
    return data


pair_json = _pair_json  # the viewer's diff rows (promptbench.view.diffrows) make the same head


def diff_payload(
    result: DiffResult, a: Source, b: Source | None = None, *, word_diffs: bool = True
) -> dict[str, Any]:
    """Everything the diff page shows; ``b`` is None when A and B are groups of one run.

    ``word_diffs=False`` marks a row whose outputs differ with ``"dc": 1`` instead of
    its word diff: the viewer computes the diffs of the rows it sends (:func:`with_word_diff`),
    not of every case.
    """
    with gc_paused():
        return _diff_payload(result, a, b, word_diffs)


def _diff_payload(
    result: DiffResult, a: Source, b: Source | None, word_diffs: bool
) -> dict[str, Any]:
    wanted_a = {(p.pair.variant_a, p.pair.model_a) for p in result.pairs}
    wanted_b = {(p.pair.variant_b, p.pair.model_b) for p in result.pairs}
    if b is None:
        side_a = side_b = _representatives(a.records(), wanted_a | wanted_b)
    else:
        side_a = _representatives(a.records(), wanted_a)
        side_b = _representatives(b.records(), wanted_b)
    known = list(dict.fromkeys([*a.metric_names, *(b.metric_names if b else [])]))
    metrics = {name: i for i, name in enumerate(known)}
    var_names: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for index, pr in enumerate(result.pairs):
        p = pr.pair
        cases_a, cases_b = side_a[(p.variant_a, p.model_a)], side_b[(p.variant_b, p.model_b)]
        flips = {f.case_id: f.direction[0] for f in pr.flips}  # r: pass→fail, i: fail→pass
        flaky = {c.case_id for c in pr.flaky}
        for case_id in case_order(cases_a, cases_b):
            ra, rb = cases_a.get(case_id), cases_b.get(case_id)
            first = ra or rb
            assert first is not None
            for name in first.vars:
                var_names.setdefault(name, len(var_names))
            values: list[str | None] = [None] * len(var_names)
            for name, value in first.vars.items():
                values[var_names[name]] = text(value)
            row: dict[str, Any] = {
                "p": index,
                "id": case_id,
                "v": values,
                "x": text(first.expected),
                "a": cell(ra, metrics) if ra else None,
                "b": cell(rb, metrics) if rb else None,
            }
            if case_id in flips:
                row["f"] = flips[case_id]
            if case_id in flaky:
                row["k"] = 1
            out_a, out_b = ra.output if ra else None, rb.output if rb else None
            if out_a is not None and out_b is not None and out_a != out_b:
                if word_diffs:
                    row["d"] = diff_ops(out_a, out_b)
                else:
                    row["dc"] = 1
            rows.append(row)
    head = result.to_json()
    head["pairs"] = [_pair_json(pr) for pr in result.pairs]
    return {
        "kind": "diff",
        "title": f"diff · {result.a.label} → {result.b.label}",
        "diff": head,
        "metrics": list(metrics),
        "vars": list(var_names),
        "rows": rows,
    }


def with_word_diff(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``diff_payload(..., word_diffs=False)`` with its word diff, as the page wants."""
    if not row.get("dc"):
        return row
    out = {k: v for k, v in row.items() if k != "dc"}
    out["d"] = diff_ops(row["a"]["o"], row["b"]["o"])
    return out
