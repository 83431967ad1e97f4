"""How fast calls to one rate-limited endpoint may start.

One :class:`RateGate` per provider, server, key and model. It combines:

- the limits the suite sets (``rpm``, ``tpm``), as token buckets;
- the limits the server states in its ``x-ratelimit-*`` headers: with OpenAI's
  meaning of ``reset`` (the time until the limit is full again) the refill rate is
  ``(limit - remaining) / reset``, so the gate paces itself at that rate, and
  counts what is left from the server's own ``remaining`` (each answer's count
  taken afresh), less the calls the server may not have counted yet: those sent
  after that call, and those sent before it that are still out;
- a pause for everyone after a 429 whose Retry-After says more than a second;
- for servers that state nothing but refuse with 429, a token bucket inferred from
  the refusals (:class:`Inferred`): a refusal shows the server's bucket empty, so the
  calls it accepted between two refusals, over the time between them, are its rate;
  the gate paces a little under it, and now and then a little more (1%, then 2%,
  4%, 8% a second while nothing is refused), to notice a limit that was raised
  (and to measure again, over the last seconds, at the next refusal);
- while nothing is known of an endpoint, a slow start: the calls in flight start at
  4 and double every 25 ms of the time the gate saw pass (an event loop blocked for
  long counts as one doubling), so that a limit met at once (a server's initial
  burst spent) costs a few refusals, not one per call in flight.

The aim is the most a limit allows and no more: a run goes as fast as the server
lets it, with few 429s, instead of backing off far below the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from promptbench.server_limits import RateLimit

SAFETY = 0.99  # pace a little under a stated rate: clocks and queues jitter
FIRST_WINDOW = 4.0  # calls in flight to an endpoint nothing is known of yet ...
DOUBLING = 0.025  # ... doubled every this many seconds, until a limit is known or stated
# The pace's own slack when inferred: a sleep that wakes late is made up by the next
# call, not lost (two calls at once at most, where the server's bucket is empty).
INFERRED_BURST = 2.0
ROUNDED_RETRY_AFTER = 1.0  # a Retry-After this short is a shorter wait, rounded up


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
        # A hair short is there: float rounding leaves waits too small for a clock to pass.
        if self.tokens >= amount - 1e-9:
            return 0.0
        return (amount - self.tokens) / self.rate if self.rate > 0 else math.inf


@dataclass
class Inferred:
    """A server's request rate, measured from its 429s alone.

    A 429 means the server's bucket was empty when the call reached it; between two
    empty moments, whatever the server accepted is what it refilled. So the rate is
    the calls accepted since an earlier refusal over the time since then: the oldest
    refusal of the last :attr:`horizon` seconds whose span is long enough
    (:attr:`min_span`) for one call more or less not to matter. A mean over seconds,
    not since the first refusal of the run: a limit raised mid-run, once the probing
    found it, is kept at the next refusal instead of averaged away with the old one.
    """

    first: float  # when the first refusal came back: the server's bucket empty
    rate: float  # the pace: a guess at first, then measured
    measured: bool = False
    accepted: int = 0  # calls answered since ``first`` (refused ones retried included)
    last_refusal: float = 0.0
    last_raise: float = 0.0
    min_span: float = 0.5
    margin: float = 0.98  # pace this far under the measured rate: jitter, a late clock
    raise_every: float = 1.0  # without a refusal for this long, pace ``step`` faster ...
    first_step: float = 0.01  # ... from 1% ...
    max_step: float = 0.08  # ... doubled at each raise up to this, until the next refusal
    horizon: float = 10.0  # the measurement's span reaches this far back
    step: float = 0.01

    window: int = 100  # answers over which the share refused is judged, once measured
    random_share: float = 0.03  # refused more than this while paced: not a rate limit
    _answers: int = 0
    _refusals: int = 0
    # (moment, ``accepted`` then) of each refusal within the horizon, and one older.
    _marks: deque[tuple[float, int]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._marks.append((self.first, 0))

    def random(self) -> bool:
        """Whether the refusals go on while the gate keeps to the measured rate.

        Paced under a token bucket's rate, a server refuses almost nothing (a call now
        and then, when the gate tries faster); a server that refuses a share of calls
        whatever the pace (shedding load) is not a limit to pace to.
        """
        seen = self._answers + self._refusals
        if not self.measured or seen < self.window:
            return False
        share = self._refusals / seen
        self._answers = self._refusals = 0
        return share > self.random_share

    def refused(self, now: float) -> None:
        """A refusal came back at ``now``: measure the rate again, once the span allows.

        Averaged over the whole span since the first refusal, so that refusals that are
        not the limit's (a server shedding load at random) cannot drive the pace down
        call after call: each measurement is the mean of what was accepted.
        """
        marks = self._marks
        while len(marks) > 1 and now - marks[1][0] >= self.horizon:
            marks.popleft()  # the oldest kept is the last one beyond the horizon
        base: tuple[float, int] | None = None
        for mark in marks:  # oldest first: the longest span within the horizon
            if now - mark[0] < self.min_span:
                break
            base = mark
            if now - mark[0] <= self.horizon:
                break
        if base is not None and self.accepted > base[1]:
            self.rate = (self.accepted - base[1]) / (now - base[0]) * self.margin
            self.measured = True
        marks.append((now, self.accepted))
        if self.measured:
            self._refusals += 1
        self.last_refusal = self.last_raise = now
        self.step = self.first_step

    def answered(self, now: float) -> None:
        """A call was accepted; with no refusal for a while, try a little faster."""
        self.accepted += 1
        if self.measured:
            self._answers += 1
        if now - self.last_raise >= self.raise_every:
            # Faster the longer nothing is refused: a limit raised by half is found in
            # seconds, while at the limit the next refusal comes within a few steps.
            self.rate *= 1.0 + self.step
            self.step = min(self.max_step, self.step * 2)
            self.last_raise = now


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
        # The calls in flight allowed: a slow start while nothing is known of the limits.
        self.window = math.inf
        # The slow start's own clock: the time the gate saw pass since the first call,
        # counting at most one doubling between two looks (see :meth:`_allowed`).
        self._ramp_time = 0.0
        self._ramp_look: float | None = None
        self._ramping = rpm is None and tpm is None  # the slow start: nothing known yet
        self._stated = False  # the server stated its limits in headers
        self.inferred: Inferred | None = None  # the rate learned from 429s alone
        self._sheds_load = False  # its 429s came at random, whatever the pace: not inferred
        self._recent: deque[float] = deque()  # answers of the last second, before a refusal
        self.in_flight = 0
        self._flying: set[int] = set()  # the sequence numbers of the calls in flight
        self._lock = asyncio.Lock()
        self._queued = 0  # calls at the gate's lock, holding it or waiting for it
        self._changed = asyncio.Event()
        self.rate_limited = 0

    async def acquire(self, tokens: float = 0.0) -> int:
        """Wait until a call may start; return its sequence number (for :meth:`update`)."""
        if not self._queued:
            # Nobody waits at the gate: what the first look under the lock would do, done
            # without the lock (nothing else runs in between: there is no await here).
            seq, _ = self._admit(tokens)
            if seq is not None:
                return seq
        self._queued += 1
        try:
            async with self._lock:  # one waiter at a time: the gate is first come, first served
                while True:
                    seq, wait = self._admit(tokens)
                    if seq is not None:
                        return seq
                    if wait <= 0:  # at the concurrency window: wait for a call to end
                        self._changed.clear()
                        if not self._ramping:
                            await self._changed.wait()
                        else:  # or for the slow start's window to grow
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._changed.wait(), DOUBLING / 4)
                    else:
                        await asyncio.sleep(wait)
        finally:
            self._queued -= 1

    def _wait(self, tokens: float, now: float) -> float:
        """Seconds until the pause and the buckets let a call of ``tokens`` start."""
        wait = max(0.0, self.paused_until - now)
        if self.requests is not None:
            wait = max(wait, self.requests.wait_for(1.0, now))
        if self.tokens is not None and tokens:
            wait = max(wait, self.tokens.wait_for(tokens, now))
        return wait

    def _admit(self, tokens: float) -> tuple[int | None, float]:
        """Start a call now if the gate allows it: its sequence number, else None and the wait.

        The wait is 0 when only the concurrency window holds the call back.
        """
        now = self.clock()
        wait = self._wait(tokens, now)
        if wait > 0 or self.in_flight >= self._allowed(now):
            return None, wait
        if self.requests is not None:
            self.requests.tokens -= 1.0
        if self.tokens is not None and tokens:
            self.tokens.tokens -= min(tokens, self.tokens.capacity)
        self.in_flight += 1
        self.sent += 1
        self._flying.add(self.sent)
        return self.sent, 0.0

    def _allowed(self, now: float) -> float:
        """The calls that may be in flight now.

        The window doubles every :data:`DOUBLING` seconds of the slow start's own
        clock, which counts at most one doubling between two looks: the calls
        waiting look four times a doubling, so it keeps time while the event loop
        runs, but a loop blocked for long (the first call makes the provider and
        imports its HTTP client: 0.12-0.2 s, measured) does not open the window to
        every call at once while no answer came back to say how fast the server is.
        """
        if not self._ramping:
            return self.window
        if self._ramp_look is not None:
            self._ramp_time += min(now - self._ramp_look, DOUBLING)
        self._ramp_look = now
        if self._ramp_time >= DOUBLING * 12:  # 4 x 2**12 calls: no run has that many in flight
            self._ramping = False
            return self.window
        return min(self.window, FIRST_WINDOW * 2 ** (self._ramp_time / DOUBLING))

    def retry_now(self, retry_after: float | None) -> bool:
        """Whether a refused call may go back to the gate at once, not after Retry-After.

        So when the gate paces at a rate it learned and the server's Retry-After is
        no more than a rounded-up second: the pace, not the rounding, says when.
        """
        paced = self.inferred is not None and not self._explicit_requests
        return paced and (retry_after is None or retry_after <= ROUNDED_RETRY_AFTER)

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
        self._flying.discard(seq)
        now = self.clock()
        if self.tokens is not None and tokens_estimated:
            # Settle the estimate against what the call really used.
            self.tokens.tokens -= tokens_used - tokens_estimated
        if limits is not None:
            self._ramping = False
            self._stated = self._stated or limits.limit_requests is not None
            self._learn(limits, seq, now)
        stated = limits is not None and limits.limit_requests is not None
        if rate_limited:
            self.rate_limited += 1
            # A wait given to the millisecond (retry-after-ms) is the server's own pacing:
            # obeyed as it is. Only a server that says nothing, or whole seconds, is measured.
            exact = retry_after is not None and retry_after != math.floor(retry_after)
            inferring = (
                not stated and not self._explicit_requests and not exact and not self._sheds_load
            )
            if inferring:
                self._infer(now)
            if retry_after is not None and not (inferring and self.retry_now(retry_after)):
                self.paused_until = max(self.paused_until, now + retry_after)
            if self.requests is not None:
                self.requests.tokens = min(self.requests.tokens, 0.0)
        elif self.inferred is not None:
            self.inferred.answered(now)
            if self.requests is not None:
                self.requests.rate = self.inferred.rate
        elif not self._stated and not self._explicit_requests:
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()
        self._changed.set()

    def _infer(self, now: float) -> None:
        """A 429 from a server that states no limits: learn its rate, pace by it."""
        self._ramping = False  # a limit is known to exist: the slow start is over
        inferred = self.inferred
        if inferred is None:
            # The first guess: what the server accepted in the last second (its initial
            # burst included: too fast when the burst is large, until measured).
            guess = max(1.0, float(len(self._recent))) * SAFETY
            self._recent.clear()
            inferred = self.inferred = Inferred(first=now, rate=guess, last_raise=now)
        else:
            inferred.refused(now)
            if inferred.random():
                # Refused at random, not for the pace: stop pacing, for the rest of the
                # run (each refused call is retried on its own, after its Retry-After).
                self._sheds_load = True
                self.inferred = None
                if not self._explicit_requests:
                    self.requests = None
                return
        # No burst of our own: the server's bucket is empty now.
        if self.requests is None:
            self.requests = Bucket(inferred.rate, INFERRED_BURST, 0.0, now)
        self.requests.refill(now)
        self.requests.rate, self.requests.capacity = inferred.rate, INFERRED_BURST

    def _learn(self, limits: RateLimit, seq: int, now: float) -> None:
        # The calls the server may not have counted when it answered: those sent after
        # this one, and those sent before it that are still out (a call can overtake
        # another on its way: a new connection is slower than a kept one).
        unseen = self.sent - seq + sum(1 for s in self._flying if s < seq)
        bucket = _stated(
            limits.limit_requests, limits.remaining_requests, limits.reset_requests, now
        )
        if bucket is not None and not self._explicit_requests:
            if self.requests is None:
                self.requests = bucket
            self.requests.refill(now)
            self.requests.rate, self.requests.capacity = bucket.rate, bucket.capacity
            # The server's count, not the least of its and ours: a call counted twice
            # (sent after this one but there before it) would otherwise leave tokens
            # unspent at the server for the rest of the run; the next answer corrects it.
            self.requests.tokens = bucket.tokens - unseen
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
