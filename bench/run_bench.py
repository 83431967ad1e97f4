"""How fast and how lean ``promptbench run`` is: every figure beside its target.

One command::

    python bench/run_bench.py [--quick] [--transports] [--rounds N] [--million]

Every figure below says what it times. Unless a line says otherwise a figure is the
WHOLE command (``promptbench run ...`` in a child process: interpreter start, imports,
suite loading, the run, the summary; wall time from ``wait4``), with the ``openai``
provider through its default transport for a ``base_url`` (the aiohttp client) against
the loopback OpenAI-compatible server (``promptbench.testing.openai_server``, another
process), on a COLD cache (a new, empty cache file for each run, so every case is a
real HTTP call and a cache write), -j 32. The machine may be shared: absolute figures
are pessimistic, so promptbench is also put beside a bare aiohttp loop measured in the
same sitting, interleaved with it.

* throughput: 20,000 cases against an instant server: >= 3,000 cases/s, and >= 0.6 x a
  bare aiohttp loop making the same 20,000 requests 32 at once (timed over its loop
  alone: no interpreter start, no imports; the stricter comparison), measured on
  asyncio's loop and, where installed, on uvloop's (which promptbench then runs on),
  the ratio taken against the faster; the peak RSS of the same runs (<= 150 MB);
* latency-bound: 2,000 cases at 100 ms: <= 1.05 x the ideal, ceil(2,000 / 32) x 100 ms
  (a sliding window of 32 can do no better);
* cached re-runs: 2,000 cases (< 1.0 s) and 10,000 cases (< 2.5 s), WARM cache (filled
  by an untimed run), no HTTP request made;
* rate limits: a server allowing 40 requests/s (a token bucket of 40 that starts full:
  the first 40 at once), 400 cases; the ideal is (400 - 40) / 40 = 9.0 s, the true
  minimum. Once with the server saying only "429 + Retry-After" (<= 1.10 x the ideal,
  <= 5% of requests refused), once with x-ratelimit headers and retry-after-ms
  (<= 1.10 x, <= 1% refused);
* memory: peak RSS at 10,000 and 100,000 cases (<= 1.2 x), cold cache, real HTTP;
* start-up: ``promptbench --help`` (< 0.2 s) and ``validate`` of the example suite
  (< 0.4 s), best of five, whole command, after compiling promptbench's bytecode (as
  ``pip install`` does; where ``PYTHONDONTWRITEBYTECODE`` is set, every child would
  otherwise compile every module from source), and the CPU time of each beside it; a
  one-case run against the loopback server (cold cache), the fixed cost that every run
  pays, is measured the same way and printed with them.

``--quick`` skips the 100,000-case run; ``--transports`` only puts every transport of
the ``openai`` provider (SDK on httpx, SDK on aiohttp, the aiohttp client) beside the
bare loop at 2,000 cases; ``--rounds N`` sets the interleaved rounds of the throughput
figure (best kept); ``--million`` adds a 1,000,000-case run (peak RSS <= 150 MB,
cases/s within 15% of the 20,000-case figure; several minutes). Exit code 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
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

from promptbench.runner.loop import loop_name  # noqa: E402
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


# The CPU seconds (user + system, from wait4) of the last child run_child waited for: its
# own work, whatever the server and the rest of the machine were doing meanwhile.
_last_cpu = [0.0]


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
    _last_cpu[0] = usage.ru_utime + usage.ru_stime
    return code, wall, rss


class Project:
    """A scratch project: a JSONL dataset and suites against one server or the mock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cold = 0  # cold-cache runs so far, each with its own new cache file
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

    def last_run(self) -> dict[str, object]:
        runs = [p for p in (self.root / "runs").iterdir() if (p / "run.json").exists()]
        run_dir = max(runs, key=lambda p: (p / "run.json").stat().st_mtime_ns)
        meta: dict[str, object] = json.loads((run_dir / "run.json").read_text())
        meta["_records"] = (run_dir / "records.jsonl").read_bytes().count(b"\n")
        return meta


def best_of(n: int, fn: Callable[[], float]) -> float:
    return min(fn() for _ in range(n))


SCENARIOS = ("throughput", "latency", "cached", "rate", "memory", "million", "startup")
TRANSPORTS = ("sdk", "sdk-aiohttp", "aiohttp")
DEFAULT_TRANSPORT = "aiohttp"  # what transport: auto picks for a base_url

_BARE_LOOP = """
import asyncio, json, sys, time
import aiohttp

async def main(url, n, jobs):
    async with aiohttp.ClientSession() as session:
        todo = iter(range(n))
        async def worker():
            for i in todo:
                message = {"role": "user", "content": f"Q: question {i}"}
                body = {"model": "bench", "messages": [message]}
                async with session.post(url + "/chat/completions", json=body) as response:
                    json.loads(await response.read())
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(jobs)))
        print(n / (time.perf_counter() - start))

factory = None
if sys.argv[4] == "uvloop":
    import uvloop
    factory = uvloop.new_event_loop
with asyncio.Runner(loop_factory=factory) as runner:
    runner.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def has_uvloop() -> bool:
    """Whether the bench's interpreter (and so promptbench's run) has uvloop."""
    return importlib.util.find_spec("uvloop") is not None


def bare_aiohttp_rate(url: str, n: int, jobs: int, loop: str = "asyncio") -> float:
    """Requests/s of a plain aiohttp loop on ``loop`` (its own loop timed, not its start-up)."""
    out = subprocess.run(
        [sys.executable, "-c", _BARE_LOOP, url, str(n), str(jobs), loop],
        check=True,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")},
    )
    return float(out.stdout.strip())


def bare_loops() -> tuple[str, ...]:
    """The loops the bare client is measured on: asyncio's, and uvloop's where installed."""
    return ("asyncio", "uvloop") if has_uvloop() else ("asyncio",)


def transport_figures(project: Project, server: LoopbackServer, rounds: int) -> list[Figure]:
    """Cases/s of whole runs per transport, best of ``rounds``, and each against a bare loop."""
    rates: dict[str, float] = {}
    for _ in range(rounds):  # interleaved, so that a busy moment does not favour one
        for transport in TRANSPORTS:
            model = {
                "provider": "openai",
                "base_url": server.url,
                "model": "bench",
                "temperature": 0,
                "transport": transport,
            }
            suite = project.suite(f"t-{transport}", 2000, model)
            server.reset()
            _, wall, _ = project.run(suite, "-j", "32", "--no-cache")
            assert server.stats()["requests"] == 2000
            rates[transport] = max(rates.get(transport, 0.0), 2000 / wall)
    bare = max(
        bare_aiohttp_rate(server.url, 2000, 32, loop)
        for _ in range(rounds)
        for loop in bare_loops()
    )
    figures = [
        Figure(
            "bare aiohttp loop, 2,000 requests, 32 at once",
            bare,
            "req/s",
            "(the ceiling)",
            True,
            f"the faster of {', '.join(bare_loops())}",
        )
    ]
    for transport in TRANSPORTS:
        rate = rates[transport]
        default = transport == DEFAULT_TRANSPORT
        figures.append(
            Figure(
                f"overhead, 2,000 cases, 0 ms, {transport}"
                + (" (the default for a base_url)" if default else ""),
                rate,
                "cases/s",
                ">= 600" if default else "(measured)",
                rate >= 600 or not default,
                f"{rate / bare:.2f} x the bare loop",
            )
        )
    return figures


def fresh_cache(project: Project) -> dict[str, str]:
    """The project's environment with a new, empty cache file: a cold-cache run."""
    project.cold += 1
    return {**project.env, "PROMPTBENCH_CACHE": str(project.root / f"cold-{project.cold}.db")}


def cold_run(project: Project, suite: str, *extra: str) -> tuple[int, float, float]:
    args = [*promptbench(), "run", suite, "--quiet", "-j", "32", *extra]
    return run_child(args, fresh_cache(project), project.root)


def throughput_figures(
    project: Project, server: LoopbackServer, model: dict[str, object], n: int, rounds: int
) -> tuple[list[Figure], float]:
    """Whole runs of ``n`` cases, cold cache, interleaved with a bare aiohttp loop.

    The bare loop runs on asyncio's loop and, where installed, on uvloop's (which
    promptbench's run then uses); the ratio is taken against the faster of the two.
    """
    suite = project.suite(f"throughput-{n}", n, model)
    best, peak = 0.0, 0.0
    bare = dict.fromkeys(bare_loops(), 0.0)
    for _ in range(rounds):
        server.reset()
        _, wall, rss = cold_run(project, suite)
        if server.stats()["requests"] != n or project.last_run()["_records"] != n:
            raise SystemExit(f"throughput: expected {n} requests and records")
        best, peak = max(best, n / wall), max(peak, rss)
        for loop in bare:
            bare[loop] = max(bare[loop], bare_aiohttp_rate(server.url, n, 32, loop))
    what = "whole command, cold cache, openai/aiohttp, instant loopback server, -j 32"
    fastest = max(bare, key=lambda loop: bare[loop])
    ceiling = bare[fastest]
    figures = [
        Figure(
            f"bare aiohttp loop on {loop}, {n:,} requests, 32 at once",
            rate,
            "req/s",
            "(the ceiling)" if loop == fastest else "(measured)",
            True,
            "its loop alone: no interpreter start or imports"
            + ("" if has_uvloop() else "; uvloop not installed"),
        )
        for loop, rate in bare.items()
    ]
    return [
        *figures,
        Figure(
            f"throughput, {n:,} cases",
            best,
            "cases/s",
            ">= 3000",
            best >= 3000,
            f"{what}; promptbench on {loop_name()}",
        ),
        Figure(
            f"throughput, {n:,} cases / bare aiohttp loop",
            best / ceiling,
            "x",
            ">= 0.6",
            best / ceiling >= 0.6,
            f"against the faster bare loop ({fastest}); same server, concurrency, sitting",
        ),
        Figure(f"peak RSS, {n:,} cases", peak, "MB", "<= 150", peak <= 150, what),
    ], best


def one_case_wall(project: Project, server: LoopbackServer, model: dict[str, object]) -> float:
    """The whole command for ONE case (cold cache, same server): the run's fixed cost.

    Start-up, imports, loading, the first connection and the summary: what every
    whole-command figure pays once. Best of 3. Printed beside the figures whose ideal
    ignores it, so that the engine's share can be told from the start-up's.
    """
    suite = project.suite("one-case", 1, model)
    server.reset()
    return best_of(3, lambda: cold_run(project, suite)[1])


def _less_startup(wall: float, fixed: float, ideal: float) -> str:
    return f"less a 1-case run's {fixed:.2f} s: {(wall - fixed) / ideal:.2f} x"


def rate_limit_figures(
    project: Project, server: LoopbackServer, model: dict[str, object], fixed: float
) -> list[Figure]:
    n, rps = 400, 40
    ideal = (n - rps) / rps  # the bucket starts full: 40 at once, then 40 a second
    suite = project.suite("rate", n, model)
    figures = []
    for headers, refused_target in (("retry-after", 0.05), ("full", 0.01)):
        server.reset()
        server.configure(rate_limit_rps=rps, rate_limit_headers=headers)
        _, wall, _ = cold_run(project, suite)
        stats = server.stats()
        refused = stats["by_outcome"].get("429", 0)
        said = "429 + Retry-After only" if headers == "retry-after" else "x-ratelimit headers"
        # The server's own clock: from the answer that spent the burst to the last one,
        # the part of the run the rate limit sets, with no start-up and no teardown.
        answered = sorted(p["at"] for p in server.paid())
        paced = answered[-1] - answered[rps - 1]
        figures += [
            Figure(
                f"rate limit 40/s ({said}), 400 cases",
                wall / ideal,
                "x ideal",
                "<= 1.10",
                wall / ideal <= 1.10,
                f"{wall:.2f} s, ideal {ideal:.1f} s; whole command; "
                + _less_startup(wall, fixed, ideal),
            ),
            Figure(
                f"rate limit 40/s ({said}), the paced part",
                paced / ideal,
                "x ideal",
                "<= 1.10",
                paced / ideal <= 1.10,
                f"{paced:.2f} s on the server's clock from the 40th answer to the last "
                f"(its log of answers), ideal {ideal:.1f} s: the gate's own part",
            ),
            Figure(
                f"rate limit 40/s ({said}), requests refused",
                100 * refused / stats["requests"],
                "%",
                f"<= {refused_target * 100:g}",
                refused <= refused_target * stats["requests"],
                f"{refused} of {stats['requests']}",
            ),
        ]
    server.reset()
    return figures


def latency_figures(
    project: Project, server: LoopbackServer, model: dict[str, object], fixed: float
) -> list[Figure]:
    """2,000 cases at 100 ms each, -j 32, against the ideal ceil(2,000 / 32) x 100 ms.

    Beside the whole command, the server's own clock from its first answer to its last
    against (ceil(2,000 / 32) - 1) x 100 ms: the engine's part, no start-up or teardown.
    """
    suite = project.suite("latency", 2000, model)
    server.reset()
    server.configure(latency_ms=100)
    _, wall, _ = cold_run(project, suite)
    answered = sorted(p["at"] for p in server.paid())
    server.reset()
    waves = math.ceil(2000 / 32)
    ideal = waves * 0.1
    served, served_ideal = answered[-1] - answered[0], (waves - 1) * 0.1
    return [
        Figure(
            "latency-bound, 2,000 cases at 100 ms, -j 32",
            wall / ideal,
            "x ideal",
            "<= 1.05",
            wall / ideal <= 1.05,
            f"{wall:.2f} s, ideal {ideal:.2f} s; whole command, cold cache; "
            + _less_startup(wall, fixed, ideal),
        ),
        Figure(
            "latency-bound, the served part",
            served / served_ideal,
            "x ideal",
            "(measured)",
            True,
            f"{served:.2f} s on the server's clock from its first answer to its last "
            f"(its log of answers), ideal ({waves} - 1) x 0.1 = {served_ideal:.1f} s",
        ),
    ]


def cached_figures(
    project: Project, server: LoopbackServer, model: dict[str, object]
) -> list[Figure]:
    """Re-runs on a warm cache (filled by an untimed run): no HTTP request at all."""
    figures = []
    for n, target in ((2000, 1.0), (10000, 2.5)):
        suite = project.suite(f"cached-{n}", n, model)
        project.run(suite, "-j", "32")
        server.reset()
        wall = best_of(3, lambda s=suite: project.run(s)[1])
        assert server.stats()["requests"] == 0
        figures.append(
            Figure(
                f"cached re-run, {n:,} cases",
                wall,
                "s",
                f"< {target}",
                wall < target,
                "whole command, warm cache, no HTTP request",
            )
        )
    return figures


def scale_figures(
    project: Project,
    server: LoopbackServer,
    model: dict[str, object],
    sizes: list[int],
    rate_20k: float,
) -> list[Figure]:
    """Peak RSS and the cost per case at each size: cold cache, real HTTP, whole command.

    The cost per case (wall time / cases, in microseconds) should not grow with the
    size: a run that does constant work per case costs the same per case at 1M as at
    10k. The line for each size says how far it is from the smallest size's cost.
    """
    figures = []
    peaks: dict[int, float] = {}
    cost: dict[int, float] = {}
    cpu: dict[int, float] = {}
    for n in sizes:
        suite = project.suite(f"scale-{n}", n, model)
        server.reset()
        _, wall, peaks[n] = cold_run(project, suite)
        if project.last_run()["_records"] != n or server.stats()["requests"] != n:
            raise SystemExit(f"scale: expected {n} requests and records")
        cost[n] = wall / n * 1e6
        cpu[n] = _last_cpu[0] / n * 1e6
    first = sizes[0]
    for n in sizes:
        growth = cost[n] / cost[first]
        figures.append(
            Figure(
                f"cost per case, {n:,} cases",
                cost[n],
                "us/case",
                "linear: within 1.15 x the 10k figure",
                growth <= 1.15 or n == first,
                f"{n / (cost[n] * n / 1e6):.0f} cases/s, {cost[n] * n / 1e6:.1f} s, "
                f"{growth:.2f} x the {first:,}-case cost; peak RSS {peaks[n]:.0f} MB; "
                "whole command, cold cache, openai/aiohttp",
            )
        )
        # The wall time also holds the loopback server's work (same 2 cores, and its log
        # of paid answers grows with the run); the command's own CPU is promptbench's.
        figures.append(
            Figure(
                f"CPU of the command per case, {n:,} cases",
                cpu[n],
                "us/case",
                "(measured)",
                True,
                f"{cpu[n] / cpu[first]:.2f} x the {first:,}-case CPU; user + system of the "
                "promptbench process (wait4), start-up included",
            )
        )
    if 100_000 in peaks and 10_000 in peaks:
        ratio = peaks[100_000] / peaks[10_000]
        figures.append(
            Figure(
                "peak RSS, 100,000 / 10,000 cases",
                ratio,
                "x",
                "<= 1.2",
                ratio <= 1.2,
                f"{peaks[100_000]:.0f} MB / {peaks[10_000]:.0f} MB; cold cache, HTTP",
            )
        )
    if 1_000_000 in peaks:
        n = 1_000_000
        rate = 1e6 / cost[n]
        figures.append(
            Figure(
                "peak RSS, 1,000,000 cases",
                peaks[n],
                "MB",
                "<= 150",
                peaks[n] <= 150,
                "whole command, cold cache, HTTP",
            )
        )
        if rate_20k:
            figures.append(
                Figure(
                    "throughput, 1,000,000 / 20,000 cases",
                    rate / rate_20k,
                    "x",
                    ">= 0.85",
                    rate / rate_20k >= 0.85,
                    f"{rate:.0f} cases/s vs {rate_20k:.0f}; both whole command, cold cache",
                )
            )
    return figures


def cpu_child(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Run a command; return its wall seconds and its own CPU seconds (user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # 1: a gate failed, still a run
        raise SystemExit(f"{' '.join(args)} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def startup_figures(
    project: Project, tmp: Path, server: LoopbackServer, model: dict[str, object]
) -> list[Figure]:
    """``--help``, ``validate`` of the example suite, a one-case run: whole command, best of 5."""
    import compileall

    # What an installed promptbench has: its modules' bytecode (pip compiles it).
    compileall.compile_dir(ROOT / "promptbench", quiet=1)
    one_case = project.suite("one-case-startup", 1, model)
    server.reset()
    figures = []
    for name, args, cwd, target in (
        ("promptbench --help", ["--help"], tmp, 0.2),
        ("validate the example suite", ["validate", "suites/quickstart.yaml"], ROOT, 0.4),
        ("run of one case, cold cache", ["run", one_case, "--quiet"], tmp, None),
    ):
        runs = []
        for _ in range(5):
            env = fresh_cache(project) if args[0] == "run" else project.env
            runs.append(cpu_child([*promptbench(), *args], env, cwd))
        wall = min(w for w, _ in runs)
        cpu = min(c for _, c in runs)
        what = f"whole command, best of 5; its CPU time {cpu:.2f} s"
        if target is None:
            figures.append(Figure(name, wall, "s", "(measured)", True, what))
        else:
            figures.append(Figure(name, wall, "s", f"< {target}", wall < target, what))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-case run")
    parser.add_argument(
        "--transports", action="store_true", help="only the overhead of each transport"
    )
    parser.add_argument("--rounds", type=int, default=2, help="throughput rounds (best kept)")
    parser.add_argument("--million", action="store_true", help="add a 1,000,000-case run")
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); 'million' implies --million",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="where the time goes per case (microseconds), in-process, then exit",
    )
    opts = parser.parse_args()
    if opts.profile:
        from bench.profile_run import main as profile_main

        return profile_main(opts.rounds)
    only = set(opts.only or SCENARIOS)
    if opts.only and "million" in only:
        opts.million = True
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

            if opts.transports:
                return report(transport_figures(project, server, opts.rounds))

            # -- throughput (and the memory of those runs)
            rate_20k = 0.0
            if only & {"throughput", "million"}:
                found, rate_20k = throughput_figures(
                    project, server, http_model(), 20_000, opts.rounds
                )
                figures += found

            fixed = 0.0
            if only & {"latency", "rate"}:
                fixed = one_case_wall(project, server, http_model())
                figures.append(
                    Figure(
                        "one case (the fixed cost of a run)",
                        fixed,
                        "s",
                        "(measured)",
                        True,
                        "whole command, cold cache, best of 3",
                    )
                )

            # -- latency-bound
            if "latency" in only:
                figures += latency_figures(project, server, http_model(), fixed)

            # -- cached re-runs (fill the cache untimed, then time a run with no HTTP)
            if "cached" in only:
                figures += cached_figures(project, server, http_model())

            # -- rate limits
            if "rate" in only:
                figures += rate_limit_figures(project, server, http_model(), fixed)

            # -- memory and cost as cases grow: cold cache, real HTTP
            sizes = []
            if "memory" in only:
                sizes += [10_000] + ([] if opts.quick else [100_000])
            if opts.million:
                sizes = sorted({10_000, 100_000, *sizes, 1_000_000})
            if sizes:
                figures += scale_figures(project, server, http_model(), sizes, rate_20k)

            # -- start-up
            if "startup" in only:
                figures += startup_figures(project, tmp, server, http_model())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return report(figures)


def report(figures: list[Figure]) -> int:
    """Print every figure beside its target; 1 when one is missed."""
    print(
        f"promptbench bench: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}, {platform.system()}; what each figure times is beside it"
    )
    width = max(len(f.name) for f in figures)
    for f in figures:
        mark = "ok  " if f.met else "MISS"
        note = f"  ({f.note})" if f.note else ""
        print(f"{mark} {f.name.ljust(width)}  {f.value:9.2f} {f.unit:8} target {f.target}{note}")
    return 0 if all(f.met for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
