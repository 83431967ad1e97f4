"""The "as good as the best" set of ``promptbench rank``, by simulation against known truths.

One command::

    python bench/bench_rank.py [--sims 1000] [--workers 2]

Twenty settings answer 400 cases each: three are truly best (pass rate 0.80), five
are exactly 10 points worse (0.70), and twelve spread from 0.65 down to 0.40. A case
has a difficulty that every setting shares (a Gaussian copula: setting s passes case
i when sqrt(rho)·z_i + sqrt(1 − rho)·e_si < Φ⁻¹(p_s), so each setting's pass rate is
exactly p_s). Settings of one task agree on which cases are hard; rho = 0.3 is a
modest such agreement (a correlation of about 0.2 between two settings' pass/fail).
The same figures with no shared difficulty at all (rho = 0), the hardest case for a
paired procedure, are printed beside them for information.

Each simulation ranks the settings with :func:`promptbench.stats.rank.rank`'s
procedure (the model confidence set at alpha 0.05, 1,000 bootstrap resamples instead
of the product's 2,000) and records which settings are in the set. Figures, each
beside its target:

(a) the set contains all three best settings: target >= 90%.
(b) a setting 10 points worse is in the set (per setting, over the five): target <= 5%.

Simulation i has its own seed, so the figures do not depend on the number of workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from statistics import NormalDist

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptbench.stats.rank import bootstrap_case_means, model_confidence_set  # noqa: E402

ALPHA = 0.05
CASES = 400
RESAMPLES = 1000
BEST, WORSE = 0.80, 0.70
PROBS = [BEST] * 3 + [WORSE] * 5 + [float(p) for p in np.linspace(0.65, 0.40, 12)]


def simulate(args: tuple[int, float]) -> tuple[bool, int]:
    """One ranking: (all three best in the set, how many of the five 10-points-worse are in)."""
    seed, rho = args
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(CASES)[:, None]
    own = rng.standard_normal((CASES, len(PROBS)))
    latent = np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * own
    thresholds = np.array([NormalDist().inv_cdf(p) for p in PROBS])
    x = (latent < thresholds).astype(np.float64)
    replicates = bootstrap_case_means(x, RESAMPLES, rng)
    in_set = model_confidence_set(x.mean(axis=0), replicates, ALPHA) >= ALPHA
    return bool(in_set[:3].all()), int(in_set[3:8].sum())


def scenario(rho: float, sims: int, workers: int) -> tuple[float, float]:
    jobs = [(1_000_003 * i + int(rho * 1000), rho) for i in range(sims)]
    if workers > 1:
        with Pool(workers) as pool:
            results = pool.map(simulate, jobs, chunksize=max(1, sims // (8 * workers)))
    else:
        results = [simulate(j) for j in jobs]
    covered = sum(all3 for all3, _ in results) / sims
    worse_in = sum(k for _, k in results) / (5 * sims)
    return covered, worse_in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    print(
        f"20 settings (3 at {BEST:.2f}, 5 at {WORSE:.2f}, 12 from 0.65 to 0.40), {CASES} cases, "
        f"alpha {ALPHA}, {args.sims} simulations, {RESAMPLES} resamples"
    )
    start = time.perf_counter()
    ok = True
    for rho, label, judged in (
        (0.3, "shared difficulty rho=0.3", True),
        (0.0, "independent", False),
    ):
        covered, worse_in = scenario(rho, args.sims, args.workers)
        mark_a = "ok" if covered >= 0.90 else "MISSED"
        mark_b = "ok" if worse_in <= 0.05 else "MISSED"
        if judged:
            ok = ok and covered >= 0.90 and worse_in <= 0.05
        else:
            mark_a = mark_b = "(for information)"
        print(f"[{label}]")
        print(f"  (a) all three best in the set: {covered:6.1%}   target >= 90%   {mark_a}")
        print(
            f"  (b) a 10-points-worse setting in the set: {worse_in:6.1%}   target <= 5%   {mark_b}"
        )
    print(f"{time.perf_counter() - start:.0f} s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
