"""SequentialTest: anytime-valid regression verdicts by betting."""

from __future__ import annotations

import random

import pytest

from promptbench.stats.sequential import SequentialTest


def feed(test: SequentialTest, diffs: list[float]) -> SequentialTest:
    for d in diffs:
        test.update(d)
    return test


def test_a_plain_regression_is_settled_early() -> None:
    test = feed(SequentialTest(), [-1.0] * 30)
    assert test.verdict == "regression"
    assert test.settled_at is not None and test.settled_at < 30
    assert test.e_regression >= 20.0


def test_no_difference_stays_open() -> None:
    rng = random.Random(0)
    test = feed(SequentialTest(), [rng.choice([-1.0, 0.0, 0.0, 1.0]) for _ in range(300)])
    assert test.verdict is None and test.settled_at is None and test.n == 300


def test_a_clear_improvement_settles_no_regression() -> None:
    test = feed(SequentialTest(), [1.0, 0.0] * 40)
    assert test.verdict == "no regression"


def test_within_the_margin_is_settled_as_no_regression() -> None:
    # B equals A on every case; with a 10-point margin that rules a regression out.
    test = feed(SequentialTest(margin=0.1), [0.0] * 200)
    assert test.verdict == "no regression"
    assert feed(SequentialTest(margin=0.0), [0.0] * 200).verdict is None


def test_the_verdict_stays_once_settled() -> None:
    test = feed(SequentialTest(), [-1.0] * 20 + [1.0] * 200)
    assert test.verdict == "regression" and test.n == 220


def test_differences_outside_minus_one_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        SequentialTest().update(1.5)
    with pytest.raises(ValueError):
        SequentialTest(alpha=0.0)


def test_peeking_after_every_case_keeps_false_alarms_below_alpha() -> None:
    # A small version of bench/bench_stats.py's check: A and B equal, 300 cases, 200 runs.
    alarms = 0
    for seed in range(200):
        rng = random.Random(seed)
        test = SequentialTest(alpha=0.05)
        for _ in range(300):
            d = float(rng.random() < 0.8) - float(rng.random() < 0.8)
            if test.update(d) is not None:
                break
        alarms += test.verdict == "regression"
    assert alarms <= 16  # 5% of 200 is 10; the bound allows for sampling noise


def test_to_json_says_how_many_cases_and_why() -> None:
    data = feed(SequentialTest(), [-1.0] * 25).to_json()
    assert data["verdict"] == "regression" and data["n"] == 25
    assert 0 < data["settled_at"] < 25
    assert "betting" in data["method"]
