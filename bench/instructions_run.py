"""Instructions per case of ``promptbench run``, counted by callgrind: a figure load cannot move.

``python bench/instructions_run.py [--small 200] [--big 2200]`` runs the suite of
``bench/profile_run.py`` in-process (``run_suite``, openai provider on aiohttp, -j 32,
cold cache) against the loopback server, twice under ``valgrind --tool=callgrind``:
once with ``--small`` cases and once with ``--big``. The difference of the two
instruction counts over the difference of the cases is what one more case costs,
start-up, imports and loading cancelled out. Every thread of the promptbench process
counts (the cache writer's too); the server is another process, not counted.

Wall-clock and CPU-time figures on a shared 2-core machine move by 20-50% with the
load; instruction counts move by well under 1%, so this is the figure to compare two
versions of the engine with (the time an instruction takes is still the machine's).
Under valgrind the client is some 50 times slower, so the server is never the
bottleneck and the event loop sees answers one at a time: the count is of the
client's work, not of its overlap with the server. ``PROMPTBENCH_EVENT_LOOP`` picks
the loop as for a real run. Needs valgrind; a pair of runs takes a few minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import os, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from bench.profile_run import write_project
from tests.helpers.loopback import LoopbackServer
from promptbench.api import run_suite
n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp, LoopbackServer.start() as server:
    root = Path(tmp)
    suite = write_project(root, n, server.url)
    os.environ["PROMPTBENCH_RUNS_DIR"] = str(root / "runs")
    result = run_suite(suite, concurrency=32, cache_path=root / "cold.db")
    assert result.summary.records == n, result.summary.records
"""


def instructions(n: int) -> int:
    """Instructions callgrind counted in a whole in-process run of ``n`` cases."""
    from bench.callgrind import collected

    return collected(_CHILD, str(n), str(ROOT), what="the run")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big", type=int, default=2200)
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 2
    from promptbench.runner.loop import loop_name

    small, big = instructions(opts.small), instructions(opts.big)
    per_case = (big - small) / (opts.big - opts.small)
    print(
        f"instructions per case: {per_case:,.0f} (callgrind; in-process run_suite, openai on "
        f"aiohttp, -j 32, cold cache, {loop_name()} event loop; {opts.big:,} cases less "
        f"{opts.small:,}, so start-up cancels out; every thread of the process, not the server)"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    sys.exit(main())
