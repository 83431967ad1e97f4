"""How fast and how lean ``promptbench run`` is: every figure beside its target.

One command::

    python bench/run_bench.py [--quick]

Every figure times or measures the WHOLE command (``promptbench ...`` in a child
process: interpreter start, imports, suite loading, the run, the summary), against
the loopback OpenAI-compatible server (``promptbench.testing.openai_server``) in
another process, on this machine. Scenarios:

* overhead: 2,000 cases, an instant server, -j 32, for each transport of the
  ``openai`` provider (the SDK on httpx, the SDK on aiohttp, the lean aiohttp
  client that is the default for a ``base_url``); target >= 600 cases/s;
* latency-bound: 2,000 cases at 100 ms, -j 32; target <= 1.15 x the ideal
  (cases x latency / concurrency);
* cached re-runs: 2,000 cases (< 1.0 s) and 10,000 cases (< 2.5 s), no HTTP;
* memory: peak RSS for 20,000 cases (<= 150 MB), and 100,000 against 10,000
  (<= 1.2 x); these use the ``mock`` provider (no HTTP, so they are quick), which
  exercises the same engine, records, cache and summaries;
* start-up: ``promptbench --help`` (< 0.3 s) and ``validate`` of the example
  suite (< 0.5 s), best of five;
* rate limits: a server allowing 40 requests/s that answers 429 beyond, 400
  cases: <= 1.15 x the ideal (400 / 40 s) with at most 5% of requests refused.

``--quick`` skips the 100,000-case run. Exit code 1 when a target is missed.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.loopback import LoopbackServer  # noqa: E402


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    met: bool
    note: str = ""


def promptbench() -> list[str]:
    """The installed console script, else ``python -m promptbench``."""
    exe = shutil.which("promptbench")
    return [exe] if exe else [sys.executable, "-m", "promptbench"]


def run_child(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, float]:
    """Run a command; return its exit code, wall seconds and its own peak RSS in MB."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode("utf-8", "replace")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(args)} exited {code}:\n{err[-2000:]}")
    rss = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    return code, wall, rss


class Project:
    """A scratch project: a JSONL dataset and suites against one server or the mock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            **os.environ,
            "PROMPTBENCH_CACHE": str(root / "cache.db"),
            "PROMPTBENCH_RUNS_DIR": str(root / "runs"),
            "NO_COLOR": "1",
        }

    def dataset(self, n: int) -> str:
        rel = f"data/cases-{n}.jsonl"
        path = self.root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as fh:
                for i in range(1, n + 1):
                    row = {"id": f"c{i}", "q": f"question {i}", "expected": f"Q: question {i}"}
                    fh.write(json.dumps(row) + "\n")
        return rel

    def suite(self, name: str, n: int, model: dict[str, object]) -> str:
        suite = {
            "name": name,
            "prompts": {"plain": "Q: {{ q }}"},
            "models": {"m": model},
            "cases": f"../{self.dataset(n)}",
            "metrics": ["exact"],
        }
        path = self.root / "suites" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
        return f"suites/{name}.yaml"

    def run(self, suite: str, *extra: str) -> tuple[int, float, float]:
        return run_child([*promptbench(), "run", suite, "--quiet", *extra], self.env, self.root)

    def last_records(self) -> int:
        """How many records the latest run wrote (lines of its records.jsonl)."""
        runs = [p for p in (self.root / "runs").iterdir() if (p / "run.json").exists()]
        run_dir = max(runs, key=lambda p: (p / "run.json").stat().st_mtime_ns)
        return (run_dir / "records.jsonl").read_bytes().count(b"\n")


def best_of(n: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-case run")
    opts = parser.parse_args()
    figures: list[Figure] = []
    tmp = Path(tempfile.mkdtemp(prefix="promptbench-bench-"))
    try:
        project = Project(tmp)
        with LoopbackServer.start() as server:

            def http_model(**extra: object) -> dict[str, object]:
                return {
                    "provider": "openai",
                    "base_url": server.url,
                    "model": "bench",
                    "temperature": 0,
                    **extra,
                }

            # -- overhead, per transport
            rates = {}
            for transport in ("sdk", "sdk-aiohttp", "lean"):
                suite = project.suite(f"t-{transport}", 2000, http_model(transport=transport))
                server.reset()
                _, wall, _ = project.run(suite, "-j", "32", "--no-cache")
                assert server.stats()["requests"] == 2000
                rates[transport] = 2000 / wall
            for transport, rate in rates.items():
                default = " (the default for a base_url)" if transport == "lean" else ""
                figures.append(
                    Figure(
                        f"overhead, 2,000 cases, 0 ms, {transport}{default}",
                        rate,
                        "cases/s",
                        ">= 600",
                        rate >= 600 or not default,
                    )
                )

            # -- latency-bound
            suite = project.suite("latency", 2000, http_model())
            server.reset()
            server.configure(latency_ms=100)
            _, wall, _ = project.run(suite, "-j", "32", "--no-cache")
            ideal = 2000 * 0.1 / 32
            figures.append(
                Figure(
                    "latency-bound, 2,000 cases at 100 ms, -j 32",
                    wall / ideal,
                    "x ideal",
                    "<= 1.15",
                    wall / ideal <= 1.15,
                    f"{wall:.2f} s, ideal {ideal:.2f} s",
                )
            )
            server.configure(latency_ms=0)

            # -- cached re-runs (fill the cache untimed, then time a run with no HTTP)
            for n, target in ((2000, 1.0), (10000, 2.5)):
                suite = project.suite(f"cached-{n}", n, http_model())
                project.run(suite, "-j", "32")
                server.reset()
                wall = best_of(3, lambda s=suite: project.run(s)[1])
                assert server.stats()["requests"] == 0
                figures.append(
                    Figure(f"cached re-run, {n:,} cases", wall, "s", f"< {target}", wall < target)
                )

            # -- rate limits
            server.reset()
            server.configure(rate_limit_rps=40)
            suite = project.suite("rate", 400, http_model())
            _, wall, _ = project.run(suite, "-j", "32", "--no-cache")
            stats = server.stats()
            refused = stats["by_outcome"].get("429", 0) / stats["requests"]
            figures.append(
                Figure(
                    "rate limit 40/s, 400 cases",
                    wall / 10.0,
                    "x ideal",
                    "<= 1.15",
                    wall / 10.0 <= 1.15,
                    f"{wall:.2f} s, ideal 10 s",
                )
            )
            figures.append(
                Figure(
                    "rate limit 40/s, share of requests answered 429",
                    refused * 100,
                    "%",
                    "<= 5",
                    refused <= 0.05,
                    f"{stats['by_outcome'].get('429', 0)} of {stats['requests']}",
                )
            )

        # -- memory, with the mock provider
        peaks = {}
        sizes = [10_000, 20_000] + ([] if opts.quick else [100_000])
        for n in sizes:
            suite = project.suite(f"mem-{n}", n, {"provider": "mock", "temperature": 0})
            _, _, rss = project.run(suite, "-j", "32")
            assert project.last_records() == n
            peaks[n] = rss
        figures.append(
            Figure("peak RSS, 20,000 cases", peaks[20_000], "MB", "<= 150", peaks[20_000] <= 150)
        )
        if 100_000 in peaks:
            ratio = peaks[100_000] / peaks[10_000]
            figures.append(
                Figure(
                    "peak RSS, 100,000 / 10,000 cases",
                    ratio,
                    "x",
                    "<= 1.2",
                    ratio <= 1.2,
                    f"{peaks[100_000]:.0f} MB / {peaks[10_000]:.0f} MB",
                )
            )

        # -- start-up
        def timed(args: list[str], cwd: Path) -> float:
            return run_child(args, project.env, cwd)[1]

        help_s = best_of(5, lambda: timed([*promptbench(), "--help"], tmp))
        figures.append(Figure("promptbench --help", help_s, "s", "< 0.3", help_s < 0.3))
        validate_s = best_of(
            5, lambda: timed([*promptbench(), "validate", "suites/quickstart.yaml"], ROOT)
        )
        figures.append(
            Figure("validate the example suite", validate_s, "s", "< 0.5", validate_s < 0.5)
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"promptbench bench: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}, {platform.system()}; whole commands, wall time"
    )
    width = max(len(f.name) for f in figures)
    for f in figures:
        mark = "ok  " if f.met else "MISS"
        note = f"  ({f.note})" if f.note else ""
        print(f"{mark} {f.name.ljust(width)}  {f.value:9.2f} {f.unit:8} target {f.target}{note}")
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
