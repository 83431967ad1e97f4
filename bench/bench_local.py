"""Local model throughput: promptbench's local provider against a bare llama_cpp loop.

The same 20 prompts (the quickstart dataset, its ``bare`` variant, whose answers
run to the token limit, so that generation dominates) are generated at
temperature 0, at most 64 tokens each, by both. Each measurement runs in a fresh
process, as a user's run would (two llama.cpp models in one process share CPU
threads and skew each other), and includes the model load; imports are not
timed for either. Alternating, best of ``--rounds``. Prints tokens/s for both and
their ratio (target: >= 0.95); beside them, from the same runs, the time before
the first generation (the fixed costs), the tokens/s in the generation window
(first generation's start to the last one's end: each case's own path, no fixed
cost), CPU seconds, and the load average, since on a shared machine llama.cpp's
thread team makes wall times say more about the load than about promptbench
(``--threads 1`` for both is the fair comparison there). Then the wall time of
the example suite as a user runs it (``promptbench run suites/quickstart.yaml
--no-cache``: the whole command in a child process, both variants, the suite's
own settings; no target, for information; ``--no-suite`` skips it).

One case at a time, not batched: llama-cpp-python's high-level API generates one
sequence per call (``Llama.create_completion(prompt: str | list[int])`` takes one
prompt; ``Llama.__init__`` sets ``n_seq_max`` above 1 only with ``embedding=True``;
``Llama.eval`` decodes on sequence 0 alone; checked in 0.3.36). Several sequences in
one ``llama_decode`` need the low-level API (a ``llama_batch`` with several seq ids,
one sampler chain per sequence, the chat template, stops, grammars and tool calls rebuilt outside
``create_chat_completion``); see bench/README.md.

    python bench/bench_local.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCAFFOLD = ROOT / "promptbench" / "scaffold"
MAX_TOKENS = 64


def messages_for(question: str, suite: dict) -> list[dict[str, str]]:
    # prompts/bare.j2 is "{{ question }}": the same text promptbench renders.
    assert (SCAFFOLD / suite["prompts"]["bare"]).read_text().strip() == "{{ question }}"
    return [{"role": "user", "content": question}]


def bare(cases: list[dict], suite: dict) -> tuple[int, float]:
    from promptbench.providers.local import bundled_gguf, limit_openmp_spinning

    # The same OpenMP spinning as the provider sets (or the caller's), so that the two differ
    # only by promptbench's own work; `--spin-count` compares settings.
    limit_openmp_spinning()
    import llama_cpp

    start = time.perf_counter()
    threads = suite["models"]["tiny"].get("n_threads") or os.cpu_count() or 1
    llm = llama_cpp.Llama(
        model_path=str(bundled_gguf()),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    tokens = 0
    for case in cases:
        r = llm.create_chat_completion(
            messages=messages_for(case["question"], suite), temperature=0, max_tokens=MAX_TOKENS
        )
        tokens += r["usage"]["completion_tokens"]
    elapsed = time.perf_counter() - start
    llm.close()
    return tokens, elapsed


def promptbench_run(workdir: Path) -> tuple[int, float]:
    from promptbench.api import run_suite

    start = time.perf_counter()
    result = run_suite(
        workdir / "suites" / "bench.yaml",
        variants=["bare"],
        use_cache=False,
        runs_dir=workdir / "runs",
    )
    elapsed = time.perf_counter() - start
    tokens = 0
    with (result.run_dir / "records.jsonl").open() as fh:
        for line in fh:
            tokens += json.loads(line)["usage"]["completion_tokens"]
    return tokens, elapsed


def example_suite_wall(workdir: Path) -> float:
    """Wall seconds of ``promptbench run`` on the scaffold's example suite, as a user runs it."""
    import subprocess

    env = {**os.environ, "PROMPTBENCH_CACHE": str(workdir / "cache.db"), "NO_COLOR": "1"}
    env["PROMPTBENCH_RUNS_DIR"] = str(workdir / "runs")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "promptbench", "run", "suites/quickstart.yaml", "--no-cache"],
        cwd=workdir,
        env=env,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the gate failed, a verdict all the same
        raise SystemExit(f"the example suite exited {done.returncode}: {done.stderr[-2000:]!r}")
    return wall


class Timed:
    """Wraps ``Llama.create_chat_completion`` the same way in both children.

    It notes when the first generation started and the last one ended, so that the
    window between them (every case's own path: the hop to the generation thread,
    the conversions, the engine's scoring and records) is told apart from the fixed
    costs before it (promptbench's loading of the suite, the model load in both).
    """

    first = 0.0
    last = 0.0

    @classmethod
    def install(cls) -> None:
        import llama_cpp

        real = llama_cpp.Llama.create_chat_completion

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            cls.first = cls.first or time.perf_counter()
            try:
                return real(self, *args, **kwargs)
            finally:
                cls.last = time.perf_counter()

        llama_cpp.Llama.create_chat_completion = timed  # type: ignore[method-assign]


@dataclass
class Measured:
    """One child's run: tokens, wall seconds (model load included), the fixed part, CPU."""

    tokens: int
    seconds: float
    before_first: float  # from the clock's start to the first generation
    window: float  # the first generation's start to the last one's end
    cpu: float  # the child's user + system CPU seconds over the timed part

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds

    @property
    def window_rate(self) -> float:
        return self.tokens / self.window


def _isolated(which: str, workdir: Path) -> Measured:
    """Run one measurement in a fresh interpreter."""
    import subprocess

    done = subprocess.run(
        [sys.executable, __file__, "--one", which, str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return Measured(**json.loads(done.stdout.splitlines()[-1]))


def _one(which: str, workdir: Path) -> None:
    suite = yaml.safe_load((workdir / "suites" / "bench.yaml").read_text())
    cases = [json.loads(line) for line in (SCAFFOLD / "data" / "quickstart.jsonl").open()]
    import llama_cpp  # noqa: F401  (imported before the clock starts, for both)

    import promptbench.api  # noqa: F401

    Timed.install()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    tokens, seconds = bare(cases, suite) if which == "bare" else promptbench_run(workdir)
    used = resource.getrusage(resource.RUSAGE_SELF)
    measured = Measured(
        tokens=tokens,
        seconds=seconds,
        before_first=Timed.first - start,
        window=Timed.last - Timed.first,
        cpu=used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
    )
    print(json.dumps(asdict(measured)))


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        _one(sys.argv[2], Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-suite", action="store_true", help="skip the example suite's run")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="llama.cpp threads for both (default: every CPU, the provider's default); 1 on "
        "a shared machine, where a team of threads waits for any one that is preempted",
    )
    parser.add_argument(
        "--spin-count",
        type=int,
        help="GOMP_SPINCOUNT for both children (default: the provider's, 3000, unless the "
        "environment sets OMP_WAIT_POLICY or GOMP_SPINCOUNT; GNU OpenMP's own is 300000)",
    )
    args = parser.parse_args()
    if args.spin_count is not None:
        os.environ["GOMP_SPINCOUNT"] = str(args.spin_count)
    from promptbench.providers.local import SPIN_COUNT

    setting = os.environ.get("GOMP_SPINCOUNT", f"{SPIN_COUNT} (the provider's default)")
    print(f"GOMP_SPINCOUNT for both: {setting}")

    suite = yaml.safe_load((SCAFFOLD / "suites" / "quickstart.yaml").read_text())
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shutil.copytree(SCAFFOLD, workdir, dirs_exist_ok=True)
        suite["models"] = {
            "tiny": {"provider": "local", "temperature": 0, "max_tokens": MAX_TOKENS}
        }
        if args.threads:
            suite["models"]["tiny"]["n_threads"] = args.threads
        (workdir / "suites" / "bench.yaml").write_text(yaml.safe_dump(suite))
        runs: dict[str, list[Measured]] = {"bare": [], "promptbench": []}
        for _ in range(args.rounds):  # alternating, so that a busy spell hits both
            for which, measured in runs.items():
                measured.append(_isolated(which, workdir))
        suite_wall = example_suite_wall(workdir) if not args.no_suite else None
    load_after = os.getloadavg()[0]
    bare_runs, pb_runs = runs["bare"], runs["promptbench"]
    best = {k: max(v, key=lambda m: m.rate) for k, v in runs.items()}
    ratio = best["promptbench"].rate / best["bare"].rate
    window_ratio = max(m.window_rate for m in pb_runs) / max(m.window_rate for m in bare_runs)
    cpu_ratio = min(m.cpu / m.tokens for m in bare_runs) / min(m.cpu / m.tokens for m in pb_runs)
    print(
        f"{'best of ' + str(args.rounds):24}{'tokens':>8}{'tokens/s':>11}{'before 1st':>12}"
        f"{'window tok/s':>14}{'CPU s':>8}"
    )
    for name, which in (("bare llama_cpp loop", "bare"), ("promptbench local", "promptbench")):
        m = best[which]
        w = max(x.window_rate for x in runs[which])
        print(
            f"{name:24}{m.tokens:>8}{m.rate:>11.1f}{m.before_first:>11.2f}s{w:>14.1f}{m.cpu:>8.1f}"
        )
    print(
        f"ratio promptbench/bare, tokens/s with the model load: {ratio:.3f}  "
        f"(target >= 0.95: {'met' if ratio >= 0.95 else 'MISSED'})"
    )
    print(
        f"ratio in the generation window (first generation's start to the last one's end: "
        f"each case's own path, no fixed cost): {window_ratio:.3f}; "
        f"tokens per CPU second: {cpu_ratio:.3f} (for information)"
    )
    print(
        f"20 prompts x {args.rounds} rounds, alternating, model load included, "
        f"{args.threads or os.cpu_count()} llama.cpp threads; 1-minute load average "
        f"{load_before:.1f} before, "
        f"{load_after:.1f} after (above {os.cpu_count()}: measured under load, llama.cpp's "
        "thread team waits for a preempted thread, so read the ratios, not the tokens/s)"
    )
    if suite_wall is not None:
        print(
            f"the example suite (promptbench run suites/quickstart.yaml --no-cache: 2 variants "
            f"x 20 cases, max_tokens 24; whole command, cold cache): {suite_wall:.1f} s wall"
        )
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
