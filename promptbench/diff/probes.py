"""Has a run become less robust than its baseline? ``regression: {metric: probe.NAME}``.

Per variant × model, each original case's drop under the probe (original − twin, over
its twins and repeats) is paired with the same case's drop in the baseline; a rule fails
as the regression gate's do (:mod:`promptbench.diff.regression`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from statistics import mean

from promptbench.diff.pairing import natural_key
from promptbench.diff.regression import RegressionCheck, margin_p_value
from promptbench.stats.compare import holm
from promptbench.stats.probes import outcome, resampled_means
from promptbench.stats.resample import percentile_interval
from promptbench.stats.significance import sign_flip_test
from promptbench.suite.metricspec import PROBE_GATE_PREFIX
from promptbench.suite.regression import RegressionRule
from promptbench.types import ProbeTag, Record


def _drops(records: Iterable[Record], probe: str) -> dict[tuple[str, str], dict[str, float]]:
    """Per variant × model, each original case's drop under ``probe``: original − twin.

    Averaged over the case's twins and repeats, as the probe's own verdict averages them.
    """
    originals: dict[tuple[str, str, str, int], float | None] = {}
    twins: list[tuple[Record, ProbeTag]] = []
    for r in records:
        tag = r.probe if r.probe is not None else _tag_from_id(r.case_id)
        if tag is None:
            originals[(r.case_id, r.variant, r.model, r.repeat)] = outcome(r)
        elif tag.name == probe:
            twins.append((r, tag))
    per_case: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r, tag in twins:
        o = originals.get((tag.origin, r.variant, r.model, r.repeat))
        t = outcome(r)
        if o is None or t is None:
            continue
        per_case.setdefault((r.variant, r.model), {}).setdefault(tag.origin, []).append(o - t)
    return {g: {c: mean(v) for c, v in cases.items()} for g, cases in per_case.items()}


def _tag_from_id(case_id: str) -> ProbeTag | None:
    """A twin's tag read back from its id (``q1~typos.x``), for records stored without one."""
    origin, mark, rest = case_id.partition("~")
    if not mark or not origin or not rest:
        return None
    return ProbeTag(rest.split(".", 1)[0], "", origin)


def probe_regressions(
    baseline: Iterable[Record],
    run: Iterable[Record],
    rules: Sequence[RegressionRule],
    *,
    alpha: float = 0.05,
    resamples: int = 4000,
) -> list[RegressionCheck]:
    """Check rules ``{metric: probe.NAME, margin: m}``: is the run less robust than the baseline.

    Per variant × model, each original case's drop under the probe (original − twin) is
    paired with the same case's drop in the baseline. The figure compared is the
    robustness, minus the drop, so "worse" means the run drops more. A check fails, as
    the regression gate's do, when both hold: the sign-flip test on the per-case
    differences calls it worse (Holm across these checks), and the one-sided bootstrap
    test of a larger drop than the margin rejects at alpha/2 (Holm too).
    """
    base, new = list(baseline), list(run)
    raw = []
    for rule in rules:
        name = rule.metric.removeprefix(PROBE_GATE_PREFIX)
        a_drops, b_drops = _drops(base, name), _drops(new, name)
        for group, b in b_drops.items():
            a = a_drops.get(group, {})
            cases = sorted(set(a) & set(b), key=natural_key)
            diffs = [a[c] - b[c] for c in cases]  # robustness B − A: negative is worse
            raw.append((rule, group, cases, diffs, a, b))
    tests = [
        sign_flip_test(d, rng=random.Random(f"{r.metric}/{g}")) if d else None
        for r, g, _, d, _, _ in raw
    ]
    margins = [margin_p_value(d, r.margin, resamples, 0) if d else None for r, _, _, d, _, _ in raw]
    p_test = holm([t.p_value for t in tests if t is not None])
    p_margin = holm([p for p in margins if p is not None])
    it_test, it_margin = iter(p_test), iter(p_margin)
    checks = []
    for (rule, (variant, model), cases, diffs, a, b), t, pm in zip(
        raw, tests, margins, strict=True
    ):
        p_t = next(it_test) if t is not None else None
        p_m = next(it_margin) if pm is not None else None
        worse = t is not None and p_t is not None and p_t <= alpha and t.direction < 0
        ci: tuple[float | None, float | None] = (None, None)
        if len(diffs) > 1:
            reps = sorted(m[0] for m in resampled_means([(d,) for d in diffs], 2000, "ci"))
            ci = percentile_interval(reps, 0.95)
        checks.append(
            RegressionCheck(
                rule=rule,
                pair=f"{variant} × {model}",
                variant=variant,
                model=model,
                n_paired=len(diffs),
                mean_a=-mean(a[c] for c in cases) if cases else None,
                mean_b=-mean(b[c] for c in cases) if cases else None,
                diff=mean(diffs) if diffs else None,
                ci_low=ci[0],
                ci_high=ci[1],
                verdict="worse"
                if worse
                else ("no data" if not diffs else "no detectable difference"),
                p_margin=pm,
                p_adjusted=p_m,
                regressed=worse and p_m is not None and p_m <= alpha / 2,
            )
        )
    return checks
