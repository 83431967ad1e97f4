"""End-to-end throughput of ``promptbench run`` against the loopback OpenAI server.

One command::

    python bench/run_bench.py [--cases 2000] [-j 32]

starts the fake OpenAI-compatible server (``promptbench.testing.openai_server``) as a
child process, writes a suite of N cases (a JSONL dataset, one variant, one model
via ``base_url``, metric ``exact``) in a temporary directory, and times the whole
command ``promptbench run SUITE -j J --no-cache --quiet`` in a child process:

* at 0 ms server latency (what promptbench itself costs per call),
* at 100 ms server latency (whether it keeps J calls in flight: the ideal wall
  time is cases x latency / J),
* a fully cached re-run (no HTTP at all).

Each line gives the wall time of the whole command (interpreter start included),
calls per second, the peak RSS of the promptbench process (from ``wait4``), the
ratio to the ideal, and the engine's own time from ``run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.loopback import LoopbackServer  # noqa: E402


@dataclass
class Result:
    name: str
    calls: int
    wall: float
    rss_mb: float
    engine: float
    ideal: float | None

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    def row(self) -> list[str]:
        ratio = f"{self.wall / self.ideal:.2f}x" if self.ideal else "— (ideal 0)"
        ideal = f"{self.ideal:.2f}" if self.ideal is not None else "—"
        return [
            self.name,
            f"{self.calls}",
            f"{self.wall:.2f}",
            f"{self.rate:,.0f}",
            f"{self.rss_mb:.0f}",
            ideal,
            ratio,
            f"{self.engine:.2f}",
        ]


def promptbench_command() -> list[str]:
    """The installed console script, else ``python -m promptbench``."""
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def write_project(root: Path, url: str, cases: int) -> Path:
    data = root / "data" / "cases.jsonl"
    data.parent.mkdir(parents=True)
    with data.open("w", encoding="utf-8") as fh:
        for i in range(1, cases + 1):
            fh.write(
                json.dumps({"id": f"c{i}", "q": f"question {i}", "expected": f"Q: question {i}"})
            )
            fh.write("\n")
    suite = {
        "name": "bench",
        "prompts": {"plain": "Q: {{ q }}"},
        "models": {
            "loop": {"provider": "openai", "base_url": url, "model": "bench", "temperature": 0}
        },
        "cases": "data/cases.jsonl",
        "metrics": ["exact"],
        "gate": {"exact": ">= 1.0"},
    }
    path = root / "suites" / "bench.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


def run_once(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, float]:
    """Run a command; return its exit code, wall seconds and peak RSS in MB (its own)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    rss = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    return proc.returncode, wall, rss


def latest_run(runs: Path) -> dict[str, object]:
    run_dir = max(runs.iterdir(), key=lambda d: (d / "run.json").stat().st_mtime_ns)
    meta: dict[str, object] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    lines = (run_dir / "records.jsonl").read_bytes().count(b"\n")
    meta["_records"] = lines
    return meta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases in the suite (2000)")
    parser.add_argument("-j", "--concurrency", type=int, default=32, help="calls at once (32)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="the slow scenario (100)")
    opts = parser.parse_args()
    n, jobs = opts.cases, opts.concurrency

    tmp = Path(tempfile.mkdtemp(prefix="promptbench-bench-"))
    env = {
        **os.environ,
        "PROMPTBENCH_CACHE": str(tmp / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(tmp / "runs"),
        "NO_COLOR": "1",
    }
    base = [*promptbench_command(), "run", "suites/bench.yaml", "-j", str(jobs), "--quiet"]
    results: list[Result] = []
    try:
        with LoopbackServer.start() as server:
            write_project(tmp, server.url, n)

            def scenario(name: str, extra: list[str], latency_ms: float, expect_http: int) -> None:
                server.reset()
                server.configure(latency_ms=latency_ms)
                code, wall, rss = run_once([*base, *extra], env, tmp)
                meta = latest_run(tmp / "runs")
                requests = server.stats()["requests"]
                problems = []
                if code != 0:
                    problems.append(f"exit code {code}")
                if meta["_records"] != n:
                    problems.append(f"{meta['_records']} records")
                if requests != expect_http:
                    problems.append(f"{requests} HTTP requests, expected {expect_http}")
                if problems:
                    raise SystemExit(f"{name}: " + ", ".join(problems))
                ideal = n * latency_ms / 1000 / jobs if latency_ms else None
                engine = float(meta.get("wall_seconds", 0.0))  # type: ignore[arg-type]
                results.append(Result(name, n, wall, rss, engine, ideal))

            scenario("0 ms latency", ["--no-cache"], 0.0, n)
            scenario(f"{opts.latency_ms:g} ms latency", ["--no-cache"], opts.latency_ms, n)
            # Fill the cache (not timed), then time a re-run that makes no HTTP request.
            server.reset()
            code, _, _ = run_once(base, env, tmp)
            if code != 0:
                raise SystemExit(f"filling the cache: exit code {code}")
            scenario("cached re-run", [], 0.0, 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    header = ["scenario", "calls", "wall s", "calls/s", "peak RSS MB", "ideal s", "wall/ideal"]
    header.append("engine s")
    rows = [header, *(r.row() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(
        f"promptbench run, {n} cases, -j {jobs}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; wall = the whole command; engine = run.json wall_seconds"
    )
    for i, row in enumerate(rows):
        print(
            "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
