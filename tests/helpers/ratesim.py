"""A rate-limited server and a run against it, simulated on a virtual clock.

The run is the real one as far as the rate limit goes: the runner's
:class:`~promptbench.runner.calls.Caller` (retries, Backoff, the rate gate) makes
every call, through a provider that answers like the loopback server
(``promptbench.testing.openai_server``): the same token bucket
(:class:`~promptbench.testing.scenario.TokenBucket`), the same headers, parsed by
the same functions as the ``openai`` provider's. Only time is simulated: an event
loop whose clock jumps to the next timer when nothing is ready
(:class:`VirtualLoop`), so a nine-second run takes a fraction of a second of CPU,
is the same on a loaded machine as on an idle one, and every moment is known.

What a real client adds to an ideal one is modelled, each as a parameter of
:class:`Network`: the time on the wire each way with its jitter (a busy event loop
that wakes late looks the same to the server), the client's CPU per request and
per answer (one event loop: calls queue for it), and a new connection's cost for
the first call on each, and the stall of the first call (the provider made, its HTTP
client imported, while the event loop waits).
"""

from __future__ import annotations

import asyncio
import math
import random
import selectors
from dataclasses import dataclass, field
from typing import Literal

from promptbench.config import ModelConfig
from promptbench.providers.openai_http import classify_status, rate_limit
from promptbench.runner.calls import Caller, ModelHandle
from promptbench.runner.observer import BaseObserver
from promptbench.runner.ratelimit import RateGate
from promptbench.runner.retry import Backoff
from promptbench.testing.scenario import TokenBucket, format_number
from promptbench.types import Completion, Message, Prompt, Usage

Headers = Literal["retry-after", "full"]


class _JumpSelector(selectors.BaseSelector):
    """A selector that, with nothing ready, moves the loop's clock on instead of blocking."""

    def __init__(self, loop: VirtualLoop) -> None:
        self._inner = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj):  # type: ignore[no-untyped-def]
        return self._inner.unregister(fileobj)

    def modify(self, fileobj, events, data=None):  # type: ignore[no-untyped-def]
        return self._inner.modify(fileobj, events, data)

    def get_map(self):  # type: ignore[no-untyped-def]
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("simulated run stuck: nothing ready and no timer set")
        self._loop.now += max(0.0, timeout)
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock: sleeping costs no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(selector=_JumpSelector(self))

    def time(self) -> float:
        """The virtual clock."""
        return self.now


@dataclass
class Network:
    """What lies between the gate and the server's bucket, in seconds."""

    up: float = 0.0005  # request to server
    down: float = 0.0005  # answer back
    jitter: float = 0.001  # added to ``up``, uniform in [0, jitter): a loop that wakes late
    cpu_send: float = 0.0002  # the client's event loop, per request ...
    cpu_answer: float = 0.00012  # ... and per answer; one loop, so calls queue for it
    connect: float = 0.001  # the first call on each of the client's connections
    # The first call blocks the event loop this long (the provider created, its HTTP
    # client imported: 0.12-0.2 s measured in `promptbench run`), after the gate let it go.
    first_call_stall: float = 0.15
    seed: int = 0


@dataclass
class Served:
    """One request as the server saw it."""

    sent: float  # when the client sent it (the gate let it go)
    at: float  # when the server's bucket judged it
    accepted: bool
    tokens_left: float  # the server's bucket after it


@dataclass
class SimServer:
    """The loopback server's rate limit: a token bucket of ``rps``, one second of burst, full."""

    rps: float
    headers: Headers
    loop: VirtualLoop
    log: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.rps, clock=self.loop.time)

    def raise_limit(self, rps: float) -> None:
        """The limit raised mid-run (the bucket keeps its tokens)."""
        self.bucket.rate = rps
        self.bucket.capacity = max(1.0, rps)

    def handle(self, sent: float) -> tuple[int, dict[str, str]]:
        """The status and headers of one request, as ``Scenario.decide`` and the server give."""
        wait = self.bucket.acquire()
        full = self.headers == "full"
        headers = dict(self.bucket.headers()) if full else {}
        self.log.append(Served(sent, self.loop.time(), wait <= 0.0, self.bucket.tokens))
        if wait <= 0.0:
            return 200, headers
        headers["retry-after"] = str(math.ceil(wait))
        if full:
            headers["retry-after-ms"] = format_number(wait * 1000.0)
        return 429, headers


class SimProvider:
    """Answers like the ``openai`` provider would from the loopback server."""

    def __init__(self, server: SimServer, net: Network) -> None:
        self.server = server
        self.net = net
        self.rng = random.Random(net.seed)
        self.cpu = asyncio.Lock()
        self.idle_connections = 0
        self.connections = 0
        self.started = False
        self.first_answer: float | None = None  # when the client had its first answer
        self.first_refusal: float | None = None  # ... and its first 429

    async def _on_cpu(self, seconds: float) -> None:
        async with self.cpu:
            await asyncio.sleep(seconds)

    async def complete(self, prompt: Prompt) -> Completion:
        """One request: CPU, wire, the server's bucket, wire, CPU."""
        net = self.net
        sent = self.server.loop.time()
        if not self.started:
            self.started = True
            self.server.loop.now += net.first_call_stall  # blocked: no callback runs meanwhile
        await self._on_cpu(net.cpu_send)
        if self.idle_connections:
            self.idle_connections -= 1
        else:
            self.connections += 1
            await asyncio.sleep(net.connect)
        await asyncio.sleep(net.up + self.rng.random() * net.jitter)
        status, headers = self.server.handle(sent)
        await asyncio.sleep(net.down)
        self.idle_connections += 1
        await self._on_cpu(net.cpu_answer)
        if self.first_answer is None:
            self.first_answer = self.server.loop.time()
        if status != 200:
            if self.first_refusal is None:
                self.first_refusal = self.server.loop.time()
            body = {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}
            raise classify_status(status, headers, body)
        return Completion(text="ok", usage=Usage(1, 1), rate_limit=rate_limit(headers))

    async def aclose(self) -> None:
        """Nothing to close."""


@dataclass
class SimResult:
    """What a simulated run came to."""

    cases: int
    rps: float
    wall: float  # the first call's start to the last answer
    served: list[Served]
    errors: int  # cases that ended in an error (retries spent)
    gate: RateGate
    first_answer: float  # when the first answer reached the client
    first_refusal: float | None  # when the first 429 reached it
    stall: float  # the first call's stall, which a one-case run pays too

    @property
    def paced(self) -> float:
        """The wall time less the first call's stall: what the rate limit cost."""
        return self.wall - self.stall

    @property
    def requests(self) -> int:
        """Requests the server saw."""
        return len(self.served)

    @property
    def refused(self) -> int:
        """Requests answered 429."""
        return sum(not s.accepted for s in self.served)

    @property
    def refused_share(self) -> float:
        """Refused requests over all requests."""
        return self.refused / self.requests if self.requests else 0.0

    @property
    def ideal(self) -> float:
        """The least time the limit allows: the burst at once, the rest at the rate."""
        return max(0.0, self.cases - max(1.0, self.rps)) / self.rps

    def refused_between(self, start: float, end: float) -> int:
        """Refusals the server gave in ``[start, end)`` seconds of the run."""
        return sum(not s.accepted and start <= s.at < end for s in self.served)

    def refused_at_the_bursts_end(self) -> int:
        """Refusals of requests sent before the client had its first 429: on their way
        when the server's bucket ran dry, the client could not have known."""
        if self.first_refusal is None:
            return 0
        return self.refused - self.refused_sent_after(self.first_refusal)

    def refused_sent_after(self, moment: float) -> int:
        """Refusals of requests sent at ``moment`` or later."""
        return sum(not s.accepted and s.sent >= moment for s in self.served)

    def accepted_per_second(self, start: float, end: float) -> float:
        """The rate the server accepted requests at over ``[start, end)``."""
        return sum(s.accepted and start <= s.at < end for s in self.served) / (end - start)


class _Quiet(BaseObserver):
    pass


def simulate(
    cases: int = 400,
    rps: float = 40.0,
    *,
    headers: Headers = "retry-after",
    jobs: int = 32,
    net: Network | None = None,
    raise_to: tuple[float, float] | None = None,
    max_retries: int | None = None,
) -> SimResult:
    """Run ``cases`` calls, ``jobs`` at once, against a server allowing ``rps``.

    ``raise_to=(at, rps)`` raises the server's limit ``at`` seconds into the run;
    ``max_retries`` is a model's own default (4) unless given.
    """
    net = net or Network()
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(
            _run(loop, cases, rps, headers, jobs, net, raise_to, max_retries)
        )
    finally:
        loop.close()


async def _run(
    loop: VirtualLoop,
    cases: int,
    rps: float,
    headers: Headers,
    jobs: int,
    net: Network,
    raise_to: tuple[float, float] | None,
    max_retries: int | None,
) -> SimResult:
    server = SimServer(rps, headers, loop)
    gate = RateGate(clock=loop.time)
    config = ModelConfig(provider="openai", model="sim")
    if max_retries is not None:
        config = ModelConfig(provider="openai", model="sim", max_retries=max_retries)
    model = ModelHandle("m", config, gate)
    provider = SimProvider(server, net)
    model._provider = provider
    caller = Caller(_Quiet(), Backoff(), None, asyncio.Event())
    caller._rng = random.Random(net.seed)
    todo = iter(range(cases))
    errors = 0
    start = loop.time()

    async def worker() -> None:
        nonlocal errors
        for i in todo:
            prompt = Prompt((Message("user", f"case {i}"),))
            result = await caller.call(model, prompt)
            if result.error is not None:
                errors += 1

    async def raise_limit(at: float, to: float) -> None:
        await asyncio.sleep(at)
        server.raise_limit(to)

    raiser = loop.create_task(raise_limit(*raise_to)) if raise_to else None
    await asyncio.gather(*(worker() for _ in range(jobs)))
    wall = loop.time() - start
    if raiser is not None:
        raiser.cancel()
    first = provider.first_answer if provider.first_answer is not None else wall
    refusal = provider.first_refusal
    return SimResult(
        cases,
        rps,
        wall,
        server.log,
        errors,
        gate,
        first - start,
        None if refusal is None else refusal - start,
        net.first_call_stall,
    )
