"""Instructions per record of the viewer's diff page, counted by callgrind: load cannot move it.

``python bench/instructions_diff.py [--small 2000] [--big 12000]`` makes two stores, each
of two runs of ``--small`` (``--big``) records as ``bench_view.py`` makes them, and
counts under ``valgrind --tool=callgrind`` what ``GET /compare?run=A&run=B`` computes on
each (``DiffRows.compare``, the page's first rows, ``served_diff_report``; the viewer's
imports first), in one process without a server. The difference of the two counts
over the difference of the records (both runs') is what one more record costs, start-up
and imports cancelled out. The search text, made after the page has gone out, is not
counted. ``bench_view.py --only diff`` gives the wall time with a browser; this is the
figure to compare two versions with on a shared machine. Needs valgrind; a pair takes
two or three minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import promptbench.view.app  # the viewer's imports, made at its start
from promptbench.diff import DiffOptions, Source
from promptbench.report.html import served_diff_report
from promptbench.view.diffrows import DiffRows
from promptbench.view.index import RunIndex
from promptbench.view.layout import with_nav
index = RunIndex(Path(sys.argv[1]))
a, b = (Source.of_run(index.get(i).stored, i) for i in ("big-a", "big-b"))
rows = DiffRows.compare(a, b, DiffOptions())
page = with_nav(served_diff_report(rows.page_data("/api/compare/rows?run=big-a&run=big-b")))
assert len(rows.rows) > 0 and page
"""


def store(root: Path, n: int) -> Path:
    """Two runs of ``n`` records each (bench_view.py's), in ``root``; the runs directory."""
    from bench.bench_view import big_records, copy_run, real_run

    template = real_run(root)
    runs = root / "runs"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    copy_run(template, runs, "big-a", t0 + timedelta(days=30), big_records(template, n, 1))
    copy_run(template, runs, "big-b", t0 + timedelta(days=31), big_records(template, n, 2))
    return runs


def instructions(n: int) -> int:
    """Instructions callgrind counted in the diff page's work on two runs of ``n`` records."""
    from bench.callgrind import collected

    with tempfile.TemporaryDirectory() as tmp:
        runs = store(Path(tmp), n)
        return collected(_CHILD, str(runs), str(ROOT), what="the diff page")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--big", type=int, default=12000)
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 2
    small, big = instructions(opts.small), instructions(opts.big)
    per_record = (big - small) / (2 * (opts.big - opts.small))
    print(
        f"instructions per record of the diff page: {per_record:,.0f} (callgrind; "
        f"DiffRows.compare + first rows + served_diff_report, in-process; two runs of "
        f"{opts.big:,} records less two of {opts.small:,}, so start-up cancels out); "
        f"in all {big:,} for two runs of {opts.big:,}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    sys.exit(main())
