"""When to try a failed call again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, deferring to the server's Retry-After.

    Attempt n waits between half and all of ``base * 2**n`` (capped at ``cap``):
    the jitter spreads clients that failed together, and the lower half-bound
    keeps the wait from collapsing to nothing. A Retry-After from the server is
    honoured as given (capped at ``max_retry_after``), plus a little jitter.
    """

    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        r: random.Random = rng or random.Random()
        if retry_after is not None and retry_after >= 0:
            # Jitter on the capped wait, so a huge (or infinite) Retry-After stays capped.
            wait = min(retry_after, self.max_retry_after)
            return wait + r.uniform(0, 0.05 + wait * 0.1)
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt, 64))
        return ceiling / 2 + r.uniform(0, ceiling / 2)
