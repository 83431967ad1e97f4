"""Validity of ``promptbench diff``'s statistics, by simulation against known truths.

One command::

    python bench/bench_stats.py [--sims 1000] [--workers 2]

A simulated model answers each case correctly with a known probability, A and B
independently given the case: no correlation between them, the hardest setting for a
paired test (real variants agree more, which only helps). With repeats, each case
also gets its own pass probability (Beta with the stated mean and concentration
kappa=2, so a third of the variance is between cases): repeats of a case share it,
which is what makes clustering by case matter. With one repeat the Beta draw changes
nothing (each outcome is still Bernoulli with the stated mean), so it is skipped.

Figures, each printed beside its target:

(a) A/A false alarms (0.80 vs 0.80, 400 paired cases, alpha 0.05): target <= 6%.
(b) detection of a real drop 0.80 -> 0.70 on 400 paired cases: target >= 85%.
(c) coverage of the 95% bootstrap interval (of the true difference) in (a) and (b):
    target >= 93%.
(d) (a)-(c) with 3 repeats per case, clustered; beside them the false-alarm rate of the
    naive analysis that takes each repeat as its own case, to show why we do not.
(e) the power curve: detection against sample size for 5-, 10- and 20-point drops from
    0.80, beside the 80%-power sample size ``cases_needed`` predicts and the detection
    simulated at exactly that size (target: about 80%).
(f) the choice of interval: coverage of percentile and BCa intervals from the same
    bootstrap replicates, at small and large samples, binary and skewed continuous.
(g) the sequential regression test (``run --baseline --sequential``,
    promptbench/stats/sequential.py), peeking after every case: false alarms of A/A
    0.80 vs 0.80 over up to 2,000 cases at alpha 0.05: target <= 5%.
(h) the sequential test against a true 10-point drop (0.80 -> 0.70), stopping at the
    first settled verdict or when the N cases run out: its power (a "regression"
    verdict), the cases it used on average, and the cases the fixed design (one test
    after a fixed number of cases, one-sided at the same alpha: Connor's formula, as in
    (e)) needs for that same power. Target: on average <= 60% of the fixed design's
    cases at >= 95% power; the row below 95% shows where the saving shrinks.

``--only sequential`` runs (g) and (h) alone.

Every comparison in (a)-(d) goes through ``compare()``, with 1,000 bootstrap resamples
instead of the product's 2,000 (coverage of a 95% percentile interval is settled at
1,000; 2,000 only steadies the printed endpoints) and the default 10,000 sign flips when
the permutation test is Monte Carlo. The power curve (e) needs only the verdict, which
does not use the interval, so it calls the test compare() uses (exact McNemar)
directly. (f) uses 1,000 resamples too. Simulation i of a scenario has its own seed, so
the figures do not depend on the number of workers. About a minute on 2 idle cores.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptbench.stats.compare import PairedMetric, compare  # noqa: E402
from promptbench.stats.power import cases_needed  # noqa: E402
from promptbench.stats.resample import (  # noqa: E402
    bca_interval,
    bootstrap_means,
    percentile_interval,
)
from promptbench.stats.sequential import SequentialTest  # noqa: E402
from promptbench.stats.significance import mcnemar_exact  # noqa: E402

ALPHA = 0.05
RESAMPLES = 1000
KAPPA = 2.0  # Beta concentration of per-case pass probabilities when repeated


def case_values(rng: random.Random, p: float, repeats: int) -> list[float]:
    if repeats > 1:
        p = rng.betavariate(KAPPA * p, KAPPA * (1.0 - p))
    return [1.0 if rng.random() < p else 0.0 for _ in range(repeats)]


def simulate(rng: random.Random, n: int, pa: float, pb: float, repeats: int) -> PairedMetric:
    a = {f"c{i}": case_values(rng, pa, repeats) for i in range(n)}
    b = {f"c{i}": case_values(rng, pb, repeats) for i in range(n)}
    return PairedMetric("exact", "binary", a, b)


def naive(metric: PairedMetric) -> PairedMetric:
    """The wrong analysis: every repeat taken as a case of its own."""
    a = {f"{c}/{j}": [v] for c, vs in metric.a.items() for j, v in enumerate(vs)}
    b = {f"{c}/{j}": [v] for c, vs in metric.b.items() for j, v in enumerate(vs)}
    return PairedMetric(metric.name, metric.kind, a, b)


# Workers: top-level functions, one chunk of simulation indices per call.


def validity_chunk(
    job: tuple[str, int, float, float, int, int, int],
) -> list[tuple[str, bool, str | None, float | None]]:
    name, n, pa, pb, repeats, start, stop = job
    out: list[tuple[str, bool, str | None, float | None]] = []
    for i in range(start, stop):
        rng = random.Random(f"{name}/{i}")
        metric = simulate(rng, n, pa, pb, repeats)
        r = compare(metric, alpha=ALPHA, seed=i, n_resamples=RESAMPLES)
        assert r.ci_low is not None and r.ci_high is not None
        covers = r.ci_low <= pb - pa + 1e-12 and pb - pa - 1e-12 <= r.ci_high
        naive_verdict = None
        if repeats > 1 and pa == pb:  # the contrast is about false alarms
            naive_verdict = compare(
                naive(metric), alpha=ALPHA, seed=i, n_resamples=RESAMPLES
            ).verdict
        out.append((r.verdict, covers, naive_verdict, r.mde))
    return out


def power_chunk(job: tuple[int, float, int, int]) -> int:
    n, delta, start, stop = job
    detected = 0
    for i in range(start, stop):
        rng = random.Random(f"power/{n}/{delta}/{i}")
        b = c = 0  # A passes and B fails; A fails and B passes
        for _ in range(n):
            a_pass, b_pass = rng.random() < 0.80, rng.random() < 0.80 - delta
            b += a_pass and not b_pass
            c += b_pass and not a_pass
        sig = mcnemar_exact(b, c)
        detected += sig.p_value <= ALPHA and sig.direction < 0
    return detected


def skewed_score(rng: random.Random, mean: float) -> float:
    """A continuous score in [0, 1] with a long tail: most cases near the top, some failing."""
    return rng.betavariate(mean * 1.0, (1.0 - mean) * 1.0)


METHOD_CASES = {
    "binary 0.80 -> 0.70": ("binary", 0.80, 0.70),
    "binary 0.95 -> 0.90 (rare failures)": ("binary", 0.95, 0.90),
    "continuous, skewed 0.80 -> 0.70": ("continuous", 0.80, 0.70),
}


def method_chunk(job: tuple[str, int, int, int]) -> list[tuple[bool, bool]]:
    label, n, start, stop = job
    kind, pa, pb = METHOD_CASES[label]
    truth = pb - pa
    out = []
    for i in range(start, stop):
        rng = random.Random(f"method/{label}/{n}/{i}")
        if kind == "binary":
            values = [float((rng.random() < pb) - (rng.random() < pa)) for _ in range(n)]
        else:
            values = [skewed_score(rng, pb) - skewed_score(rng, pa) for _ in range(n)]
        if all(v == values[0] for v in values):
            lo_p = hi_p = lo_b = hi_b = values[0]
        else:
            reps = bootstrap_means(values, RESAMPLES, random.Random(i))
            lo_p, hi_p = percentile_interval(reps, 0.95)
            lo_b, hi_b = bca_interval(values, reps, 0.95)
        tol = 1e-12
        out.append((lo_p - tol <= truth <= hi_p + tol, lo_b - tol <= truth <= hi_b + tol))
    return out


def sequential_chunk(job: tuple[float, int, int, int]) -> list[tuple[str | None, int]]:
    """Sequential runs: (the verdict, or None when the cases ran out; the cases used)."""
    pb, n_max, start, stop = job
    out: list[tuple[str | None, int]] = []
    for i in range(start, stop):
        rng = random.Random(f"sequential/{pb}/{n_max}/{i}")
        test = SequentialTest(alpha=ALPHA)
        verdict = None
        for _ in range(n_max):
            d = float(rng.random() < pb) - float(rng.random() < 0.80)
            verdict = test.update(d)
            if verdict is not None:
                break
        out.append((verdict, test.n))
    return out


def fixed_design_cases(delta: float, pa: float, pb: float, power: float) -> int:
    """Paired cases a one-sided McNemar-type test at ALPHA needs for ``power`` (Connor 1987)."""
    from statistics import NormalDist

    z = NormalDist()
    pd = pa * (1 - pb) + pb * (1 - pa)  # discordant pairs, A and B independent given the case
    root = (z.inv_cdf(1 - ALPHA) * pd**0.5 + z.inv_cdf(power) * (pd - delta**2) ** 0.5) / delta
    return int(root**2 + 0.999)


def run_sequential(pool_map: MapFn, n_sims: int) -> bool:
    ok = True
    section = time.perf_counter()
    n_aa = 2000
    print(f"\n(g) sequential test, A/A 0.80 vs 0.80, peeking after every case up to {n_aa:,}")
    jobs = [(0.80, n_aa, s, e) for s, e in chunks(n_sims, 25)]
    rows = [r for chunk in pool_map(sequential_chunk, jobs) for r in chunk]
    alarms = sum(v == "regression" for v, _ in rows) / len(rows)
    line(f"false alarms at any of the {n_aa:,} looks", alarms, "<= 5%", alarms <= 0.05)
    ok = ok and alarms <= 0.05
    print(f"  ({time.perf_counter() - section:.0f} s)")

    section = time.perf_counter()
    print(f"\n(h) sequential test against a 10-point drop 0.80 -> 0.70, {n_sims} simulations each")
    print("  cases available  power   mean cases used  fixed design at that power  ratio")
    for n_max in (600, 800, 1200):
        jobs = [(0.70, n_max, s, e) for s, e in chunks(n_sims, 25)]
        rows = [r for chunk in pool_map(sequential_chunk, jobs) for r in chunk]
        power = sum(v == "regression" for v, _ in rows) / len(rows)
        wrong = sum(v == "no regression" for v, _ in rows)
        used = sum(n for _, n in rows) / len(rows)
        fixed = fixed_design_cases(0.10, 0.80, 0.70, min(power, 0.999))
        ratio = used / fixed
        judged = power >= 0.95
        status = ("met" if ratio <= 0.60 else "NOT MET") if judged else "(power < 95%)"
        if judged:
            ok = ok and ratio <= 0.60
        print(
            f"  {n_max:<17,}{power:<8.1%}{used:<17.0f}{fixed:<28,}{ratio:.0%} "
            f"(target <= 60%) {status}" + (f"; {wrong} wrong verdicts" if wrong else "")
        )
    print(f"  ({time.perf_counter() - section:.0f} s)")
    return ok


def chunks(n_sims: int, size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, n_sims)) for s in range(0, n_sims, size)]


def line(label: str, value: float, target: str, met: bool | None) -> None:
    status = "" if met is None else ("met" if met else "NOT MET")
    print(f"  {label:<52} {value:6.1%}   {target:<14} {status}")


# pool.map, or the builtin equivalent with one worker
MapFn = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


def run(pool_map: MapFn, n_sims: int) -> bool:
    ok = True
    n = 400
    for tag, repeats in (("(a)-(c)", 1), ("(d)", 3)):
        section = time.perf_counter()
        results = {}
        for name, pb in (("aa", 0.80), ("drop", 0.70)):
            key = f"{name}/r{repeats}"
            jobs = [(key, n, 0.80, pb, repeats, s, e) for s, e in chunks(n_sims, 25)]
            results[name] = [row for chunk in pool_map(validity_chunk, jobs) for row in chunk]
        aa, drop = results["aa"], results["drop"]
        print(
            f"\n{tag} {n} paired cases, {repeats} repeat(s) per case, {n_sims} simulations "
            f"per scenario ({time.perf_counter() - section:.0f} s)"
        )
        false_alarm = sum(r[0] != "no detectable difference" for r in aa) / len(aa)
        detection = sum(r[0] == "worse" for r in drop) / len(drop)
        cover_aa = sum(r[1] for r in aa) / len(aa)
        cover_drop = sum(r[1] for r in drop) / len(drop)
        checks = [
            ("false alarms, A/A 0.80 vs 0.80", false_alarm, "<= 6%", false_alarm <= 0.06),
            ("detection, 0.80 -> 0.70", detection, ">= 85%", detection >= 0.85),
            ("95% interval covers the truth, A/A", cover_aa, ">= 93%", cover_aa >= 0.93),
            ("95% interval covers the truth, drop", cover_drop, ">= 93%", cover_drop >= 0.93),
        ]
        for label, value, target, met in checks:
            line(label, value, target, met)
            ok = ok and met
        mdes = sorted(r[3] for r in drop if r[3] is not None)
        print(f"  {'median MDE reported in the drop scenario':<52} {mdes[len(mdes) // 2]:6.3f}")
        if repeats > 1:
            naive_fa = sum(r[2] != "no detectable difference" for r in aa) / len(aa)
            label = "false alarms if repeats were taken as cases (naive)"
            line(label, naive_fa, "(contrast)", None)

    section = time.perf_counter()
    n_power = max(200, n_sims // 2)
    print(f"\n(e) power: detection of a drop from 0.80 by sample size, {n_power} simulations each")
    sizes = [50, 100, 200, 400, 800]
    print("  drop   " + "".join(f"n={s:<7}" for s in sizes) + "cases_needed  detection there")
    for delta in (0.05, 0.10, 0.20):
        needed = cases_needed(-delta, 0.80)
        rates = []
        for size in [*sizes, needed]:
            power_jobs = [(size, delta, s, e) for s, e in chunks(n_power, 50)]
            rates.append(sum(pool_map(power_chunk, power_jobs)) / n_power)
        cells = "".join(f"{r:<9.0%}" for r in rates[:-1])
        met = abs(rates[-1] - 0.80) <= 0.06
        ok = ok and met
        print(
            f"  {delta:>4.0%}   {cells}n={needed:<11}{rates[-1]:.0%} (target 80% ± 6)"
            f"  {'met' if met else 'NOT MET'}"
        )

    print(f"  ({time.perf_counter() - section:.0f} s)")

    section = time.perf_counter()
    n_method = max(250, n_sims // 2)
    print(f"\n(f) interval method: coverage of the 95% interval, {n_method} simulations each")
    print(f"  {'data':<40}{'n':<6}percentile   BCa")
    for label in METHOD_CASES:
        for size in (30, 100):
            method_jobs = [(label, size, s, e) for s, e in chunks(n_method, 25)]
            rows = [row for chunk in pool_map(method_chunk, method_jobs) for row in chunk]
            pct = sum(p for p, _ in rows) / len(rows)
            bca = sum(b for _, b in rows) / len(rows)
            print(f"  {label:<40}{size:<6}{pct:>8.1%}   {bca:>7.1%}")
    print(f"  ({time.perf_counter() - section:.0f} s)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sims", type=int, default=1000, help="simulations per scenario")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--only", choices=["sequential"], help="run only these figures")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"promptbench stats validity: alpha={ALPHA}, {args.workers} worker(s)")

    def everything(pool_map: MapFn) -> bool:
        ok = True if args.only else run(pool_map, args.sims)
        return run_sequential(pool_map, args.sims) and ok

    if args.workers > 1:
        with Pool(args.workers) as pool:
            ok = everything(pool.map)
    else:
        ok = everything(lambda f, jobs: [f(j) for j in jobs])
    verdict = "all targets met" if ok else "SOME TARGETS NOT MET"
    print(f"\n{verdict} in {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
