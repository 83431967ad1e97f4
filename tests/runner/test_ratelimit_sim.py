"""The rate gate in a whole run against a simulated token-bucket server, on a virtual clock.

``tests.helpers.ratesim`` runs the runner's real Caller and RateGate against the
loopback server's own bucket; only time is simulated, so these figures are exact
and the same on any machine. The bench (``bench/bench_ratelimit.py``) prints the
same figures and more scenarios beside their targets.
"""

from __future__ import annotations

import pytest

from tests.helpers.ratesim import Network, simulate


def test_a_full_initial_burst_of_40_at_40_per_second_costs_under_5_percent_refused() -> None:
    # The bench's scenario: 400 cases, -j 32, 429 + Retry-After in whole seconds only.
    # The first call stalls the event loop (the provider made): the slow start must not
    # count that stall as time in which the window may open to every call.
    r = simulate(400, 40, headers="retry-after", jobs=32)
    assert r.errors == 0
    assert r.refused_share <= 0.05, f"{r.refused} of {r.requests} refused"
    assert r.paced <= 1.02 * r.ideal, f"{r.paced:.2f} s, ideal {r.ideal:.2f} s"


@pytest.mark.parametrize("jitter", [0.003, 0.010])
def test_late_wake_ups_and_a_jittery_wire_stay_under_5_percent_refused(jitter: float) -> None:
    r = simulate(400, 40, headers="retry-after", net=Network(jitter=jitter, seed=7))
    assert r.errors == 0
    assert r.refused_share <= 0.05, f"{r.refused} of {r.requests} refused"
    assert r.paced <= 1.03 * r.ideal


def test_a_server_stating_its_limits_refuses_nothing_sent_after_its_first_answer() -> None:
    for rps, cases in ((40, 400), (5, 60), (200, 2000)):
        r = simulate(cases, rps, headers="full", net=Network(jitter=0.002))
        assert r.errors == 0
        assert r.refused_sent_after(r.first_answer) == 0, (rps, r.refused)
        assert r.paced <= 1.01 * r.ideal + 0.05, (rps, r.paced, r.ideal)


def test_with_headers_the_initial_burst_is_spent_and_nothing_left_unused() -> None:
    # Calls overtake each other at the start (new connections are slower than kept
    # ones): a call counted twice must not leave tokens at the server for the whole run.
    r = simulate(400, 40, headers="full")
    assert r.refused == 0
    assert r.paced <= 1.005 * r.ideal, f"{r.paced:.3f} s, ideal {r.ideal:.1f} s"


def test_a_raised_limit_is_noticed_without_headers() -> None:
    # 40/s, raised to 60/s two seconds in: the pace probes upward faster the longer
    # nothing is refused, and the next refusal measures the recent rate, not the run's.
    r = simulate(2000, 40, headers="retry-after", raise_to=(2.0, 60.0))
    assert r.errors == 0
    early, late = r.accepted_per_second(2.0, 5.0), r.accepted_per_second(25.0, 32.0)
    assert early < 45 < 55 < late, (early, late)
    assert r.refused_share <= 0.02


def test_a_raised_limit_is_taken_at_once_with_headers() -> None:
    r = simulate(1000, 40, headers="full", raise_to=(2.0, 60.0))
    assert r.refused == 0
    assert r.accepted_per_second(3.0, 10.0) >= 59


def test_the_simulated_clock_is_virtual_and_the_run_deterministic() -> None:
    a = simulate(200, 40, net=Network(jitter=0.002, seed=3))
    b = simulate(200, 40, net=Network(jitter=0.002, seed=3))
    assert (a.wall, a.refused) == (b.wall, b.refused)
    assert a.wall >= a.ideal  # no run beats the bucket
