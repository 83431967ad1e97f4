"""How fast the commands that read stored runs are: diff, show, report, baseline save, runs.

One command::

    python bench/bench_commands.py [--sizes 10000,100000,1000000] [--runs 1000] [--only diff,...]

Makes a store in a temporary directory, written record by record without calling a
model (``tests/helpers/synthetic_runs.py``: records of about a kilobyte, two variants x
two models, a binary metric and a continuous one, now and then a call error, a metric
error, a probe's twin): per size N, two runs of N records each (N / 4 cases; B passes
less often than A, so the diff has flips and a regression to find), and ``--runs``
copies of a small run with their own ids and start times. Every figure is the WHOLE
command in a child process (interpreter start, imports, reading ``records.jsonl``, the
work, the output written; wall time, the child's own CPU time and peak RSS from ``wait4``),
stdout to a file, ``NO_COLOR=1``; no model is called and no cache is read:

* ``promptbench diff A B --json``: the two N-record runs; < 5 s and <= 300 MB at 100,000;
* ``promptbench show B``: < 5 s at 100,000;
* ``promptbench report B --html FILE``: < 5 s at 100,000;
* ``promptbench baseline save B FILE``: < 5 s at 100,000;
* ``promptbench runs``: over ``--runs`` stored runs (plus the big ones), < 1 s.

At every size the time per 1,000 records is printed with its ratio to the smallest
size's: linear growth keeps it near 1 (start-up weighs on the smallest size, so the
ratio falls below 1 at first); a ratio well above 1 says where growth is not linear. Targets are set
at 100,000 records (the issue's); 10,000 and 1,000,000 are printed for the growth.
Exit code 1 when a target is missed. Other benches may import :func:`make_store`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptbench.runner.runmeta import read_meta, write_meta  # noqa: E402
from tests.helpers.synthetic_runs import write_synthetic_run  # noqa: E402

TARGET_RECORDS = 100_000
TARGETS_S = {"diff": 5.0, "show": 5.0, "report": 5.0, "baseline": 5.0}
DIFF_RSS_MB = 300.0
RUNS_S = 1.0


@dataclass
class Timed:
    wall: float
    rss_mb: float
    cpu: float = (
        0.0  # the child's user + system time: what other work on the machine inflates least
    )


def promptbench() -> list[str]:
    """The installed console script, else ``python -m promptbench``."""
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def timed(args: list[str], env: dict[str, str], cwd: Path, out: Path) -> Timed:
    """Run a command to the end; its wall time and its own peak RSS (MB)."""
    with out.open("wb") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode("utf-8", "replace")
        raise SystemExit(f"{' '.join(args)} exited {code}:\n{err[-2000:]}")
    rss = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    return Timed(wall, rss, usage.ru_utime + usage.ru_stime)


# --------------------------------------------------------------------------- the store


def make_store(root: Path, sizes: list[int], copies: int) -> dict[int, tuple[str, str]]:
    """The store described in the module docstring; per size, the ids of runs A and B."""
    runs = root / "runs"
    template = write_synthetic_run(runs, "small", 10, seed=99)
    for k in range(copies):
        run_id = f"copy-{k:05d}"
        shutil.copytree(template, runs / run_id)
        meta = read_meta(runs / run_id)
        started = (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=k)).isoformat()
        write_meta(runs / run_id, meta.model_copy(update={"run_id": run_id, "started_at": started}))
    pairs = {}
    for j, n in enumerate(sizes):
        a, b = f"big-{n}-a", f"big-{n}-b"
        # n records: n / 4 cases x 2 variants x 2 models, a few cases left out on each side.
        write_synthetic_run(runs, a, n // 4, seed=2 * j, skip_every=1000)
        write_synthetic_run(runs, b, n // 4, seed=2 * j + 1, p_pass=0.66, skip_every=1000)
        pairs[n] = (a, b)
    return pairs


# --------------------------------------------------------------------------- the figures


def command_of(name: str, a: str, b: str, out: Path) -> list[str]:
    return {
        "diff": ["diff", a, b, "--json"],
        "show": ["show", b],
        "report": ["report", b, "--html", str(out)],
        "baseline": ["baseline", "save", b, str(out)],
    }[name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="records per run")
    parser.add_argument("--runs", type=int, default=1000, help="stored runs for `runs`")
    parser.add_argument("--only", default="diff,show,report,baseline,runs", help="which figures")
    parser.add_argument("--keep", action="store_true", help="keep the store; print its path")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    only = args.only.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-cmds-"))
    env = {**os.environ, "PROMPTBENCH_RUNS_DIR": str(tmp / "runs"), "NO_COLOR": "1"}
    env["PROMPTBENCH_CACHE"] = str(tmp / "cache.db")
    missed = 0
    try:
        print(f"making the store in {tmp} ...", flush=True)
        pairs = make_store(tmp, sizes, args.runs if "runs" in only else 0)
        print(
            "every figure: the whole command in a child process, wall time (its CPU time) "
            f"and peak RSS; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        for name in (n for n in ("diff", "show", "report", "baseline") if n in only):
            base_rate: float | None = None
            for n in sizes:
                a, b = pairs[n]
                t = timed(
                    [*promptbench(), *command_of(name, a, b, tmp / f"out-{name}-{n}")],
                    env,
                    tmp,
                    tmp / f"stdout-{name}-{n}",
                )
                per_k = t.wall / n * 1000
                base_rate = per_k if base_rate is None else base_rate
                growth = f"{per_k * 1000:6.1f} ms per 1k records ({per_k / base_rate:4.2f} x)"
                line = (
                    f"{name:>8} {n:>9,} records: {t.wall:7.2f} s (cpu {t.cpu:5.2f} s), "
                    f"{t.rss_mb:5.0f} MB; {growth}"
                )
                if n == TARGET_RECORDS:
                    ok = t.wall < TARGETS_S[name]
                    target = f"target < {TARGETS_S[name]:.0f} s"
                    if name == "diff":
                        ok = ok and t.rss_mb <= DIFF_RSS_MB
                        target += f" and <= {DIFF_RSS_MB:.0f} MB"
                    line += f"  [{target}: {'ok' if ok else 'MISSED'}]"
                    missed += not ok
                print(line, flush=True)
        if "runs" in only:
            stored = len(list((tmp / "runs").iterdir()))
            t = min(
                (timed([*promptbench(), "runs"], env, tmp, tmp / "stdout-runs") for _ in range(3)),
                key=lambda x: x.wall,
            )
            ok = t.wall < RUNS_S
            missed += not ok
            print(
                f"    runs over {stored:,} stored runs: {t.wall:5.2f} s (best of 3), "
                f"peak RSS {t.rss_mb:.0f} MB  [target < {RUNS_S:.0f} s: {'ok' if ok else 'MISSED'}]"
            )
    finally:
        if args.keep:
            print(f"store kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
