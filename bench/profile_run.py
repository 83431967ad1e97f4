"""Where the time of ``promptbench run`` goes, per case, in microseconds.

``python bench/run_bench.py --profile`` (or ``python bench/profile_run.py [--cases N]``)
runs one suite in-process (``promptbench.api.run_suite``: no interpreter start, imports
done before the clock starts) against the loopback server (another process, instant
answers), openai provider on its default transport for a ``base_url`` (aiohttp), -j 32,
on a COLD cache (a new, empty file), and prints the CPU time of the event loop's thread
per case, split by stage:

* load: the suite and its dataset, read and validated (``load_suite``);
* render check: every selected case rendered before the first call (``check_render``);
* render: the variant's messages from the case (``Variant.render``) and the
  conversation set-up (``Suite.conversation``);
* cache: the key (``KeyMaker.key``, ``cache_key``), the lookup and queueing the answer
  for the cache's writer thread (``RunCache.get`` / ``put``);
* request: the HTTP client's own work on the loop's thread (``AiohttpTransport.create``
  and the provider around it, the request body's JSON included), excluding what the
  other stages below take inside it;
* parse: the answer's JSON and the Completion built from it;
* call: the runner's call path around the request (budget, rate gate, retries:
  ``Caller.call``);
* score: the metrics (``score_all``), their per-case parameters included;
* record: the Record's JSON and writing it (``RunWriter.write``);
* observers: the run summary and other observers (``on_record``);
* engine: the rest of the runner's per-case work (``Runner._one`` / ``_worker``);
* event loop and the rest: the thread's CPU not inside any stage above (asyncio's
  scheduling, aiohttp's protocol callbacks when bytes arrive, garbage collection).

Each stage is timed with the thread's CPU clock (``time.thread_time``), so time the
machine gave to other processes is not counted; a coroutine stage is timed step by step
(only while it runs, not while it waits), and nested stages are exclusive (the request's
time excludes the parse inside it). The timers are installed by this script around the
functions named above; ``promptbench`` itself carries no timing code. The timers cost
about a microsecond each, counted in the stage that called them. The cache writer's own
thread and the loopback server are not on the loop's thread: the writer's CPU is printed
apart, and the wall time per case (which includes waiting for the server) beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers.loopback import LoopbackServer  # noqa: E402

STAGES = (
    "load",
    "render check",
    "render",
    "cache",
    "request",
    "parse",
    "call",
    "score",
    "record",
    "observers",
    "engine",
)


class StageClock:
    """Exclusive CPU time per stage on one thread; nested stages are subtracted."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(STAGES, 0.0)
        self._stack: list[list[Any]] = []  # [stage, start, time of nested stages]
        self.thread = threading.get_ident()

    @contextlib.contextmanager
    def span(self, stage: str, *, whole: bool = False) -> Iterator[None]:
        """Time ``stage``; ``whole``: the stages inside it are counted as part of it."""
        if threading.get_ident() != self.thread or (self._stack and self._stack[-1][3]):
            yield  # another thread (not the loop's time), or inside a stage counted whole
            return
        frame: list[Any] = [stage, time.thread_time(), 0.0, whole]
        self._stack.append(frame)
        try:
            yield
        finally:
            self._stack.pop()
            spent = time.thread_time() - frame[1]
            self.totals[stage] += spent - frame[2]
            if self._stack:
                self._stack[-1][2] += spent

    def sync(
        self, stage: str, fn: Callable[..., Any], *, whole: bool = False
    ) -> Callable[..., Any]:
        """``fn`` with its calls timed as ``stage``."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.span(stage, whole=whole):
                return fn(*args, **kwargs)

        return timed

    def coro(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The async ``fn`` with each step of its coroutine timed as ``stage``."""

        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            return await _Steps(self, stage, fn(*args, **kwargs))

        return timed


class _Steps:
    """Awaits a coroutine, timing each step it runs (not the time it is suspended)."""

    def __init__(self, clock: StageClock, stage: str, coro: Any) -> None:
        self.clock, self.stage, self.inner = clock, stage, coro

    def __await__(self) -> Generator[Any, Any, Any]:
        it = self.inner.__await__()
        value: Any = None
        error: BaseException | None = None
        while True:
            with self.clock.span(self.stage):
                try:
                    yielded = it.throw(error) if error is not None else it.send(value)
                except StopIteration as stop:
                    return stop.value
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # cancellation: pass it in
                value, error = None, exc


def install(clock: StageClock) -> None:
    """Put the timers around the stages (in this process only)."""
    from promptbench import api
    from promptbench import cache as cache_mod
    from promptbench.providers import openai as openai_mod
    from promptbench.providers import openai_aiohttp, openai_http
    from promptbench.runner import calls, completion, engine, store
    from promptbench.stats import summary
    from promptbench.suite import model as suite_model

    api.load_suite = clock.sync("load", api.load_suite)
    suite_model.Suite.check_render = clock.sync(  # type: ignore[method-assign]
        "render check", suite_model.Suite.check_render, whole=True
    )
    suite_model.Variant.render = clock.sync("render", suite_model.Variant.render)  # type: ignore[method-assign]
    suite_model.Suite.conversation = clock.sync("render", suite_model.Suite.conversation)  # type: ignore[method-assign]
    completion.cache_key = clock.sync("cache", cache_mod.cache_key)
    cache_mod.KeyMaker.key = clock.sync("cache", cache_mod.KeyMaker.key)  # type: ignore[method-assign]
    cache_mod.RunCache.get = clock.sync("cache", cache_mod.RunCache.get)  # type: ignore[method-assign]
    cache_mod.RunCache.put = clock.sync("cache", cache_mod.RunCache.put)  # type: ignore[method-assign]
    for cls in (openai_aiohttp.AiohttpTransport,):
        cls.create = clock.coro("request", cls.create)  # type: ignore[method-assign]
    openai_mod.OpenAIProvider.complete = clock.coro("request", openai_mod.OpenAIProvider.complete)  # type: ignore[method-assign]
    timed_parse = clock.sync("parse", openai_http.completion_from_json)
    openai_aiohttp.completion_from_json = timed_parse
    openai_aiohttp.decode_body = clock.sync("parse", openai_aiohttp.decode_body)
    calls.Caller.call = clock.coro("call", calls.Caller.call)  # type: ignore[method-assign]
    engine.score_all = clock.coro("score", engine.score_all)
    store.RunWriter.write = clock.sync("record", store.RunWriter.write)  # type: ignore[method-assign]
    summary.Summary.on_record = clock.sync("observers", summary.Summary.on_record)  # type: ignore[method-assign]
    engine.Runner._one = clock.coro("engine", engine.Runner._one)  # type: ignore[method-assign]
    engine.Runner._worker = clock.coro("engine", engine.Runner._worker)  # type: ignore[method-assign]


def write_project(root: Path, n: int, url: str) -> Path:
    """A dataset of ``n`` cases and a suite over it; returns the suite's path."""
    data = root / "cases.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            row = {"id": f"c{i}", "q": f"question {i}", "expected": f"Q: question {i}"}
            fh.write(json.dumps(row) + "\n")
    suite = {
        "name": "profile",
        "prompts": {"plain": "Q: {{ q }}"},
        "models": {"m": {"provider": "openai", "base_url": url, "model": "bench"}},
        "cases": "cases.jsonl",
        "metrics": ["exact"],
    }
    path = root / "profile.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


def profile(n: int) -> dict[str, float]:
    """Run ``n`` cases once with the timers; the microseconds per case of each part."""
    from promptbench.api import run_suite

    clock = StageClock()
    install(clock)
    with (
        tempfile.TemporaryDirectory(prefix="promptbench-profile-") as tmp,
        LoopbackServer.start() as server,
    ):
        root = Path(tmp)
        suite = write_project(root, n, server.url)
        os.environ["PROMPTBENCH_RUNS_DIR"] = str(root / "runs")
        wall0, cpu0, proc0 = time.perf_counter(), time.thread_time(), time.process_time()
        result = run_suite(suite, concurrency=32, cache_path=root / "cold.db")
        wall = time.perf_counter() - wall0
        cpu = time.thread_time() - cpu0
        proc = time.process_time() - proc0
        if result.summary.records != n or server.stats()["requests"] != n:
            raise SystemExit(f"profile: expected {n} records and requests")
    per = {stage: clock.totals[stage] / n * 1e6 for stage in STAGES}
    per["event loop and the rest"] = cpu / n * 1e6 - sum(per.values())
    per["= the loop's thread, CPU"] = cpu / n * 1e6
    per["other threads (cache writer), CPU"] = max(0.0, proc - cpu) / n * 1e6
    per["wall time (the loop waits for the server too)"] = wall / n * 1e6
    return per


def main(rounds: int = 1, cases: int = 20_000) -> int:
    """Print the profile: microseconds per case by stage (the best of ``rounds`` runs)."""
    best: dict[str, float] | None = None
    for _ in range(max(1, rounds)):
        found = profile(cases)
        key = "= the loop's thread, CPU"
        if best is None or found[key] < best[key]:
            best = found
    assert best is not None
    from promptbench.runner.loop import loop_name

    print(
        f"where the time goes, {cases:,} cases, in-process run_suite, openai/aiohttp, instant "
        f"loopback server, -j 32, cold cache, {loop_name()} event loop; CPU of the loop's "
        f"thread per case (thread_time), best of {max(1, rounds)}"
    )
    width = max(len(k) for k in best)
    loop_cpu = best["= the loop's thread, CPU"]
    for name, us in best.items():
        share = (
            f"{100 * us / loop_cpu:5.1f} %" if not name.startswith(("=", "other", "wall")) else ""
        )
        print(f"  {name.ljust(width)}  {us:8.1f} us/case  {share}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=1)
    opts = parser.parse_args()
    sys.exit(main(opts.rounds, opts.cases))
