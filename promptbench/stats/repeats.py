"""What repeats of the same case say: pass@k, pass^k, per-case pass rates, flaky cases.

Values are verdicts per repeat: 1.0 pass, 0.0 fail, None error. Errors are dropped
before anything is computed, never counted as failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from math import comb


def _check(n: int, c: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"n (tries) must be >= 1, got {n}")
    if not 0 <= c <= n:
        raise ValueError(f"c (passes) must be in [0, n] = [0, {n}], got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n] = [1, {n}], got {k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k, the chance that at least one of k tries passes.

    From ``n`` tries of which ``c`` passed: 1 − C(n−c, k)/C(n, k) (Chen et al. 2021,
    "Evaluating Large Language Models Trained on Code"). Computed exactly in integers.
    """
    _check(n, c, k)
    return float(1 - Fraction(comb(n - c, k), comb(n, k)))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass^k, the chance that all of k independent tries pass.

    From ``n`` tries of which ``c`` passed: C(c, k)/C(n, k), the chance that k tries
    drawn without replacement from the n are all passes.
    """
    _check(n, c, k)
    return float(Fraction(comb(c, k), comb(n, k)))


def _verdicts(case_id: str, values: Sequence[float | None]) -> list[float]:
    kept = [v for v in values if v is not None]
    for v in kept:
        if v not in (0.0, 1.0):
            raise ValueError(f"case {case_id!r}: verdict {v!r} is not 0.0 (fail) or 1.0 (pass)")
    return kept


def pass_rates(values_by_case: Mapping[str, Sequence[float | None]]) -> dict[str, float | None]:
    """Per case, the share of its non-error repeats that passed (None: all errors)."""
    rates: dict[str, float | None] = {}
    for case_id, values in values_by_case.items():
        kept = _verdicts(case_id, values)
        rates[case_id] = sum(kept) / len(kept) if kept else None
    return rates


def flaky_cases(values_by_case: Mapping[str, Sequence[float | None]]) -> list[str]:
    """Cases whose verdict changes across repeats: both a pass and a fail among them.

    Errors do not make a case flaky (they are no verdict); callers that score with a
    threshold map scores to 0.0/1.0 first. Ids come back in the input's order.
    """
    return [
        case_id
        for case_id, values in values_by_case.items()
        if len(set(_verdicts(case_id, values))) > 1
    ]
