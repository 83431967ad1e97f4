"""Decide sooner: an anytime-valid regression test on paired per-case differences.

Per case, d = B − A (the case's mean score on the new run minus the baseline's),
bounded in [−1, 1] because every metric scores in [0, 1]. The question is the
regression gate's: is the mean difference μ below −margin?

Two e-processes, by *testing by betting* (Waudby-Smith & Ramdas, "Estimating means
of bounded random variables by betting", J. R. Stat. Soc. B 86(1), 2024, 1-27;
arXiv:2010.09686; Shafer, "Testing by betting", JRSS A 184, 2021):

* regression: a gambler starts with wealth 1 and after each case multiplies it by
  1 + λ·(m − d), m = −margin, with 0 <= λ <= c/(1 − m) fixed in advance. If
  μ >= m (no regression), each factor has mean at most 1, so the wealth is a
  nonnegative supermartingale and, by Ville's inequality,
  P(it ever reaches 1/α) <= α. Peeking after every case, and stopping the first
  time it does, is therefore allowed: the false-alarm rate stays at most α however
  often one looks.
* no regression: the mirror bet, 1 + λ·(d − m), which reaches 1/α with probability
  at most α when μ <= m (B is in fact worse by the margin or more).

The wealth is a mixture of constant bets λ over (0, c/(1 − m)], c = 1/2 (see
:class:`_Bettor`): whatever the true drop, some of the bets are near Kelly's
growth-optimal one, with no bet learnt from noisy early cases. The verdict is
settled when either wealth reaches 1/α: "regression", or "no regression"; until
then it is open. When the cases run out
with it open, no regression was shown, which is what the fixed design would say of
an unsettled difference.

Standard library only; O(1) per case. ``python bench/bench_stats.py`` checks the
false-alarm rate when peeking after every case, and the cases a true 10-point drop
needs against the fixed design of the same power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

SequentialVerdict = Literal["regression", "no regression"]
TRUNCATION = 0.5  # the largest bet staked, as a fraction of the largest that keeps wealth > 0
BETS = 20  # constant bets mixed: equally spaced in (0, TRUNCATION × the safe maximum]


@dataclass
class _Bettor:
    """One e-process: a mixture of constant bets that x has a positive mean.

    Each bet λ_g grows its own wealth ∏(1 + λ_g·x); the e-process is their average,
    Robbins' method of mixtures (Howard et al., "Time-uniform, nonparametric,
    nonasymptotic confidence sequences", Ann. Statist. 49(2), 2021) over the betting
    martingales of Waudby-Smith & Ramdas. An average of test supermartingales is one,
    so Ville's inequality holds for it. Mixing, rather than learning one bet from the
    data (their aGRAPA), loses nothing early on, when a learnt bet is mostly noise:
    in bench/bench_stats.py a 10-point drop stopped after 252 cases on average
    against 317 for aGRAPA.
    """

    largest: float  # the largest bet that keeps every factor positive
    log_wealth: list[float] = field(default_factory=list)
    bets: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        top = TRUNCATION * self.largest
        self.bets = [top * (g + 1) / BETS for g in range(BETS)]
        self.log_wealth = [0.0] * BETS

    @property
    def log_e(self) -> float:
        """The log of the mixture's wealth: log of the mean of exp(log_wealth)."""
        top = max(self.log_wealth)
        return top + math.log(math.fsum(math.exp(w - top) for w in self.log_wealth) / BETS)

    def update(self, x: float) -> None:
        # Every bet is fixed before x is seen: that is what keeps the test valid.
        self.log_wealth = [
            w + math.log1p(b * x) for w, b in zip(self.log_wealth, self.bets, strict=True)
        ]


@dataclass
class SequentialTest:
    """The anytime-valid regression check of one metric on one pair of groups.

    Feed it each case's difference B − A with :meth:`update`; :attr:`verdict` is set
    the first time the evidence settles it, and stays.
    """

    margin: float = 0.0
    alpha: float = 0.05
    n: int = 0
    verdict: SequentialVerdict | None = None
    settled_at: int | None = None  # the number of cases when the verdict was reached
    _down: _Bettor = field(init=False)
    _up: _Bettor = field(init=False)
    _sum: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0.0 <= self.margin < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {self.margin}")
        m = -self.margin
        # x = m − d lies in [m − 1, m + 1]: 1 + λx > 0 needs λ < 1/(1 − m); mirror for d − m.
        self._down = _Bettor(1.0 / (1.0 - m))
        self._up = _Bettor(1.0 / (1.0 + m))

    @property
    def threshold(self) -> float:
        """The wealth at which a verdict is reached: 1/α."""
        return 1.0 / self.alpha

    @property
    def e_regression(self) -> float:
        """The e-value against "no regression" (large: evidence of a regression)."""
        return math.exp(self._down.log_e)

    @property
    def e_no_regression(self) -> float:
        """The e-value against "a regression" (large: evidence there is none)."""
        return math.exp(self._up.log_e)

    @property
    def mean(self) -> float | None:
        """The mean difference so far."""
        return self._sum / self.n if self.n else None

    def update(self, d: float) -> SequentialVerdict | None:
        """Add one case's difference B − A (in [−1, 1]); returns the verdict once settled."""
        if not -1.0 - 1e-9 <= d <= 1.0 + 1e-9 or math.isnan(d):
            raise ValueError(f"a paired difference must lie in [-1, 1], got {d!r}")
        d = min(max(d, -1.0), 1.0)
        m = -self.margin
        self.n += 1
        self._sum += d
        self._down.update(m - d)
        self._up.update(d - m)
        if self.verdict is None:
            limit = math.log(self.threshold)
            if self._down.log_e >= limit:
                self.verdict, self.settled_at = "regression", self.n
            elif self._up.log_e >= limit:
                self.verdict, self.settled_at = "no regression", self.n
        return self.verdict

    def to_json(self) -> dict[str, Any]:
        """The state as JSON, for the run's records."""
        return {
            "method": "testing by betting (Waudby-Smith & Ramdas 2024), a mixture of constant bets",
            "margin": self.margin,
            "alpha": self.alpha,
            "n": self.n,
            "mean_diff": self.mean,
            "e_regression": self.e_regression,
            "e_no_regression": self.e_no_regression,
            "verdict": self.verdict,
            "settled_at": self.settled_at,
        }


__all__ = ["SequentialTest", "SequentialVerdict"]
