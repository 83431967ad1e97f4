"""The async engine: every variant x model x case x repeat, called, scored, recorded.

Work is generated lazily and pulled by a fixed pool of workers (the run's
concurrency), so memory does not grow with the dataset. Each call goes through
:class:`~promptbench.runner.calls.Caller` (budget, a model's own concurrency,
rate gates, retries); a call that still fails becomes an error record and the
run goes on. Records are written the moment they are scored; an unfinished run
of the same job is taken up where it stopped.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from promptbench.cache import RunCache
from promptbench.errors import InfrastructureError, UsageError
from promptbench.metrics.base import Sample
from promptbench.metrics.scoring import BoundMetric, case_passed, score_all
from promptbench.render import Renderer
from promptbench.runner.budget import Budget
from promptbench.runner.calls import Caller, ModelHandle, Stopped, close_all, model_handles
from promptbench.runner.completion import CompletionPath, Gateway
from promptbench.runner.conversation import StepResult, converse
from promptbench.runner.observer import BaseObserver, Observer
from promptbench.runner.options import RunOptions
from promptbench.runner.retry import Backoff
from promptbench.runner.runmeta import BudgetMeta, GroupCounts, RunStatus
from promptbench.runner.selection import (
    WorkItem,
    count_cases,
    select,
    selected_cases,
    selected_probes,
)
from promptbench.runner.store import (
    FLUSH_SECONDS,
    RunInfo,
    RunWriter,
    default_runs_dir,
    find_resumable,
    iter_records,
    resume_key,
)
from promptbench.suite import Suite, Variant
from promptbench.suite.model import Conversation
from promptbench.types import (
    CallError,
    Case,
    Completion,
    Message,
    MetricSpec,
    Record,
    split_turns,
)


async def _all_or_first_error(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task and raise the first one's error.

    Unlike ``gather``, being cancelled does not cancel the tasks.
    """
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            raise exc


def _may_converse(variant: Variant, case: Case) -> bool:
    """Whether the call can go on past its first answer (turns, a simulated user, tools).

    Most calls are single; telling so from the fields spares rendering a
    :class:`Conversation` per call only to find it empty (what ``single`` checks).
    """
    return bool(
        case.turns
        or case.user is not None
        or variant.turns
        or variant.user is not None
        or variant.tools is not None
    )


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
        self.probes = selected_probes(suite, self.options)  # raises on an unknown --probe
        self.n_cases = count_cases(suite, self.options)
        self.total = self.n_cases * self.repeat * len(self.variants) * len(self.model_names)
        # Keyed by the spec itself (identity-hashed), not id(): a case's own spec, freed with
        # its case, must not hand its id and its binding to the next case's spec.
        self._bound: dict[MetricSpec, BoundMetric] = {}
        self.counts = {"records": 0, "errors": 0, "cached": 0, "retries": 0}
        self.group_counts: dict[tuple[str, str], GroupCounts] = {}
        self._stop = asyncio.Event()  # set on Ctrl-C or at the budget: no new call starts
        self.info: RunInfo | None = None  # set once the run directory exists
        self._caller: Caller | None = None
        self._path: CompletionPath | None = None
        self._models: dict[str, ModelHandle] = {}
        self._done: set[tuple[str, str, str, int]] = set()  # resumed: recorded already
        self._fault: InfrastructureError | None = None  # the store failed: raised at the end
        self.budget = Budget(self.options.max_cost) if self.options.max_cost else None
        self.stopped_early: str | None = None  # why request_stop() ended the run early
        # Fields of run.json computed when the run ends (the sequential verdict): each
        # value is set on the RunMeta under its key.
        self.annotations: dict[str, Callable[[], Any]] = {}
        if self.budget is not None:
            unpriced = [n for n in self.model_names if suite.models[n].effective_price() is None]
            if unpriced:
                raise UsageError(
                    f"a spending limit needs a price for every model, and '{unpriced[0]}' has "
                    "none; set price: {input: .., output: ..} (USD per million tokens) in the "
                    "suite",
                    hint="max_cost",
                )

    def request_stop(self, reason: str) -> None:
        """Start no new call (the calls in flight finish and are recorded): the run is done.

        For an observer that has seen enough, such as a settled sequential test.
        """
        if self.stopped_early is None:
            self.stopped_early = reason
        self._stop.set()

    def _work(self) -> Iterator[WorkItem]:
        # Case-major order: every model gets work early, so per-model limits and
        # a slow model do not leave the others idle.
        variants = [self.suite.variants[v] for v in self.variants]
        done = self._done
        cases: Iterable[Case] = selected_cases(self.suite, self.options)
        if self.options.order_seed is not None:
            # A random order, so that the cases seen first are a fair sample of the
            # rest (a sequential test stops early); it holds the selected cases.
            cases = list(cases)
            random.Random(self.options.order_seed).shuffle(cases)
        for case in cases:
            for rep in range(self.repeat):
                for variant in variants:
                    for model in self.model_names:
                        if done and (case.id, variant.name, model, rep) in done:
                            continue
                        yield WorkItem(case, variant, model, rep)

    def _replay(self, writer: RunWriter) -> None:
        """Take the records of the run being resumed as done, and tell the observers."""
        for record in iter_records(writer.info.run_dir):
            key = (record.case_id, record.variant, record.model, record.repeat)
            if key in self._done:
                continue
            self._done.add(key)
            self._count(record)
            self.observer.on_record(record)

    def _count(self, record: Record) -> None:
        self.counts["records"] += 1
        self.counts["errors"] += record.error is not None
        self.counts["cached"] += record.cached
        self.counts["retries"] += record.retries
        key = (record.variant, record.model)
        group = self.group_counts.get(key)
        if group is None:
            group = self.group_counts[key] = GroupCounts(variant=key[0], model=key[1])
        group.add(record.error is not None, record.passed, record.cost)

    def _bind(self, specs: tuple[MetricSpec, ...], renderer: Renderer) -> list[BoundMetric]:
        out = []
        for spec in specs:
            b = self._bound.get(spec)
            if b is None:
                if len(self._bound) >= 4096:  # cases with their own metrics: memory stays flat
                    self._bound.clear()
                b = self._bound[spec] = BoundMetric(spec, renderer)
            out.append(b)
        return out

    async def run(self) -> RunInfo:
        """Make every call, write every record; return the run's metadata."""
        # Every model of the suite, judges included; providers are created on first use.
        models = model_handles(self.suite)
        for name in self.model_names:
            models[name].config.preflight()
        # The cache is disposable: damaged, locked or removed, the run goes on and says so.
        cache = (
            RunCache(self.options.cache_path, self.observer.on_notice)
            if self.options.use_cache
            else None
        )
        runs_dir = self.options.runs_dir or default_runs_dir()
        options = self.options.model_dump(mode="json", exclude_none=True)
        # The same job left unfinished (killed, interrupted, stopped at a budget) is
        # taken up where it stopped: its records are the journal of what is done.
        previous = (
            find_resumable(runs_dir, resume_key(self.suite, options))
            if self.options.resume
            else None
        )
        writer = RunWriter(
            runs_dir,
            self.suite,
            options=options,
            variants=self.variants,
            models=self.model_names,
            resume=previous,
            command=self.options.command,
        )
        self.info = writer.info
        self._stop = asyncio.Event()
        self._caller = caller = Caller(self.observer, self.backoff, self.budget, self._stop)
        self._path = CompletionPath(caller, cache)
        self._models = models
        self.observer.on_start(writer.info, self.total)
        if writer.resumed_from is not None:
            self._replay(writer)
        status: RunStatus = "failed"
        workers: list[asyncio.Task[None]] = []
        flusher = asyncio.create_task(self._flush_periodically(writer))
        try:
            work = self._work()
            workers = [
                asyncio.create_task(self._worker(work, models, writer))
                for _ in range(max(1, min(self.concurrency, self.total)))
            ]
            try:
                await _all_or_first_error(workers)
                self._flush(writer)  # the last batch, before the run can be called finished
            except asyncio.CancelledError:
                # The first Ctrl-C (asyncio.run cancels this task): start no new call,
                # but let the calls in flight finish, be recorded and cached, for they
                # are paid for. A second Ctrl-C stops at once.
                status = "interrupted"
                self._stop.set()
                self.observer.on_interrupt(caller.in_flight, self.drain_timeout)
                await asyncio.wait(workers, timeout=self.drain_timeout)
                raise
            if self._fault is not None:
                raise self._fault
            status = "stopped_at_budget" if self.budget and self.budget.exhausted else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            flusher.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(flusher, *workers, return_exceptions=True)
            spent = None
            if self.budget is not None:
                spent = BudgetMeta(
                    limit=self.budget.limit,
                    spent=round(self.budget.spent, 6),
                    exhausted=self.budget.exhausted,
                    not_run=self.total - self.counts["records"],
                )
            writer.info.meta.stopped_early = self.stopped_early
            writer.info.meta.groups = list(self.group_counts.values())
            for key, annotate in self.annotations.items():
                setattr(writer.info.meta, key, annotate())
            info = writer.finish(status, dict(self.counts), spent)
            if cache is not None:
                cache.close()
            await close_all(models)
            self.observer.on_finish(info)
        return info

    def _flush(self, writer: RunWriter) -> None:
        """Write the records queued so far; a disk fault stops the run as in :meth:`_worker`."""
        if self._fault is not None:
            return
        try:
            writer.flush()
        except InfrastructureError as exc:
            self._fault = exc
            self._stop.set()

    async def _flush_periodically(self, writer: RunWriter) -> None:
        """Bound how long a record waits in memory when calls are slow to end."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if writer.pending:
                self._flush(writer)

    async def _worker(
        self,
        work: Iterator[WorkItem],
        models: dict[str, ModelHandle],
        writer: RunWriter,
    ) -> None:
        for item in work:  # generators are safe to share between tasks of one loop
            if self._stop.is_set():
                return
            try:
                record = await self._one(item, models[item.model])
            except Stopped:
                return
            if self._fault is not None:
                return  # paid for and cached, but the store cannot take it
            try:
                writer.write(record)
            except InfrastructureError as exc:
                # The disk, not the prompts: start no new call, let those in flight
                # finish into the cache, and say so once the workers are done.
                self._fault = exc
                self._stop.set()
                return
            self._count(record)
            self.observer.on_record(record)

    async def _paraphrased(self, case: Case) -> Case | CallError:
        """A paraphrase twin with the model's rewrites, asked through the completion path.

        Keyed with repeat 0, as a judge's call is: every variant, model and repeat sees
        the same rewrite, as a pair needs; cached, retried and rate-limited like any call.
        """
        asked = self.suite.probes.paraphrase_requests(case)
        if asked is None or self._path is None:
            return case
        name, requests = asked
        model = self._models.get(name)
        if model is None:
            return CallError("probe", f"no model named '{name}' to paraphrase with")
        rewrites = {}
        for var, request in requests.items():
            answer = await self._path.complete(model, [Message("user", request)])
            if answer.completion is None:
                why = answer.error.message if answer.error else "no completion"
                return CallError("probe", f"the paraphrase by '{name}' failed: {why}")
            rewrites[var] = answer.completion.text
        try:
            return self.suite.probes.paraphrased(case, rewrites)
        except ValueError as exc:
            return CallError("probe", str(exc))

    async def _one(self, item: WorkItem, model: ModelHandle) -> Record:
        case, variant = item.case, item.variant
        failed: CallError | None = None
        if case.probe is not None and "paraphrase" in case.probe.details:
            made = await self._paraphrased(case)
            case, failed = (case, made) if isinstance(made, CallError) else (made, None)
        messages = variant.render(case)
        record = Record(
            case_id=case.id,
            variant=variant.name,
            model=item.model,
            repeat=item.repeat,
            vars=case.vars,
            messages=messages,
            expected=case.expected,
            probe=case.probe,
        )
        if failed is not None:
            record.error = failed
            return record
        if _may_converse(variant, case):
            conversation = self.suite.conversation(variant, case)
            if not conversation.single:
                return await self._conversation(item, model, record, conversation)
        assert self._path is not None
        answer = await self._path.complete(model, messages, repeat=item.repeat)
        record.retries = answer.retries
        completion = answer.completion
        if completion is None:
            err = answer.error
            if err is not None:
                record.error = CallError(err.kind, err.message, err.status)
            return record
        record.cached = answer.cached
        record.output = completion.text
        record.usage = completion.usage
        record.latency_ms = round(completion.latency_ms, 3)
        record.finish_reason = completion.finish_reason
        record.cost, record.cost_saved = answer.spent, answer.saved
        specs = self.suite.metrics_for(variant, case)
        if specs:
            judges = Gateway(self._path, self._models)
            sample = Sample(
                case,
                completion.text,
                completion,
                variant.name,
                item.model,
                answer.price,  # what the answer costs, whether or not the cache paid
                judges,
                messages,
            )
            record.scores = await score_all(self._bind(specs, self.suite.renderer), sample)
            threshold = case.threshold if case.threshold is not None else self.suite.threshold
            record.passed = case_passed(record.scores.values(), threshold)
            if judges.spent is not None:
                record.cost = (record.cost or 0.0) + judges.spent
            record.cost_saved += judges.saved
        return record

    async def _step(
        self,
        model: ModelHandle,
        messages: tuple[Message, ...],
        extra: Mapping[str, Any],
        repeat: int,
    ) -> StepResult:
        """One call of a conversation, through the run's one completion path."""
        assert self._path is not None
        answer = await self._path.complete(model, messages, repeat=repeat, params=extra or None)
        err = answer.error
        return StepResult(
            answer.completion,
            CallError(err.kind, err.message, err.status) if err is not None else None,
            answer.retries,
            answer.cached,
            spent=answer.spent,
            saved=answer.saved,
            price=answer.price,
        )

    async def _conversation(
        self, item: WorkItem, model: ModelHandle, record: Record, conversation: Conversation
    ) -> Record:
        """Turns, a simulated user or a tool loop: every call recorded in one transcript."""
        case, variant = item.case, item.variant
        sim = conversation.user
        user_model = self._models.get(sim.model) if sim is not None else None

        async def call(
            m: ModelHandle, messages: tuple[Message, ...], extra: Mapping[str, Any]
        ) -> StepResult:
            return await self._step(m, messages, extra, item.repeat)

        ex = await converse(
            record.messages,
            conversation,
            model,
            call,
            context=case.context(),
            where=f"case '{case.id}', variant '{variant.name}'",
            user_model=user_model,
        )
        record.transcript = tuple(ex.transcript)
        record.calls = ex.calls
        record.retries = ex.retries
        record.cached = ex.cached
        record.usage = ex.usage
        record.latency_ms = round(ex.latency_ms, 3)
        record.cost, record.cost_saved = ex.cost, ex.saved
        record.finish_reason = ex.finish_reason
        if ex.error is not None:
            record.error = ex.error
            return record
        record.output = ex.reply or ""
        specs = self.suite.metrics_for(variant, case)
        if specs:
            assert self._path is not None
            judges = Gateway(self._path, self._models)
            turns = split_turns(record.messages, record.transcript)
            completion = Completion(
                record.output,
                ex.usage,
                ex.latency_ms,
                ex.finish_reason,
                None,
                tool_calls=turns[-1].tool_calls if turns else (),
            )
            sample = Sample(
                case,
                record.output,
                completion,
                variant.name,
                item.model,
                ex.price,  # what the conversation costs, whether or not the cache paid
                judges,
                tuple(record.transcript),
                completion.tool_calls,
                turns,
                len(turns) or None,
            )
            record.scores = await score_all(self._bind(specs, self.suite.renderer), sample)
            threshold = case.threshold if case.threshold is not None else self.suite.threshold
            record.passed = case_passed(record.scores.values(), threshold)
            if judges.spent is not None:
                record.cost = (record.cost or 0.0) + judges.spent
            record.cost_saved += judges.saved
        return record
