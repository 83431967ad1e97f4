"""Run a suite from Python: what the CLI does, without the terminal."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.errors import Issue, SuiteError, UsageError
from promptbench.runner import Observer, Observers, RunInfo, Runner, RunOptions
from promptbench.runner.loop import run as run_loop
from promptbench.runner.selection import select, selected_cases
from promptbench.stats import GateVerdict, Summary, run_verdict
from promptbench.stats.probes import ProbeReport, probe_report, report_json
from promptbench.suite import Suite, load_suite


@dataclass
class RunResult:
    """A finished run: where its records are, its summary and its verdict."""

    info: RunInfo
    suite: Suite
    summary: Summary
    verdict: GateVerdict
    probes: ProbeReport = field(default_factory=ProbeReport)  # the probes' verdicts

    @property
    def run_dir(self) -> Path:
        """The run's directory."""
        return self.info.run_dir

    def to_json(self) -> dict[str, Any]:
        """The run as JSON: identity, summary and verdict."""
        return {
            "run_id": self.info.run_id,
            "run_dir": str(self.info.run_dir),
            "suite": self.suite.name,
            "status": self.info.status,
            "outcome": self.verdict.outcome.value,
            "summary": self.summary.to_json(),
            "gate": self.verdict.to_json(),
            **({"probes": report_json(self.probes)} if self.probes else {}),
        }


def prepare(path: str | Path, options: RunOptions) -> tuple[Suite, Runner]:
    """Load and check a suite, and set up its runner; raises before anything is written."""
    suite = load_suite(path, user_code=options.user_code)
    # What the run will send, rendered before the first call: only the selected cases
    # and variants (a --limit 10 of a million-case dataset renders ten).
    variants, _ = select(suite, options)
    issues = suite.render_issues(cases=selected_cases(suite, options), variants=variants)
    if issues:  # one line per problem, naming the suite file
        raise SuiteError(issues)
    runner = Runner(suite, options)
    # Keys and runtimes are checked for every suite before the first call of any.
    shown = os.path.relpath(suite.path) if suite.path.is_relative_to(Path.cwd()) else suite.path
    for name in runner.model_names:
        try:
            suite.models[name].preflight()
        except UsageError as exc:
            raise SuiteError([Issue(str(shown), str(exc), field=f"models.{name}")]) from None
    return suite, runner


class Terminated(KeyboardInterrupt):
    """The run was stopped by SIGTERM or SIGHUP, drained like a Ctrl-C; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# What CI cancellation, `timeout`, Docker and Kubernetes send (SIGTERM), and a closed
# terminal (SIGHUP). SIGINT is asyncio.run's own: the same drain.
DRAINED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


async def _run_draining_on_signals(runner: Runner) -> RunInfo:
    """``runner.run()``, with SIGTERM and SIGHUP handled as asyncio.run handles Ctrl-C.

    The first signal cancels the run's task: the runner starts no new call, drains
    the calls in flight and writes run.json as interrupted; a second stops at once.
    A signal that the parent ignored (``nohup``) stays ignored.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if task is not None:
            task.cancel()

    installed = []
    for signum in DRAINED_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (RuntimeError, ValueError):  # not the main thread: leave signals alone
            continue
        installed.append(signum)
    try:
        return await runner.run()
    except asyncio.CancelledError:
        if received:
            raise Terminated(received[0]) from None
        raise
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def run_prepared(suite: Suite, runner: Runner, observers: Iterable[Observer] = ()) -> RunResult:
    """Run a prepared suite to the end.

    Ctrl-C raises KeyboardInterrupt, SIGTERM and SIGHUP raise :class:`Terminated`
    (a KeyboardInterrupt), once the calls in flight are drained and the records saved.
    """
    summary = Summary(suite.metric_names, runner.variants, runner.model_names)
    runner.observer = Observers([summary, *observers])
    info = run_loop(_run_draining_on_signals(runner))  # uvloop where installed
    summary.drop_empty()
    probes = ProbeReport()
    if runner.probes:
        from promptbench.runner import iter_records

        kinds = {name: p.kind for name, p in runner.probes.probes.items()}
        similar = [n for n, p in runner.probes.probes.items() if getattr(p, "similarity", False)]
        similarity: Callable[[list[str], list[str]], list[float]] | None = None
        if similar:  # the embed extra, checked when the suite loaded
            from promptbench.metrics.semantic import cosines as similarity
        probes = probe_report(
            iter_records(info.run_dir), probes=kinds, similarity=similarity, similar=similar
        )
    # The same function as `show`, `merge` and the reports: they cannot disagree.
    return RunResult(info, suite, summary, run_verdict(info.meta, summary, probes), probes)


def run_suite(path: str | Path, **options: Any) -> RunResult:
    """Run the suite at ``path``; ``options`` are those of ``promptbench run`` (RunOptions).

    Example::

        result = promptbench.run_suite("suites/qa.yaml", models=["tiny"], limit=5)
        print(result.summary.to_json())
    """
    try:
        run_options = RunOptions(**options)
    except Exception as exc:
        raise UsageError(f"invalid run option: {exc}") from None
    suite, runner = prepare(path, run_options)
    return run_prepared(suite, runner)
