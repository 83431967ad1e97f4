"""Does a probe's verdict mean what it says? Simulation against known truths.

One command::

    python bench/bench_probes.py [--sims 2000] [--runs 30] [--cases 400]

(a) The statistics alone, ``--sims`` times each: a model answers each case right with
    probability 0.80, original and twin independently given the case (no correlation:
    the hardest setting for a paired test). Insensitive: the twin is also right with
    0.80; the probe must say "sensitive" at most 5% of the time at alpha 0.05.
    Sensitive: the twin drops to 0.70 (10 points); on 400 cases it must say so at least
    80% of the time. Then the same with 3 repeats per case (each case its own pass
    probability, Beta with mean 0.80 and concentration 2, shared by its repeats and by
    its twin), judged by the sign-flip test on per-case means (half as many
    simulations: it is the slower test).
(b) End to end, ``--runs`` times each: real runs of a suite with a tautology probe
    (" and true is true", StressTest) against the loopback OpenAI-compatible server,
    scripted to answer right with probability 0.80, and, when sensitive, 0.70 for the
    requests that carry the tautology. Every call goes over HTTP through the runner;
    the verdict comes from the run's records, as ``promptbench run`` reports it.

Each figure is printed beside its target. (a) takes a few minutes; (b) a few seconds a run
on 2 cores (more when they are busy).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptbench.runner.store import iter_records  # noqa: E402
from promptbench.stats.probes import ProbePair, probe_report, probe_result  # noqa: E402
from tests.helpers.loopback import LoopbackServer  # noqa: E402

ALPHA = 0.05
P_ORIGINAL = 0.80
DROP = 0.10
KAPPA = 2.0
# The verdict needs p against 0.05 only: 2,000 sign flips put it within ±0.005 of exact.
PERMUTATIONS = 2000


def simulated_pairs(rng: random.Random, n: int, p_twin: float, repeats: int) -> list[ProbePair]:
    out = []
    for i in range(n):
        p_o, p_t = P_ORIGINAL, p_twin
        if repeats > 1:  # a case's own difficulty, shared by its repeats and its twin
            p_o = rng.betavariate(KAPPA * P_ORIGINAL, KAPPA * (1 - P_ORIGINAL))
            p_t = max(0.0, p_o - (P_ORIGINAL - p_twin))
        for r in range(repeats):
            o = 1.0 if rng.random() < p_o else 0.0
            t = 1.0 if rng.random() < p_t else 0.0
            out.append(ProbePair(f"c{i}", f"c{i}~p", r, o, t))
    return out


def sensitive_rate(sims: int, n: int, p_twin: float, repeats: int, seed: int) -> float:
    hits = 0
    for s in range(sims):
        rng = random.Random(f"{seed}/{s}")
        pairs = simulated_pairs(rng, n, p_twin, repeats)
        r = probe_result(
            "p",
            "typos",
            "v",
            "m",
            pairs,
            binary=True,
            intervals=False,
            groups=False,
            permutations=PERMUTATIONS,
        )
        hits += r.verdict == "sensitive"
    return hits / sims


def line(label: str, value: float, target: str, ok: bool) -> None:
    print(f"  {label:<64} {value:6.1%}   target {target:<7} {'ok' if ok else 'MISSED'}")


def part_a(sims: int, n: int) -> bool:
    print(f"(a) statistics, {sims:,} simulations each, {n} cases, alpha {ALPHA}")
    ok = True
    for repeats in (1, 3):
        tag = "1 repeat, McNemar" if repeats == 1 else f"{repeats} repeats, sign-flip by case"
        k = sims if repeats == 1 else max(1, sims // 2)  # the permutation test is slower
        fa = sensitive_rate(k, n, P_ORIGINAL, repeats, seed=1 + repeats)
        power = sensitive_rate(k, n, P_ORIGINAL - DROP, repeats, seed=100 + repeats)
        line(f"insensitive model called sensitive ({tag})", fa, "<= 5%", fa <= 0.05)
        line(f"10-point drop called sensitive ({tag})", power, ">= 80%", power >= 0.80)
        ok = ok and fa <= 0.05 and power >= 0.80
    return ok


def write_project(root: Path, url: str, n: int) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    with (root / "data" / "cases.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"c{i}", "question": f"Is claim {i} true?"}) + "\n")
    suite = {
        "name": "bench-probes",
        "prompts": {"plain": "{{ question }}"},
        "models": {
            "loop": {"provider": "openai", "base_url": url, "model": "loopback", "max_retries": 0}
        },
        "cases": "../data/cases.jsonl",
        "metrics": [{"exact": "yes"}],
        "concurrency": 32,
        "probes": {"taut": {"kind": "tautology", "target": {"vars": ["question"]}}},
    }
    path = root / "suites" / "suite.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def part_b(runs: int, n: int) -> bool:
    from promptbench.api import run_suite

    print(f"(b) end to end against the loopback server, {runs} runs each, {n} cases")
    base = {"correct": "yes", "wrong": "no"}
    scenarios = {
        "insensitive": [{"p_correct": P_ORIGINAL, **base}],
        "sensitive": [
            {"match": "and true is true", "p_correct": P_ORIGINAL - DROP, **base},
            {"p_correct": P_ORIGINAL, **base},
        ],
    }
    rates = {}
    started = time.perf_counter()
    with LoopbackServer.start() as server, tempfile.TemporaryDirectory() as tmp:
        suite = write_project(Path(tmp), server.url, n)
        for name, rules in scenarios.items():
            hits = 0
            for i in range(runs):
                server.configure(rules=rules, seed=1000 * (name == "sensitive") + i)
                result = run_suite(
                    suite, use_cache=False, resume=False, runs_dir=Path(tmp) / "runs"
                )
                report = probe_report(iter_records(result.run_dir), resamples=200)
                verdict = report.results[0].verdict if report.results else "no result"
                hits += verdict == "sensitive"
            rates[name] = hits / runs
    fa, power = rates["insensitive"], rates["sensitive"]
    line("insensitive loopback model called sensitive", fa, "<= 5%", fa <= 0.05)
    line(
        "loopback model 10 points worse with the tautology: sensitive",
        power,
        ">= 80%",
        power >= 0.80,
    )
    print(
        f"  ({2 * runs} runs of {2 * n} calls in {time.perf_counter() - started:.0f} s; with "
        f"{runs} runs a rate is within about ±{100 * 1.96 * (0.16 / runs) ** 0.5:.0f} points)"
    )
    return fa <= 0.05 and power >= 0.80


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--skip-e2e", action="store_true", help="only part (a)")
    parser.add_argument("--skip-stats", action="store_true", help="only part (b)")
    args = parser.parse_args()
    ok = True if args.skip_stats else part_a(args.sims, args.cases)
    if not args.skip_e2e:
        ok = part_b(args.runs, args.cases) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
