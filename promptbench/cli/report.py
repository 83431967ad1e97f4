"""``promptbench report RUN``: a run as one self-contained HTML file; ``--html`` elsewhere.

``run --html PATH`` and ``diff --html PATH`` write the same kind of page through
:func:`write_run_html` and :func:`write_diff_html`, so that those commands gain one
option each and no logic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from promptbench.cli._common import err, fail, user_errors
from promptbench.cli.runs import RunArg, RunsDirOpt

if TYPE_CHECKING:
    from promptbench.api import RunResult
    from promptbench.diff import DiffResult, Source
    from promptbench.runs import StoredRun

HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Write an HTML report here: one self-contained file (no network when viewed) "
        "with charts, outputs side by side, filters and search.",
        show_default=False,
    ),
]
REPORT_FILE = "report.html"


def report(
    run: RunArg = "latest",
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help=f"Where to write the report (default: {REPORT_FILE} in the run's directory).",
            show_default=False,
        ),
    ] = None,
    runs_dir: RunsDirOpt = None,
) -> None:
    """Write a stored run as one HTML file to open in any browser, offline.

    The page holds everything: the summary per variant × model with bar charts (pass
    rate, each metric's mean score, latency, cost), the gate, and every case with the
    outputs of each variant and model side by side. Filter to failures, errors or
    flipped cases (a case that passes somewhere and fails elsewhere), by metric, by
    variant or model, and search the text. Rows are drawn as they scroll into view,
    so runs of 10,000 records open at once. Reads the run's records only: no model
    is called.

    Example: promptbench report latest --html report.html

    Example: promptbench run suites/triage.yaml --html report.html

    Example: promptbench diff --variants terse guided --html diff.html
    """
    from promptbench.runs import resolve_run

    with user_errors():
        stored = resolve_run(run, runs_dir)
    write_run_html(stored, html if html is not None else stored.run_dir / REPORT_FILE)


def _write(path: Path, page: str) -> None:
    from promptbench.report.html import human_size, write_report

    try:
        size = write_report(path, page)
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}; choose another --html path") from None
    err.print(f"wrote {path} ({human_size(size)})", markup=False, soft_wrap=True)


def write_run_html(stored: StoredRun, path: Path) -> None:
    """Write the report of a stored run, and say where and how large on stderr."""
    from promptbench.report.html import run_report

    with user_errors():
        page = run_report(stored)
    _write(path, page)


def html_after_run(result: RunResult, path: Path, *, multiple: bool) -> None:
    """``run --html PATH``: the report of a finished run (one file per suite when several)."""
    from promptbench.runs import resolve_run

    if multiple:
        path = path.with_name(f"{path.stem}-{result.suite.name}{path.suffix or '.html'}")
    with user_errors():
        stored = resolve_run(result.run_dir)
    write_run_html(stored, path)


def write_diff_html(path: Path, result: DiffResult, a: Source, b: Source | None) -> None:
    """``diff --html PATH``: the comparison as a page; ``b`` is None within one run."""
    from promptbench.report.html import diff_report

    with user_errors():
        page = diff_report(result, a, b)
    _write(path, page)
