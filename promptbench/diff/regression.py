"""The regression gate: whether B is worse than the baseline A by more than a margin.

A rule ``{metric: exact, margin: 0.02}`` fails for a compared pair only when both hold:

1. ``diff`` itself calls the metric "worse": the paired exact test (McNemar, or the
   sign-flip permutation test on per-case means), Holm-corrected across everything the
   diff compared. The gate never fails on a figure that ``diff`` shows as "no detectable
   difference", and this test controls the false-alarm rate exactly, also on few cases,
   where a bootstrap is least trustworthy.
2. The drop exceeds the margin with confidence: a one-sided test of δ < −margin (δ the
   mean paired difference B − A, clustered by case), at level α/2 after Holm across the
   rules × pairs checked. Its p-value is the share of bootstrap replicates of the mean
   difference at or above −margin. With one check this is "the 95% interval that
   ``diff`` prints lies wholly below −margin" (up to resampling noise): how
   non-inferiority is read off a confidence interval in clinical trials (ICH E9), so
   a user can check the gate against the table by eye. Shifting the paired
   differences by the margin and running the sign-flip test instead would assume they
   are symmetric about −margin, which binary outcomes are not.

Requiring both keeps the false-alarm rate at or below the smaller of the two tests'
levels; tests/diff/test_compute.py checks by simulation that noise does not fail the gate
and a real drop does. Without rules, every compared metric and ``pass_rate`` is checked
with margin 0.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptbench.diff.compute import signature
from promptbench.diff.result import DiffResult
from promptbench.stats.compare import case_differences, holm
from promptbench.stats.resample import bootstrap_means
from promptbench.suite.regression import PASS_RATE, RegressionRule

DEFAULT_RESAMPLES = 4000


@dataclass(frozen=True)
class RegressionCheck:
    """One rule checked on one pair."""

    rule: RegressionRule
    pair: str  # the pair's label, e.g. "guided × mini"
    variant: str  # B's group
    model: str
    n_paired: int
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # diff's verdict for the metric
    p_margin: float | None  # one-sided bootstrap p of "drop > margin"
    p_adjusted: float | None  # after Holm across the checks
    regressed: bool

    @property
    def reason(self) -> str:
        """One line saying why the check holds or fails."""
        if self.diff is None:
            return "no paired data to compare"
        ci = f"[{self.ci_low:+.3f}, {self.ci_high:+.3f}]" if self.ci_low is not None else ""
        what = f"B − A = {self.diff:+.3f} {ci}".rstrip()
        if self.regressed:
            return f"{what}: significantly worse by more than {self.rule.margin:g}"
        if self.verdict != "worse":
            return f"{what}: diff finds no significant drop ({self.verdict})"
        return (
            f"{what}: worse, but not by more than the margin {self.rule.margin:g} with confidence"
        )

    def to_json(self) -> dict[str, Any]:
        """The check as JSON."""
        return {
            "metric": self.rule.metric,
            "margin": self.rule.margin,
            "pair": self.pair,
            "variant": self.variant,
            "model": self.model,
            "n_paired": self.n_paired,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "diff": self.diff,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "verdict": self.verdict,
            "p_margin": self.p_margin,
            "p_adjusted": self.p_adjusted,
            "regressed": self.regressed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RegressionReport:
    """Every check, and whether any failed."""

    checks: list[RegressionCheck]
    rules: list[RegressionRule]
    alpha: float
    default_rules: bool  # the suite set none: every metric at margin 0

    @property
    def failures(self) -> list[RegressionCheck]:
        """The checks that found a regression."""
        return [c for c in self.checks if c.regressed]

    @property
    def passed(self) -> bool:
        """No check found a regression."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "passed": self.passed,
            "alpha": self.alpha,
            "rules": [r.to_json() for r in self.rules],
            "default_rules": self.default_rules,
            "checks": [c.to_json() for c in self.checks],
        }


def margin_p_value(diffs: Sequence[float], margin: float, n_resamples: int, seed: int) -> float:
    """One-sided bootstrap p-value of "the mean of ``diffs`` is at or above −margin".

    The share of bootstrap means at or above −margin, with the +1 that keeps a
    resampling p-value valid (never 0).
    """
    replicates = bootstrap_means(diffs, n_resamples, random.Random(f"{seed}/regression"))
    threshold = -margin - 1e-12  # a replicate equal to −margin is no evidence of a larger drop
    at_or_above = len(replicates) - _count_below(replicates, threshold)
    return (at_or_above + 1) / (len(replicates) + 1)


def _count_below(sorted_values: Sequence[float], x: float) -> int:
    lo, hi = 0, len(sorted_values)
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def default_rules(result: DiffResult) -> list[RegressionRule]:
    """Without rules in the suite: ``pass_rate`` and every compared metric, margin 0."""
    names = dict.fromkeys([PASS_RATE])
    for _, m in result.comparisons():
        names.setdefault(m.comparison.name)
    return [RegressionRule(n, 0.0) for n in names]


def check_regressions(
    result: DiffResult,
    rules: Sequence[RegressionRule] = (),
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RegressionReport:
    """Check each rule on each pair of ``result`` (A the baseline, B the new run)."""
    alpha = result.alpha
    given = list(rules)
    used = given or default_rules(result)
    raw: list[tuple[RegressionRule, str, str, str, Any, Any]] = []
    p_of: dict[Any, float] = {}  # one p-value per distinct test (see below)
    for pr in result.pairs:
        for rule in used:
            row = pr.metric(rule.metric)
            if row is None:
                continue  # the metric does not apply to this pair's cases
            c = row.comparison
            key = None
            if c.diff is not None:
                # pass_rate often is a metric case for case (one metric, no threshold):
                # the same test on the same data counts once in Holm's family.
                key = (signature(pr.pair, pr.paired[rule.metric]), rule.margin)
                if key not in p_of:
                    diffs = case_differences(pr.paired[rule.metric])
                    if not c.higher_is_better:
                        diffs = [-d for d in diffs]  # "worse" is then a rise
                    p_of[key] = margin_p_value(diffs, rule.margin, n_resamples, seed)
            raw.append((rule, pr.pair.label, pr.pair.variant_b, pr.pair.model_b, c, key))
    adjusted = dict(zip(p_of, holm(list(p_of.values())), strict=True))
    checks: list[RegressionCheck] = []
    for rule, label, variant, model, c, key in raw:
        p = p_of.get(key) if key is not None else None
        p_adj = adjusted.get(key) if key is not None else None
        # α/2 one-sided: the level at which the printed 95% interval excludes −margin.
        beyond = p_adj is not None and p_adj <= alpha / 2
        checks.append(
            RegressionCheck(
                rule=rule,
                pair=label,
                variant=variant,
                model=model,
                n_paired=c.n_paired,
                mean_a=c.mean_a,
                mean_b=c.mean_b,
                diff=c.diff,
                ci_low=c.ci_low,
                ci_high=c.ci_high,
                verdict=c.verdict,
                p_margin=p,
                p_adjusted=p_adj,
                regressed=c.verdict == "worse" and beyond,
            )
        )
    return RegressionReport(checks, used, alpha, default_rules=not given)
