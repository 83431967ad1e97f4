"""How fast calls to one rate-limited endpoint may start.

One :class:`RateGate` per provider, server, key and model. It combines:

- the limits the suite sets (``rpm``, ``tpm``), as token buckets;
- the limits the server states in its ``x-ratelimit-*`` headers: with OpenAI's
  meaning of ``reset`` (the time until the limit is full again) the refill rate is
  ``(limit - remaining) / reset``, so the gate paces itself at that rate, and
  counts what is left from the server's own ``remaining``, less the calls it sent
  since that answer left the server;
- a pause for everyone after a 429 with Retry-After, so that the other calls in
  flight do not pile on;
- for servers that say nothing, adaptive concurrency (AIMD): halve the calls in
  flight on a 429, grow by one per round of successes.

The aim is the most a limit allows and no more: a run goes as fast as the server
lets it, with few 429s, instead of backing off far below the limit.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from promptbench.server_limits import RateLimit

SAFETY = 0.97  # pace a little under a stated rate: clocks and queues jitter


@dataclass
class Bucket:
    """A token bucket: ``rate`` per second, up to ``capacity``."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        """Add what accrued since the last look."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` tokens are there (0 if they are)."""
        self.refill(now)
        amount = min(amount, self.capacity)  # a request larger than the bucket waits for a full one
        if self.tokens >= amount:
            return 0.0
        return (amount - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateGate:
    """Paces the calls to one endpoint."""

    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        now = clock()
        self.requests: Bucket | None = None
        self.tokens: Bucket | None = None
        self._explicit_requests = rpm is not None
        self._explicit_tokens = tpm is not None
        if rpm is not None:
            rate = rpm / 60.0
            self.requests = Bucket(rate, max(1.0, rate), max(1.0, rate), now)
        if tpm is not None:
            rate = tpm / 60.0
            self.tokens = Bucket(rate, max(1.0, rate * 10), max(1.0, rate * 10), now)
        self.paused_until = 0.0
        self.sent = 0  # calls started, ever: to count those sent after an answer left
        # Adaptive concurrency, used when the server states no limits.
        self.window = math.inf
        self.in_flight = 0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.rate_limited = 0

    async def acquire(self, tokens: float = 0.0) -> int:
        """Wait until a call may start; return its sequence number (for :meth:`update`)."""
        async with self._lock:  # one waiter at a time: the gate is first come, first served
            while True:
                now = self.clock()
                wait = max(0.0, self.paused_until - now)
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_for(1.0, now))
                if self.tokens is not None and tokens:
                    wait = max(wait, self.tokens.wait_for(tokens, now))
                if wait <= 0 and self.in_flight < self.window:
                    break
                if wait <= 0:  # at the concurrency window: wait for a call to end
                    self._changed.clear()
                    await self._changed.wait()
                else:
                    await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.tokens -= 1.0
            if self.tokens is not None and tokens:
                self.tokens.tokens -= min(tokens, self.tokens.capacity)
            self.in_flight += 1
            self.sent += 1
            return self.sent

    def release(
        self,
        seq: int,
        *,
        limits: RateLimit | None,
        rate_limited: bool,
        retry_after: float | None,
        tokens_used: float = 0.0,
        tokens_estimated: float = 0.0,
    ) -> None:
        """A call that started as ``seq`` ended; learn from what the server said."""
        self.in_flight -= 1
        now = self.clock()
        if self.tokens is not None and tokens_estimated:
            # Settle the estimate against what the call really used.
            self.tokens.tokens -= tokens_used - tokens_estimated
        if limits is not None:
            self._learn(limits, seq, now)
        if rate_limited:
            self.rate_limited += 1
            if retry_after is not None:
                self.paused_until = max(self.paused_until, now + retry_after)
            if self.requests is not None:
                self.requests.tokens = min(self.requests.tokens, 0.0)
            if limits is None and not self._explicit_requests:
                # Nothing stated: back off the concurrency, multiplicatively.
                self.window = max(1.0, min(self.window, self.in_flight + 1) / 2)
        elif self.window != math.inf:
            self.window += 1.0 / self.window  # additive increase: one per round trip
        self._changed.set()

    def _learn(self, limits: RateLimit, seq: int, now: float) -> None:
        sent_since = self.sent - seq  # calls that left after this one; the server may not know
        bucket = _stated(
            limits.limit_requests, limits.remaining_requests, limits.reset_requests, now
        )
        if bucket is not None and not self._explicit_requests:
            if self.requests is None:
                self.requests = bucket
            self.requests.refill(now)
            self.requests.rate, self.requests.capacity = bucket.rate, bucket.capacity
            self.requests.tokens = min(self.requests.tokens, bucket.tokens - sent_since)
        tbucket = _stated(limits.limit_tokens, limits.remaining_tokens, limits.reset_tokens, now)
        if tbucket is not None and not self._explicit_tokens:
            if self.tokens is None:
                self.tokens = tbucket
            self.tokens.rate, self.tokens.capacity = tbucket.rate, tbucket.capacity
            self.tokens.refill(now)
            self.tokens.tokens = min(self.tokens.tokens, tbucket.tokens)


def _stated(
    limit: int | None, remaining: int | None, reset: float | None, now: float
) -> Bucket | None:
    """The bucket a server describes, when its headers say enough to tell the rate."""
    if limit is None or remaining is None or reset is None or limit <= 0:
        return None
    used = limit - remaining
    if used <= 0 or reset <= 0:
        return None  # full: nothing to learn about the refill rate yet
    rate = used / reset * SAFETY
    return Bucket(rate, float(limit), float(remaining), now)


def estimate_tokens(text_chars: int, max_tokens: int | None) -> float:
    """A request's token cost before it is made: prompt characters / 4, plus what it may write."""
    return text_chars / 4.0 + (max_tokens or 256)
