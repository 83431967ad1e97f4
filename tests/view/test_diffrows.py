"""The viewer's diff rows, built when sent, are the rows ``diff_payload`` builds for the page.

The viewer keeps what filters read of each row and makes a row from its two records'
lines when a page asks for it; ``diff --html`` builds every row at once
(promptbench.report.html.diff_data). The same comparison, both ways: the same head, the
same rows in the same order, and the same answers to the toolbar's filters.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from promptbench.diff import DiffOptions, Source, compare_sources
from promptbench.report.html import diff_payload
from promptbench.report.html.diff_data import with_word_diff
from promptbench.runs import resolve_run
from promptbench.view import diffrows
from promptbench.view.diffrows import DiffRows, DiffRowsCache
from tests.helpers.synthetic_runs import write_synthetic_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("runs")
    write_synthetic_run(base, "a", 80, seed=5, repeats=2)
    write_synthetic_run(base, "b", 80, seed=6, repeats=2, p_pass=0.6)
    write_synthetic_run(base, "c", 120, seed=7)
    return base


def sides(runs: Path, *ids: str) -> list[Source]:
    return [Source.of_run(resolve_run(i, runs), i) for i in ids]


@pytest.mark.parametrize(
    ("ids", "options"),
    [
        (("a", "b"), DiffOptions()),
        (("c", "b"), DiffOptions()),
        (("a",), DiffOptions(variants=("terse", "guided"))),
        (("c",), DiffOptions(models=("mini", "tiny"))),
    ],
)
def test_rows_built_when_sent_are_the_pages_rows(
    runs: Path, ids: tuple[str, ...], options: DiffOptions
) -> None:
    a, *rest = sides(runs, *ids)
    b = rest[0] if rest else None
    result = compare_sources(a, b, options)
    payload = diff_payload(result, a, b, word_diffs=False)
    rows = DiffRows.of(result, a, b)
    want = payload.pop("rows")
    assert rows.head == payload
    assert rows.built(list(range(len(rows.rows)))) == want
    # The viewer's own call: the lines noted while the comparison folds them, one pass.
    teed = DiffRows.compare(a, b, options)
    assert teed.head == payload and teed.built(list(range(len(teed.rows)))) == want
    answer = rows.answer(0, 10_000, "all", "", -1, -1)
    assert answer["rows"] == [{**with_word_diff(r), "i": i} for i, r in enumerate(want)]
    # The toolbar's filters, against the same filters over the full rows (as the viewer
    # filtered them when it held every row, and as diff.js filters a file from disk).
    for mode in ("all", "flip", "reg", "imp", "fail", "changed"):
        for metric in range(-1, len(payload["metrics"])):
            for pair in (-1, 0):
                got = rows.answer(0, 10_000, mode, "", metric, pair)
                kept, counts = reference_filter(want, mode, metric, pair, "")
                assert [r["i"] for r in got["rows"]] == kept
                assert got["counts"] == counts
    for q in ("about 1", "q7", "timeout"):
        got = rows.answer(0, 10_000, "all", q, -1, -1)
        kept, counts = reference_filter(want, "all", -1, -1, q)
        assert [r["i"] for r in got["rows"]] == kept and got["counts"] == counts


def verdict(c: dict[str, Any] | None, m: int) -> str | None:
    if c is None:
        return None
    if m < 0:
        return str(c["v"])
    s = c.get("s")
    score = s[m] if s is not None and m < len(s) else None
    return None if score is None else str(score[1])


def reference_filter(
    rows: list[dict[str, Any]], mode: str, m: int, pair: int, q: str
) -> tuple[list[int], dict[str, int]]:
    counts = dict.fromkeys(("all", "flip", "reg", "imp", "fail", "changed"), 0)
    kept = []
    for i, row in enumerate(rows):
        if pair >= 0 and row["p"] != pair:
            continue
        va, vb = verdict(row["a"], m), verdict(row["b"], m)
        if m >= 0 and va is None and vb is None:
            continue
        sides = [
            f"{c.get('o') or ''}\n{c.get('x') or ''}" if c else "" for c in (row["a"], row["b"])
        ]
        hay = "\n".join([row["id"], *(v or "" for v in row["v"]), row["x"] or "", *sides])
        if q and q not in hay.lower():
            continue
        if m < 0:
            f = row.get("f") or ""
        else:
            f = "r" if (va, vb) == ("p", "f") else "i" if (va, vb) == ("f", "p") else ""
        fail = va == "f" or vb == "f"
        changed = bool(row.get("dc"))
        flags = {"all": True, "flip": bool(f), "reg": f == "r", "imp": f == "i"}
        flags |= {"fail": fail, "changed": changed}
        for name, on in flags.items():
            counts[name] += on
        if flags[mode]:
            kept.append(i)
    return kept, counts


def test_search_text_is_made_after_the_page_has_gone_out(
    runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache hands the rows out at once and makes their search text in the background.

    The first search then finds it made (on the big diff it took seconds), and finds
    the rows that a search making it on demand finds.
    """
    monkeypatch.setattr(diffrows, "SEARCH_WARM_S", 0.2)
    made_in: list[str] = []
    make = DiffRows._haystacks_of_lines

    def spy(self: DiffRows) -> Any:
        made_in.append(threading.current_thread().name)
        return make(self)

    monkeypatch.setattr(DiffRows, "_haystacks_of_lines", spy)
    a, b = sides(runs, "a", "b")
    rows = DiffRowsCache().rows("a-b", lambda: DiffRows.compare(a, b, DiffOptions()))
    assert made_in == [], "the search text was made before the rows were handed out"
    deadline = time.monotonic() + 30
    while rows._haystacks is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rows._haystacks is not None, "the search text was not made in the background"
    assert len(made_in) == 1 and made_in[0] != threading.current_thread().name
    on_demand = DiffRows.compare(a, b, DiffOptions())
    for q in ("about 1", "q7", "timeout"):
        assert rows.answer(0, 10_000, "all", q, -1, -1) == on_demand.answer(
            0, 10_000, "all", q, -1, -1
        )
    assert len(made_in) == 2  # once in the background, once on demand for on_demand: no more
