"""The HTML report: one self-contained file per run or diff, for people to look at.

:func:`run_report` and :func:`diff_report` return the page's text; :func:`write_report`
writes it and returns its size. The data is turned into JSON here in Python
(:mod:`.run_data`, :mod:`.diff_data`); the page draws itself from that JSON with its
own small script (``assets/``): the summary with bar charts, and a table of every case
with the outputs side by side, filtered and searched in the browser. Rows are drawn as
they scroll into view, so a run of 10,000 records opens at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptbench.report.html.diff_data import diff_payload
from promptbench.report.html.page import human_size, render_page, write_page
from promptbench.report.html.run_data import run_payload, run_ranking

if TYPE_CHECKING:
    from promptbench.diff import DiffResult, Source
    from promptbench.runs import StoredRun

__all__ = [
    "diff_payload",
    "diff_report",
    "human_size",
    "run_payload",
    "run_ranking",
    "run_report",
    "served_diff_report",
    "served_run_report",
    "write_report",
]


def run_report(run: StoredRun) -> str:
    """The report page of a stored run."""
    data = run_payload(run)
    return render_page("run", str(data["title"]), data)


def served_run_report(data: dict[str, Any]) -> str:
    """The viewer's run page, which fetches its rows from the viewer.

    ``data`` is :func:`run_payload`'s with its rows left out and the first of them
    under ``remote``.
    """
    return render_page("run", str(data["title"]), data, fetches_rows=True)


def served_diff_report(data: dict[str, Any]) -> str:
    """The viewer's diff page, which fetches its rows from the viewer.

    ``data`` is :func:`diff_payload`'s (``word_diffs=False``) with its rows left out
    and the first of them under ``remote``.
    """
    return render_page("diff", str(data["title"]), data, fetches_rows=True)


def diff_report(result: DiffResult, a: Source, b: Source | None = None) -> str:
    """The report page of a comparison; ``b`` is None when A and B are groups of one run."""
    data = diff_payload(result, a, b)
    return render_page("diff", str(data["title"]), data)


def write_report(path: Path, page: str) -> int:
    """Write a page to ``path``; return its size in bytes."""
    return write_page(path, page)
