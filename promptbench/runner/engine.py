"""The async engine: every variant x model x case x repeat, called, scored, recorded.

Work is generated lazily and pulled by a fixed pool of workers (the run's
concurrency), so memory does not grow with the dataset. A model's own
``concurrency`` bounds its calls further. Failed calls are retried here, never
in a provider: retryable failures (429, 5xx, timeouts, dropped connections) back
off exponentially with jitter or as the server's Retry-After says; others fail
at once. A call that still fails becomes an error record and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptbench.cache import Cache, cache_key
from promptbench.config import ModelConfig
from promptbench.errors import ProviderError, UsageError
from promptbench.metrics.base import Sample
from promptbench.metrics.scoring import BoundMetric, case_passed, score_all
from promptbench.providers import Provider, providers
from promptbench.providers.pricing import cost as price_cost
from promptbench.render import Renderer
from promptbench.runner.observer import BaseObserver, Observer
from promptbench.runner.options import RunOptions
from promptbench.runner.ratelimit import RateGate, estimate_tokens
from promptbench.runner.retry import Backoff
from promptbench.runner.store import RunInfo, RunWriter, default_runs_dir
from promptbench.suite import Suite, Variant
from promptbench.types import CallError, Case, Completion, Message, MetricSpec, Prompt, Record


@dataclass(frozen=True)
class WorkItem:
    """One call to make."""

    case: Case
    variant: Variant
    model: str
    repeat: int


class _Model:
    """A model of the run: its config, provider and concurrency bound.

    The provider is created on the first call that misses the cache, so that a
    fully cached run never imports an SDK nor loads a model; ``preflight`` checks
    beforehand that it can be created (a key is set, a runtime is installed).
    """

    def __init__(self, name: str, config: ModelConfig, gate: RateGate | None = None) -> None:
        self.name = name
        self.config = config
        self._provider: Provider | None = None
        self.gate = gate
        self.limit = asyncio.Semaphore(config.concurrency) if config.concurrency else None
        self.identity = config.cache_identity()
        self.params = config.sampling_params()
        self.price = config.effective_price()

    @property
    def provider(self) -> Provider:
        """The provider, created on first use."""
        if self._provider is None:
            self._provider = providers.get(self.config.provider).factory(self.config)
        return self._provider

    async def aclose(self) -> None:
        """Close the provider if it was ever created."""
        if self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.aclose()


def select(suite: Suite, options: RunOptions) -> tuple[list[str], list[str]]:
    """The variants and models the run covers, checking the filters name real ones."""

    def pick(kind: str, wanted: list[str] | None, available: list[str]) -> list[str]:
        if not wanted:
            return available
        unknown = [w for w in wanted if w not in available]
        if unknown:
            raise UsageError(
                f"unknown {kind} '{unknown[0]}'; the suite has: {', '.join(available)}"
            )
        return [a for a in available if a in wanted]

    # Judge-only models grade the others; they are evaluated only when named with -m.
    evaluated = [name for name, m in suite.models.items() if not m.judge_only]
    return (
        pick("variant", options.variants, list(suite.variants)),
        pick("model", options.models, list(suite.models)) if options.models else evaluated,
    )


def selected_cases(suite: Suite, options: RunOptions) -> Iterator[Case]:
    """The cases the run covers, streamed, in file order."""
    wanted = set(options.cases) if options.cases else None
    n = 0
    for case in suite.cases:
        if wanted is not None and case.id not in wanted:
            continue
        yield case
        n += 1
        if options.limit is not None and n >= options.limit:
            return


def count_cases(suite: Suite, options: RunOptions) -> int:
    """How many cases the run covers."""
    if options.cases is None:
        return min(suite.cases.count, options.limit or suite.cases.count)
    return sum(1 for _ in selected_cases(suite, options))


class _Abandoned(BaseException):
    """A call given up because the run is stopping; it leaves no record.

    A BaseException, so that a metric waiting on a judge call does not turn it into
    an error verdict: the whole record is abandoned.
    """


async def _all_or_first_error(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task and raise the first one's error.

    Unlike ``gather``, being cancelled does not cancel the tasks.
    """
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            raise exc


class Runner:
    """Runs one suite; create, then ``await run()``.

    On the first Ctrl-C the run starts no new call and waits up to
    ``drain_timeout`` seconds for the calls in flight, so that what was paid for
    is recorded and cached; then it stops with status "interrupted".
    """

    drain_timeout: float = 10.0

    def __init__(
        self,
        suite: Suite,
        options: RunOptions | None = None,
        observer: Observer | None = None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.suite = suite
        self.options = options or RunOptions()
        self.observer: Observer = observer or BaseObserver()
        self.backoff = backoff or Backoff()
        self.variants, self.model_names = select(suite, self.options)
        if self.options.cases:
            known = {c.id for c in suite.cases}
            missing = [c for c in self.options.cases if c not in known]
            if missing:
                raise UsageError(f"unknown case id '{missing[0]}' in {suite.cases.origin}")
        self.repeat = self.options.repeat or suite.repeat
        self.concurrency = self.options.concurrency or suite.concurrency
        self.n_cases = count_cases(suite, self.options)
        self.total = self.n_cases * self.repeat * len(self.variants) * len(self.model_names)
        self._bound: dict[int, BoundMetric] = {}
        self._rng = random.Random()
        self.counts = {"records": 0, "errors": 0, "cached": 0, "retries": 0}
        self._stop = asyncio.Event()  # set on Ctrl-C: no new call starts
        self._in_flight = 0
        self.info: RunInfo | None = None  # set once the run directory exists
        self._gateway: _Gateway | None = None
        self._gates: dict[tuple[object, ...], RateGate] = {}

    def _gate(self, name: str, config: ModelConfig) -> RateGate | None:
        """The rate gate of a model: shared by the models behind one limit."""
        key = config.rate_key()
        if key is None and config.rpm is None and config.tpm is None:
            return None  # nothing to pace (a local model, a mock)
        full_key = (key or ("model", name), config.rpm, config.tpm)
        gate = self._gates.get(full_key)
        if gate is None:
            gate = self._gates[full_key] = RateGate(rpm=config.rpm, tpm=config.tpm)
        return gate

    def _work(self) -> Iterator[WorkItem]:
        # Case-major order: every model gets work early, so per-model limits and
        # a slow model do not leave the others idle.
        variants = [self.suite.variants[v] for v in self.variants]
        for case in selected_cases(self.suite, self.options):
            for rep in range(self.repeat):
                for variant in variants:
                    for model in self.model_names:
                        yield WorkItem(case, variant, model, rep)

    def _bind(self, specs: tuple[MetricSpec, ...], renderer: Renderer) -> list[BoundMetric]:
        out = []
        for spec in specs:
            b = self._bound.get(id(spec))
            if b is None:
                b = self._bound[id(spec)] = BoundMetric(spec, renderer)
            out.append(b)
        return out

    async def run(self) -> RunInfo:
        """Make every call, write every record; return the run's metadata."""
        # Every model of the suite, judges included; providers are created on first use.
        models = {
            name: _Model(name, config, self._gate(name, config))
            for name, config in self.suite.models.items()
        }
        for name in self.model_names:
            models[name].config.preflight()
        cache = Cache(self.options.cache_path) if self.options.use_cache else None
        writer = RunWriter(
            self.options.runs_dir or default_runs_dir(),
            self.suite,
            options=self.options.model_dump(mode="json", exclude_none=True),
            variants=self.variants,
            models=self.model_names,
        )
        self.info = writer.info
        self._gateway = _Gateway(self, models, cache)
        self.observer.on_start(writer.info, self.total)
        status = "failed"
        self._stop = asyncio.Event()
        workers: list[asyncio.Task[None]] = []
        try:
            work = self._work()
            workers = [
                asyncio.create_task(self._worker(work, models, cache, writer))
                for _ in range(max(1, min(self.concurrency, self.total)))
            ]
            try:
                await _all_or_first_error(workers)
            except asyncio.CancelledError:
                # The first Ctrl-C (asyncio.run cancels this task): start no new call,
                # but let the calls in flight finish, be recorded and cached, for they
                # are paid for. A second Ctrl-C stops at once.
                status = "interrupted"
                self._stop.set()
                self.observer.on_interrupt(self._in_flight, self.drain_timeout)
                await asyncio.wait(workers, timeout=self.drain_timeout)
                raise
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            info = writer.finish(status, dict(self.counts))
            if cache is not None:
                cache.close()
            await _close(models)
            self.observer.on_finish(info)
        return info

    async def _worker(
        self,
        work: Iterator[WorkItem],
        models: dict[str, _Model],
        cache: Cache | None,
        writer: RunWriter,
    ) -> None:
        for item in work:  # generators are safe to share between tasks of one loop
            if self._stop.is_set():
                return
            try:
                record = await self._one(item, models[item.model], cache)
            except _Abandoned:
                return
            writer.write(record)
            self.counts["records"] += 1
            self.counts["errors"] += record.error is not None
            self.counts["cached"] += record.cached
            self.counts["retries"] += record.retries
            self.observer.on_record(record)

    async def _one(self, item: WorkItem, model: _Model, cache: Cache | None) -> Record:
        case, variant = item.case, item.variant
        messages = variant.render(case)
        record = Record(
            case_id=case.id,
            variant=variant.name,
            model=item.model,
            repeat=item.repeat,
            vars=case.vars,
            messages=messages,
            expected=case.expected,
        )
        key = cache_key(model.config.provider, model.identity, messages, item.repeat)
        completion = cache.get(key) if cache is not None else None
        if completion is not None:
            record.cached = True
        else:
            self._in_flight += 1
            try:
                completion, err, record.retries = await self._call(
                    model, Prompt(messages, model.params)
                )
            finally:
                self._in_flight -= 1
            if err is not None:
                record.error = CallError(err.kind, err.message, err.status)
            if completion is None:
                return record
            if cache is not None:
                cache.put(key, completion)
        record.output = completion.text
        record.usage = completion.usage
        record.latency_ms = round(completion.latency_ms, 3)
        record.finish_reason = completion.finish_reason
        record.cost = price_cost(
            model.price, completion.usage.prompt_tokens, completion.usage.completion_tokens
        )
        specs = self.suite.metrics_for(variant, case)
        if specs:
            sample = Sample(
                case,
                completion.text,
                completion,
                variant.name,
                item.model,
                record.cost,
                self._gateway,
                messages,
            )
            record.scores = await score_all(self._bind(specs, self.suite.renderer), sample)
            threshold = case.threshold if case.threshold is not None else self.suite.threshold
            record.passed = case_passed(record.scores.values(), threshold)
        return record

    async def _attempt(self, model: _Model, prompt: Prompt) -> Completion:
        """One try, through the model's rate gate when it has one."""
        gate = model.gate
        if gate is None:
            return await model.provider.complete(prompt)
        estimate = 0.0
        if gate.tokens is not None:
            chars = sum(len(m.content) for m in prompt.messages)
            estimate = estimate_tokens(chars, prompt.params.get("max_tokens"))
        seq = await gate.acquire(estimate)
        if self._stop.is_set():
            gate.release(seq, limits=None, rate_limited=False, retry_after=None)
            raise _Abandoned
        try:
            completion = await model.provider.complete(prompt)
        except ProviderError as exc:
            gate.release(
                seq,
                limits=exc.rate_limit,
                rate_limited=exc.kind == "rate_limit",
                retry_after=exc.retry_after,
                tokens_estimated=estimate,
                tokens_used=estimate,
            )
            raise
        except BaseException:
            gate.release(seq, limits=None, rate_limited=False, retry_after=None)
            raise
        gate.release(
            seq,
            limits=completion.rate_limit,
            rate_limited=False,
            retry_after=None,
            tokens_used=completion.usage.total_tokens,
            tokens_estimated=estimate,
        )
        return completion

    async def _call(
        self, model: _Model, prompt: Prompt
    ) -> tuple[Completion | None, ProviderError | None, int]:
        """Call with retries: the completion, or the last error; and how many retries."""
        attempts = model.config.max_retries + 1
        # A hung provider must not hang the run: give up on an attempt well past its timeout.
        hard_limit = model.config.timeout * 2 + 5
        for attempt in range(attempts):
            try:
                async with _acquire(model.limit):
                    if self._stop.is_set():  # waited for the model's limit past a Ctrl-C
                        raise _Abandoned
                    async with asyncio.timeout(hard_limit):
                        # The attempt's index is how many retries came before it.
                        return await self._attempt(model, prompt), None, attempt
            except (_Abandoned, UsageError):
                raise
            except TimeoutError:
                err = ProviderError(
                    "the call did not return in time", kind="timeout", retryable=True
                )
            except ProviderError as exc:
                err = exc
            except Exception as exc:  # a provider bug must not stop the run
                err = ProviderError(
                    f"{type(exc).__name__}: {exc}", kind="provider_bug", retryable=False
                )
            if not err.retryable or attempt == attempts - 1:
                return None, err, attempt
            if self._stop.is_set():
                raise _Abandoned
            delay = self.backoff.delay(attempt, err.retry_after, self._rng)
            self.observer.on_retry(model.name, attempt + 1, err.message, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)  # a sleep that Ctrl-C ends
                raise _Abandoned
        raise AssertionError("unreachable: the last attempt returns")


@contextlib.asynccontextmanager
async def _acquire(sem: asyncio.Semaphore | None) -> Any:
    if sem is None:
        yield
        return
    async with sem:
        yield


async def _close(models: dict[str, _Model]) -> None:
    for m in models.values():
        await m.aclose()


class _Gateway:
    """Calls to the suite's models on behalf of metrics (judges).

    Through the same cache (keyed with repeat 0: judging the same text twice is
    one call), retries and per-model limits as the run's own calls.
    """

    def __init__(self, runner: Runner, models: dict[str, _Model], cache: Cache | None) -> None:
        self._runner = runner
        self._models = models
        self._cache = cache

    async def complete(
        self, model: str, messages: Sequence[Message], params: Mapping[str, Any] | None = None
    ) -> Completion:
        """Ask ``model``; raise ProviderError when the call fails after retries."""
        m = self._models.get(model)
        if m is None:
            raise ProviderError(f"no model named '{model}'", kind="config", retryable=False)
        extra = dict(params or {})
        msgs = tuple(messages)
        key = cache_key(m.config.provider, {**m.identity, **extra}, msgs, 0)
        hit = self._cache.get(key) if self._cache is not None else None
        if hit is not None:
            return hit
        completion, err, _ = await self._runner._call(m, Prompt(msgs, {**m.params, **extra}))
        if err is not None or completion is None:
            raise err or ProviderError("no completion", kind="unknown", retryable=False)
        if self._cache is not None:
            self._cache.put(key, completion)
        return completion
