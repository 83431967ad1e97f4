"""Rate gates: stated limits are learned and kept to; a rate inferred from 429s alone."""

from __future__ import annotations

import asyncio
import math

import pytest

from promptbench.runner.ratelimit import (
    DOUBLING,
    FIRST_WINDOW,
    SAFETY,
    Bucket,
    RateGate,
    estimate_tokens,
)
from promptbench.server_limits import RateLimit
from tests.helpers.e2e import echo_suite, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_its_rate_up_to_capacity() -> None:
    b = Bucket(rate=10.0, capacity=5.0, tokens=0.0, stamp=0.0)
    assert b.wait_for(1.0, now=0.0) == pytest.approx(0.1)
    assert b.wait_for(1.0, now=0.25) == 0.0 and b.tokens == pytest.approx(2.5)
    b.refill(100.0)
    assert b.tokens == 5.0
    assert b.wait_for(50.0, now=100.0) == 0.0  # more than the bucket: waits for a full one


def test_explicit_rpm_paces_starts() -> None:
    clock = Clock()
    gate = RateGate(rpm=600, clock=clock)  # 10 per second, a burst of 10
    assert gate.requests is not None
    assert (gate.requests.rate, gate.requests.capacity) == (10.0, 10.0)

    async def take(n: int) -> None:
        for _ in range(n):
            await gate.acquire()

    asyncio.run(take(10))
    assert gate.requests.wait_for(1.0, clock.now) == pytest.approx(0.1)


def test_learns_the_refill_rate_from_openai_headers() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    assert gate.requests is None  # nothing known: no pacing at all
    seq = asyncio.run(gate.acquire())
    # limit 500/min, 499 left, full again in 120 ms: the refill rate is 1/0.12 per second.
    gate.release(seq, limits=RateLimit(500, 499, 0.12), rate_limited=False, retry_after=None)
    assert gate.requests is not None
    assert gate.requests.rate == pytest.approx(SAFETY / 0.12)
    assert gate.requests.capacity == 500
    assert gate.requests.tokens == 499


def test_counts_the_calls_sent_after_an_answer_left_the_server() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    gate._ramping = (
        False  # five at once: past the slow start's first window, on a clock that stands
    )

    async def go() -> list[int]:
        return [await gate.acquire() for _ in range(5)]

    seqs = asyncio.run(go())
    # The first call's answer says 10 are left; 4 more calls left after it.
    gate.release(seqs[0], limits=RateLimit(40, 10, 0.75), rate_limited=False, retry_after=None)
    assert gate.requests is not None and gate.requests.tokens == 6


def test_a_429_pauses_every_call_for_retry_after() -> None:
    clock = Clock()
    gate = RateGate(rpm=6000, clock=clock)
    seq = asyncio.run(gate.acquire())
    gate.release(seq, limits=None, rate_limited=True, retry_after=2.0)
    assert gate.paused_until == clock.now + 2.0
    assert gate.rate_limited == 1
    assert gate.requests is not None and gate.requests.tokens <= 0


def test_a_slow_start_while_nothing_is_known_of_the_limits() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    assert gate._allowed(clock.now) == FIRST_WINDOW  # the first call opens the slow start
    clock.now += DOUBLING
    assert gate._allowed(clock.now) == pytest.approx(2 * FIRST_WINDOW)
    for _ in range(12):  # looked at once a doubling (waiting calls look four times)
        clock.now += DOUBLING
        gate._allowed(clock.now)
    assert gate._allowed(clock.now) == math.inf  # over
    assert RateGate(rpm=600, clock=clock)._allowed(clock.now) == math.inf  # limits known


def _answer(
    gate: RateGate, clock: Clock, *, refused: bool, retry_after: float | None = None
) -> None:
    seq = asyncio.run(gate.acquire())
    gate.release(seq, limits=None, rate_limited=refused, retry_after=retry_after)


def test_the_rate_is_inferred_from_429s_alone() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    gate._ramping = False  # the slow start is tested above
    for _ in range(10):  # ten answers within the last second, then a 429 (Retry-After: 1)
        clock.now += 0.05
        _answer(gate, clock, refused=False)
    clock.now += 0.05
    _answer(gate, clock, refused=True, retry_after=1.0)
    inferred = gate.inferred
    assert inferred is not None and not inferred.measured
    assert inferred.rate == pytest.approx(10 * SAFETY)  # the first guess: the last second's
    assert gate.requests is not None and gate.requests.rate == inferred.rate
    assert gate.requests.tokens == 0.0  # the server's bucket is empty: no burst of ours
    # A rounded-up second does not pause everyone: the pace says when, retries included.
    assert gate.paused_until == 0.0 and gate.retry_now(1.0)
    # The server accepts 30 calls in the next 1.5 s, then refuses: its rate is 20/s.
    start = clock.now
    for _ in range(30):
        clock.now += 0.05
        gate.requests.tokens = 1.0  # (pacing itself is the bucket's test)
        _answer(gate, clock, refused=False)
    clock.now = start + 1.5
    gate.requests.tokens = 1.0
    _answer(gate, clock, refused=True, retry_after=1.0)
    assert inferred.measured
    assert inferred.rate == pytest.approx(30 / 1.5 * inferred.margin)
    assert gate.requests.rate == inferred.rate


def test_a_long_retry_after_still_pauses_every_call() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    _answer(gate, clock, refused=True, retry_after=5.0)
    assert gate.paused_until == clock.now + 5.0
    assert not gate.retry_now(5.0)


def test_a_server_refusing_at_random_whatever_the_pace_is_not_paced_to() -> None:
    # One call in twenty refused however slowly the gate goes: shedding load, not a
    # rate limit; pacing to what it accepts would only slow the run down, call after call.
    clock = Clock()
    gate = RateGate(clock=clock)
    gate._ramping = False
    measured = False
    for i in range(2000):  # 100 answers a second for 20 s
        clock.now += 0.01
        if gate.requests is not None:
            gate.requests.tokens = 1.0  # (pacing itself is the bucket's test)
        _answer(gate, clock, refused=i % 20 == 19)
        measured = measured or (gate.inferred is not None and gate.inferred.measured)
    assert measured  # it was measured first ...
    assert gate.inferred is None and gate.requests is None  # ... then given up: no pacing


def test_tokens_estimate_is_settled_against_usage() -> None:
    clock = Clock()
    gate = RateGate(tpm=60_000, clock=clock)  # 1000 per second, burst 10000
    estimate = estimate_tokens(400, 100)
    assert estimate == 200.0
    seq = asyncio.run(gate.acquire(estimate))
    assert gate.tokens is not None and gate.tokens.tokens == 10_000 - 200
    gate.release(
        seq,
        limits=None,
        rate_limited=False,
        retry_after=None,
        tokens_used=50,
        tokens_estimated=estimate,
    )
    assert gate.tokens.tokens == 10_000 - 50


def test_run_keeps_to_a_servers_stated_rate(project: Project, loopback: LoopbackServer) -> None:
    # The server allows 40 requests/s (a 1 s burst) and answers 429 beyond.
    loopback.configure(rate_limit_rps=40)
    cases = [{"id": f"c{i}", "q": f"c{i}"} for i in range(120)]
    path = project.suite(echo_suite(loopback.url, cases=cases, concurrency=32))
    result, wall = run(path)
    stats = loopback.stats()
    assert result.summary.records == 120 and result.summary.call_errors == 0
    assert stats["by_outcome"]["ok"] == 120
    # Paced, not bursting into 429s: at most 5% of requests were refused...
    assert stats["by_outcome"].get("429", 0) <= 0.05 * stats["requests"]
    # ... and the 80 calls past the burst cannot have taken less than 2 s at 40/s.
    assert wall >= 80 / 40 * 0.95


def test_rpm_from_the_suite_is_kept(project: Project, loopback: LoopbackServer) -> None:
    cases = [{"id": f"c{i}", "q": f"c{i}"} for i in range(30)]
    path = project.suite(echo_suite(loopback.url, cases=cases, model_params={"rpm": 1200}))
    _, wall = run(path)
    # 1200/min is 20/s with a burst of 20: the last 10 calls take at least 0.5 s.
    assert wall >= 10 / 20 * 0.9
    assert loopback.stats()["requests"] == 30


def test_run_keeps_to_a_rate_it_learned_from_429s_alone(
    project: Project, loopback: LoopbackServer
) -> None:
    # 429 + Retry-After in whole seconds, no other header: 20/s, a burst of 20.
    loopback.configure(rate_limit_rps=20, rate_limit_headers="retry-after")
    cases = [{"id": f"c{i}", "q": f"c{i}"} for i in range(60)]
    path = project.suite(echo_suite(loopback.url, cases=cases, concurrency=8))
    result, _ = run(path)
    stats = loopback.stats()
    assert result.summary.records == 60 and result.summary.call_errors == 0
    assert stats["by_outcome"]["ok"] == 60
    # The calls in flight when the burst ran out are refused; after that, paced: a
    # gate that did not learn the rate would be refused again and again.
    assert stats["by_outcome"].get("429", 0) <= 8 + 3


def test_a_blocked_event_loop_opens_the_slow_start_by_one_doubling_only() -> None:
    # The first call stalls the loop (the provider made); 150 ms later no answer has
    # come back yet, so the window must not have grown to every call at once.
    clock = Clock()
    gate = RateGate(clock=clock)
    assert gate._allowed(clock.now) == FIRST_WINDOW
    clock.now += 0.150
    assert gate._allowed(clock.now) == pytest.approx(2 * FIRST_WINDOW)
    for _ in range(4):  # looked at four times a doubling: the clock keeps time again
        clock.now += DOUBLING / 4
        gate._allowed(clock.now)
    assert gate._allowed(clock.now) == pytest.approx(4 * FIRST_WINDOW)


def test_a_bucket_a_rounding_error_short_of_a_token_has_it() -> None:
    # Else a virtual (or coarse) clock could not pass the wait: 1e-18 s never elapses.
    b = Bucket(rate=40.0, capacity=40.0, tokens=1.0 - 1e-15, stamp=5.0)
    assert b.wait_for(1.0, now=5.0) == 0.0


def test_stated_remaining_is_taken_again_after_a_call_was_counted_twice() -> None:
    # The server saw calls 1, 3, 2 in that order (3 overtook 2): 39, 38, 37 left.
    # Answers come back 3, 1, 2. Each answer's count is the server's, less the calls
    # it may not have seen; an over-count is corrected by the next answer, not kept.
    clock = Clock()
    gate = RateGate(clock=clock)
    gate._ramping = False

    async def take(n: int) -> list[int]:
        return [await gate.acquire() for _ in range(n)]

    s1, s2, s3 = asyncio.run(take(3))
    limit = 40

    def answer(seq: int, remaining: int) -> float:
        reset = (limit - remaining) / 40.0
        gate.release(
            seq, limits=RateLimit(limit, remaining, reset), rate_limited=False, retry_after=None
        )
        assert gate.requests is not None
        return gate.requests.tokens

    assert answer(s3, 38) == 36  # 1 and 2 still out: maybe not seen (1 was: counted twice)
    assert answer(s1, 39) == 37  # 2 and 3 sent after it: 39 - 2, the truth
    assert answer(s2, 37) == 36  # 3 sent after it (seen before it: counted twice) ...
    (s4,) = asyncio.run(take(1))
    assert answer(s4, 36) == 36  # ... and the next answer says so: nothing lost for good


def test_a_call_still_out_that_was_sent_before_an_answered_one_is_not_forgotten() -> None:
    clock = Clock()
    gate = RateGate(clock=clock)
    gate._ramping = False

    async def take(n: int) -> list[int]:
        return [await gate.acquire() for _ in range(n)]

    _, s2 = asyncio.run(take(2))
    # Call 2 answered first, 38 left; call 1 still out and may not have been counted.
    gate.release(s2, limits=RateLimit(40, 38, 0.05), rate_limited=False, retry_after=None)
    assert gate.requests is not None and gate.requests.tokens == 37


def test_a_call_waiting_at_the_gate_is_let_through_before_a_newcomer() -> None:
    # The gate admits a call without its lock only when no call waits there: first come,
    # first served, as under the lock alone.
    async def scenario() -> list[str]:
        gate = RateGate(clock=Clock())
        gate._ramping, gate.window = False, 1  # one call in flight at a time
        order: list[str] = []
        first = await gate.acquire()
        seqs: dict[str, int] = {}

        async def waiting() -> None:
            seqs["waiting"] = await gate.acquire()
            order.append("waiting")

        async def ends_then_calls_again() -> None:
            # The first call ends, and its task asks again at once, before the waiting
            # call has run: the window is open, but the waiting call comes first.
            gate.release(first, limits=None, rate_limited=False, retry_after=None)
            await gate.acquire()
            order.append("newcomer")

        task = asyncio.create_task(waiting())
        await asyncio.sleep(0)  # it waits for the window, holding the gate's lock
        assert gate.in_flight == 1 and not order
        newcomer = asyncio.create_task(ends_then_calls_again())
        await asyncio.wait([task], timeout=1.0)  # the newcomer first: the waiting one hangs
        assert order[:1] == ["waiting"], order
        assert order == ["waiting"] and not newcomer.done()
        gate.release(seqs["waiting"], limits=None, rate_limited=False, retry_after=None)
        await newcomer
        return order

    assert asyncio.run(scenario()) == ["waiting", "newcomer"]


def test_an_idle_gate_admits_without_waiting() -> None:
    async def scenario() -> tuple[int, int, int]:
        gate = RateGate(rpm=120, clock=Clock())
        a, b = await gate.acquire(), await gate.acquire()
        return a, b, gate.in_flight

    assert asyncio.run(scenario()) == (1, 2, 2)
