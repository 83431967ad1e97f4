"""Local model throughput: promptbench's local provider against a bare llama_cpp loop.

The same 20 prompts (the quickstart dataset, its ``bare`` variant, whose answers
run to the token limit, so that generation dominates) are generated at
temperature 0, at most 64 tokens each, by both. Each measurement runs in a fresh
process, as a user's run would (two llama.cpp models in one process share CPU
threads and skew each other), and includes the model load; imports are not
timed for either. Alternating, best of ``--rounds``. Prints tokens/s for both and
their ratio (target: >= 0.95), then the wall time of the example suite as a user runs
it (``promptbench run suites/quickstart.yaml --no-cache``: the whole command in a child
process, both variants, the suite's own settings; no target, for information).

One case at a time, not batched: llama-cpp-python's high-level API generates one
sequence per call (``Llama.create_completion(prompt: str | list[int])`` takes one
prompt; ``Llama.__init__`` sets ``n_seq_max`` above 1 only with ``embedding=True``;
``Llama.eval`` decodes on sequence 0 alone). Several sequences in one ``llama_decode``
need the low-level API (a ``llama_batch`` with several seq ids, one sampler chain per
sequence, the chat template, stops, grammars and tool calls rebuilt outside
``create_chat_completion``); see bench/README.md.

    python bench/bench_local.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCAFFOLD = ROOT / "promptbench" / "scaffold"
MAX_TOKENS = 64


def messages_for(question: str, suite: dict) -> list[dict[str, str]]:
    # prompts/bare.j2 is "{{ question }}": the same text promptbench renders.
    assert (SCAFFOLD / suite["prompts"]["bare"]).read_text().strip() == "{{ question }}"
    return [{"role": "user", "content": question}]


def bare(cases: list[dict], suite: dict) -> tuple[int, float]:
    import llama_cpp

    from promptbench.providers.local import bundled_gguf

    start = time.perf_counter()
    threads = os.cpu_count() or 1
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


def _isolated(which: str, workdir: Path) -> tuple[int, float]:
    """Run one measurement in a fresh interpreter; return (tokens, seconds)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, __file__, "--one", which, str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    tokens, seconds = done.stdout.split()[-2:]
    return int(tokens), float(seconds)


def _one(which: str, workdir: Path) -> None:
    suite = yaml.safe_load((workdir / "suites" / "bench.yaml").read_text())
    cases = [json.loads(line) for line in (SCAFFOLD / "data" / "quickstart.jsonl").open()]
    import llama_cpp  # noqa: F401  (imported before the clock starts, for both)

    import promptbench.api  # noqa: F401

    tokens, seconds = bare(cases, suite) if which == "bare" else promptbench_run(workdir)
    print(tokens, seconds)


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        _one(sys.argv[2], Path(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    suite = yaml.safe_load((SCAFFOLD / "suites" / "quickstart.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shutil.copytree(SCAFFOLD, workdir, dirs_exist_ok=True)
        suite["models"] = {
            "tiny": {"provider": "local", "temperature": 0, "max_tokens": MAX_TOKENS}
        }
        (workdir / "suites" / "bench.yaml").write_text(yaml.safe_dump(suite))
        best_bare = best_pb = 0.0
        tokens_bare = tokens_pb = 0
        for _ in range(args.rounds):
            tokens_bare, t = _isolated("bare", workdir)
            best_bare = max(best_bare, tokens_bare / t)
            tokens_pb, t = _isolated("promptbench", workdir)
            best_pb = max(best_pb, tokens_pb / t)
        suite_wall = example_suite_wall(workdir)
    ratio = best_pb / best_bare
    print(f"{'':24}{'tokens':>8}{'tokens/s':>11}")
    print(f"{'bare llama_cpp loop':24}{tokens_bare:>8}{best_bare:>11.1f}")
    print(f"{'promptbench local':24}{tokens_pb:>8}{best_pb:>11.1f}")
    print(
        f"ratio promptbench/bare: {ratio:.3f}  "
        f"(target >= 0.95: {'met' if ratio >= 0.95 else 'MISSED'})"
    )
    print(f"20 prompts x {args.rounds} rounds, model load included, {os.cpu_count()} CPU threads")
    print(
        f"the example suite (promptbench run suites/quickstart.yaml --no-cache: 2 variants x "
        f"20 cases, max_tokens 24; whole command, cold cache): {suite_wall:.1f} s wall"
    )
    return 0 if ratio >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
