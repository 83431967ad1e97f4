"""The rate gate against a simulated token-bucket server, on a virtual clock.

    python bench/bench_ratelimit.py

Each scenario is a whole run as far as the rate limit goes: the runner's own
Caller (retries, Backoff) and RateGate make every call, -j workers at once,
through a provider that answers like the loopback server
(``promptbench.testing.openai_server``: its token bucket, of one second of burst
and starting full, and its headers, parsed by the ``openai`` provider's own
functions). Time is simulated (``tests.helpers.ratesim``): the figures are exact,
the same on a loaded machine as on an idle one, and each refusal has its moment.
What a real client adds is modelled (``Network``, printed): the wire each way and its
jitter, the event loop's CPU per request and answer, a new connection's cost, and the
first call's stall (the provider made and its HTTP client imported while the loop
waits: 0.12-0.2 s measured in ``promptbench run``).

A time is virtual seconds from the first call's start to the last answer, less that
first call's stall (a one-case run pays it too), over the ideal: the burst at once,
then the rest at the rate, ``(cases - burst) / rate``. The refusals are split by
where they happen: at the burst's end (requests sent before the first 429 came back:
they were on their way when the server's bucket ran dry) and later (the pace probing
upward, or a late wake-up). ``bench/run_bench.py --only rate`` measures the same
first two scenarios for real, the whole command included.

Exit code 1 when a target is missed.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.ratesim import Network, SimResult, simulate

Row = tuple[str, str, bool, str]


def _burst_end(r: SimResult) -> tuple[int, int]:
    """Refusals of requests sent before the client had its first 429, and the others."""
    early = r.refused_at_the_bursts_end()
    return early, r.refused - early


def limited(name: str, r: SimResult, time_target: float, refused_target: float) -> list[Row]:
    early, late = _burst_end(r)
    ratio = r.paced / r.ideal
    return [
        (
            f"{name}: time / ideal",
            f"{ratio:.3f} x",
            ratio <= time_target,
            f"<= {time_target:.2f} ({r.paced:.2f} s, ideal {r.ideal:.2f} s; {r.errors} errors)",
        ),
        (
            f"{name}: refused",
            f"{100 * r.refused_share:.1f} %",
            r.refused_share <= refused_target and r.errors == 0,
            f"<= {100 * refused_target:g}% ({r.refused} of {r.requests}: {early} at the "
            f"burst's end, {late} later)",
        ),
    ]


def main() -> int:
    rows: list[Row] = []
    base = Network()
    r = simulate(400, 40, headers="retry-after")
    rows += limited("40/s, 400 cases, -j 32, 429 + Retry-After only", r, 1.10, 0.05)
    r = simulate(400, 40, headers="full")
    rows += limited("40/s, 400 cases, -j 32, x-ratelimit headers", r, 1.10, 0.01)
    after = r.refused_sent_after(r.first_answer)
    rows.append(
        (
            "  the same: refused among requests sent after the first answer",
            str(after),
            after == 0,
            "0 (the headers say all there is to know)",
        )
    )
    for jitter in (0.003, 0.010):
        r = simulate(400, 40, headers="retry-after", net=Network(jitter=jitter, seed=7))
        rows += limited(f"  the same, Retry-After only, {jitter * 1000:g} ms jitter", r, 1.10, 0.05)
    for jobs in (8, 128):
        r = simulate(400, 40, headers="retry-after", jobs=jobs)
        rows += limited(f"  the same, Retry-After only, -j {jobs}", r, 1.10, 0.05)
    r = simulate(2000, 200, headers="retry-after")
    rows += limited("200/s, 2,000 cases, Retry-After only", r, 1.10, 0.05)

    # A limit raised mid-run: 40/s, then 60/s from 2 s on.
    r = simulate(2000, 40, headers="retry-after", raise_to=(2.0, 60.0))
    late = r.accepted_per_second(25.0, 32.0)
    rows.append(
        (
            "40/s raised to 60/s at 2 s, Retry-After only: accepted/s 25-32 s in",
            f"{late:.1f}",
            late > 55.0 and r.errors == 0,
            f"> 55 (noticed; {r.accepted_per_second(2.0, 5.0):.1f}/s at 2-5 s; the pace "
            f"probes up 1%, 2%, 4%, 8% a second until refused; {r.refused} refused of "
            f"{r.requests})",
        )
    )
    r = simulate(1000, 40, headers="full", raise_to=(2.0, 60.0))
    now = r.accepted_per_second(3.0, 10.0)
    rows.append(
        (
            "40/s raised to 60/s at 2 s, x-ratelimit headers: accepted/s 3-10 s in",
            f"{now:.1f}",
            now >= 59.0 and r.refused == 0,
            f">= 59, none refused ({r.refused})",
        )
    )

    # For information: a small limit (its burst is about the slow start's window, so
    # the burst's end costs about a window of refusals), and no limit at 100 ms.
    r = simulate(100, 5, headers="retry-after")
    early = r.refused_at_the_bursts_end()
    rows.append(
        (
            "(info) 5/s, 100 cases, Retry-After only: refused",
            f"{100 * r.refused_share:.1f} %",
            True,
            f"{r.refused} of {r.requests} ({early} at the burst's end); time "
            f"{r.paced / r.ideal:.3f} x the ideal",
        )
    )
    r = simulate(2000, 1e9, net=Network(up=0.05, down=0.05))
    ideal = 2000 / 32 * 0.1
    rows.append(
        (
            "(info) no limit, 100 ms answers, 2,000 cases, -j 32: time / ideal",
            f"{r.paced / ideal:.3f} x",
            True,
            f"{r.paced:.2f} s, ideal ceil(2000 / 32) x 0.1 s = {ideal:.2f} s: the slow start's "
            "cost with the client's modelled CPU",
        )
    )

    print("rate gate, simulated (virtual clock; the runner's Caller and RateGate)")
    print("network model:", ", ".join(f"{k}={v:g}" for k, v in asdict(base).items()))
    width = max(len(name) for name, *_ in rows)
    for name, value, met, target in rows:
        print(f"{'ok  ' if met else 'MISS'} {name.ljust(width)}  {value:>9}  target {target}")
    return 0 if all(met for _, _, met, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
