"""Power: the smallest detectable difference of a sample, and the sample a difference needs.

All normal approximations, stated where used. For binary outcomes they follow Connor
(1987) for McNemar's test: with p_d the share of discordant pairs and δ = p01 − p10 the
difference, the statistic (c − b)/√(b + c) has mean δ·√n/√p_d and variance
(p_d − δ²)/p_d, so 80% power at two-sided level α needs

    δ·√n = z(1 − α/2)·√p_d + z(power)·√(p_d − δ²).

For continuous scores (and binary ones averaged over repeats) the per-case difference
has standard deviation σ, and the test of its mean needs δ·√n = (z(1 − α/2) + z(power))·σ.
That ignores the t correction, so it is a little optimistic below ~30 cases.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_Z = NormalDist()


def _check_levels(alpha: float, power: float) -> tuple[float, float]:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power}")
    return _Z.inv_cdf(1.0 - alpha / 2.0), _Z.inv_cdf(power)


def mde_binary(
    n: int, discordance: float, *, alpha: float = 0.05, power: float = 0.8
) -> float | None:
    """Smallest |p(B) − p(A)| that ``n`` paired cases detect with the given power (McNemar).

    ``discordance`` is the share of cases where A and B disagree, as observed. None when
    it is 0 (nothing to estimate the noise from) or when no difference up to 1 is
    detectable with so few cases.
    """
    za, zb = _check_levels(alpha, power)
    if n <= 0 or discordance <= 0.0:
        return None
    pd = min(discordance, 1.0)

    def gap(delta: float) -> float:  # increasing in delta; its root is the MDE
        return delta * math.sqrt(n) - za * math.sqrt(pd) - zb * math.sqrt(max(pd - delta**2, 0.0))

    if gap(1.0) < 0.0:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(60):  # bisection to well below any displayed precision
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if gap(mid) < 0.0 else (lo, mid)
    return hi


def mde_continuous(n: int, sd: float, *, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Smallest |mean difference| that ``n`` paired cases detect (normal approximation).

    ``sd`` is the standard deviation of the per-case differences. None when there is no
    spread (or fewer than 2 cases) to go on.
    """
    za, zb = _check_levels(alpha, power)
    if n < 2 or not sd > 0.0 or not math.isfinite(sd):
        return None
    return (za + zb) * sd / math.sqrt(n)


def cases_needed(
    delta: float,
    base_rate: float,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
) -> int:
    """Paired cases McNemar's test needs to detect a pass rate moving by ``delta``.

    From ``base_rate`` to ``base_rate + delta`` (a negative ``delta`` is a drop), at
    two-sided level ``alpha`` with probability ``power``.

    ``discordance`` is the expected share of cases where A and B disagree. When it is
    not given, outcomes are assumed independent given the case, so p01 = a(1 − b) and
    p10 = (1 − a)b with b = a + δ. That is the conservative choice: real prompt
    variants agree more often than independence predicts (a case hard for one is
    usually hard for the other), and more agreement means fewer cases needed.
    """
    za, zb = _check_levels(alpha, power)
    if delta == 0.0 or not math.isfinite(delta):
        raise ValueError(f"delta must be a nonzero difference, got {delta}")
    if not 0.0 <= base_rate <= 1.0:
        raise ValueError(f"base_rate must be in [0, 1], got {base_rate}")
    target = base_rate + delta
    if not 0.0 <= target <= 1.0:
        raise ValueError(f"base_rate + delta = {target:g} is not a rate in [0, 1]")
    if discordance is None:
        discordance = base_rate * (1.0 - target) + (1.0 - base_rate) * target
    elif not abs(delta) <= discordance <= 1.0:
        # p01 + p10 >= |p01 - p10|: fewer disagreements cannot produce this difference.
        raise ValueError(
            f"discordance must be in [|delta|, 1] = [{abs(delta):g}, 1], got {discordance}"
        )
    root = za * math.sqrt(discordance) + zb * math.sqrt(max(discordance - delta**2, 0.0))
    return max(1, math.ceil((root / delta) ** 2))


def cases_needed_continuous(
    delta: float, sd: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Paired cases needed to detect a mean difference ``delta`` in a continuous score.

    ``sd`` is the standard deviation of the per-case differences; normal approximation.
    """
    za, zb = _check_levels(alpha, power)
    if delta == 0.0 or not math.isfinite(delta):
        raise ValueError(f"delta must be a nonzero difference, got {delta}")
    if not sd > 0.0 or not math.isfinite(sd):
        raise ValueError(f"sd must be a positive number, got {sd}")
    return max(1, math.ceil(((za + zb) * sd / delta) ** 2))
