"""Backoff: exponential with jitter, capped; the server's Retry-After honoured, capped too."""

from __future__ import annotations

import math
import random

import pytest

from promptbench.runner.retry import Backoff


@pytest.mark.parametrize("attempt", range(8))
def test_delay_is_within_half_and_all_of_the_exponential_ceiling(attempt: int) -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    rng = random.Random(attempt)
    ceiling = min(30.0, 0.5 * 2**attempt)
    delays = [backoff.delay(attempt, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    # Jittered: not one fixed value, and spread over the upper half.
    assert max(delays) - min(delays) > ceiling / 4


def test_delay_grows_exponentially_until_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=10.0)
    rng = random.Random(1)
    lows = [min(backoff.delay(n, rng=rng) for _ in range(100)) for n in range(6)]
    highs = [max(backoff.delay(n, rng=rng) for _ in range(100)) for n in range(6)]
    # The lower bound doubles: 0.5, 1, 2, 4, then the cap's half (5) twice.
    for n, expected in enumerate([0.5, 1, 2, 4, 5, 5]):
        assert expected <= lows[n] < expected * 1.1
    assert all(h <= 10.0 for h in highs)
    assert highs[5] > 9.5


def test_seeded_rng_is_reproducible() -> None:
    backoff = Backoff()
    a = [backoff.delay(n, rng=random.Random(42)) for n in range(5)]
    b = [backoff.delay(n, rng=random.Random(42)) for n in range(5)]
    assert a == b


def test_retry_after_is_honoured_with_small_jitter() -> None:
    backoff = Backoff(base=0.5, cap=1.0, max_retry_after=120.0)
    rng = random.Random(7)
    for given in (0.0, 2.0, 10.0, 45.0):
        delays = [backoff.delay(0, retry_after=given, rng=rng) for _ in range(200)]
        assert all(given <= d <= given + 0.05 + given * 0.1 for d in delays), given
    # The server's hint wins over the (smaller) exponential cap.
    assert backoff.delay(0, retry_after=10.0, rng=rng) >= 10.0


def test_retry_after_is_capped() -> None:
    backoff = Backoff(max_retry_after=120.0)
    rng = random.Random(3)
    limit = 120.0 + 0.05 + 12.0
    for given in (119.0, 120.0, 3600.0, 1e9, math.inf):
        delays = [backoff.delay(1, retry_after=given, rng=rng) for _ in range(200)]
        assert all(min(given, 120.0) <= d <= limit for d in delays), given


def test_negative_retry_after_falls_back_to_backoff() -> None:
    backoff = Backoff(base=1.0, cap=30.0)
    rng = random.Random(5)
    delays = [backoff.delay(2, retry_after=-1.0, rng=rng) for _ in range(100)]
    assert all(2.0 <= d <= 4.0 for d in delays)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=30.0)
    assert 15.0 <= backoff.delay(5000, rng=random.Random(0)) <= 30.0
