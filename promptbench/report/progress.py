"""Progress while a run goes: a live bar on a terminal, plain lines otherwise.

Both write to stderr, so stdout carries only results (``--json`` stays parseable).
"""

from __future__ import annotations

import time
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from promptbench.runner import BaseObserver, RunInfo
from promptbench.types import Record


class _Counts:
    def __init__(self) -> None:
        self.done = 0
        self.errors = 0
        self.cached = 0
        self.retries = 0
        self.started = time.perf_counter()

    def add(self, r: Record) -> None:
        self.done += 1
        self.errors += r.error is not None
        self.cached += r.cached

    @property
    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


def _stopping(in_flight: int, timeout: float) -> str:
    calls = "call" if in_flight == 1 else "calls"
    return (
        f"stopping: waiting up to {timeout:g} s for {in_flight} {calls} in flight "
        "(Ctrl-C again to stop now)"
    )


class LiveProgress(BaseObserver):
    """A rich progress bar: done/total, rate, ETA, errors, cache hits, retries."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.counts = _Counts()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=console,
            transient=False,
            refresh_per_second=8,
        )
        self.task: TaskID | None = None

    def on_start(self, info: RunInfo, total: int) -> None:
        """Show the bar."""
        self.counts = _Counts()
        if info.meta.resumed_at:
            self.console.print(_resuming(info), style="yellow", markup=False, soft_wrap=True)
        self.progress.start()
        self.task = self.progress.add_task(info.meta.suite.name, total=total, rate=0.0, extra="")

    def on_record(self, record: Record) -> None:
        """Advance the bar."""
        self.counts.add(record)
        if self.task is not None:
            self.progress.update(self.task, advance=1, rate=self.counts.rate, extra=self._extra())

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        """Count the retry."""
        self.counts.retries += 1

    def on_interrupt(self, in_flight: int, timeout: float) -> None:
        """Say that the run is stopping."""
        self.console.print(_stopping(in_flight, timeout), style="yellow", markup=False)

    def _extra(self) -> str:
        c = self.counts
        parts = []
        if c.errors:
            parts.append(f"[red]{c.errors} errors[/red]")
        if c.cached:
            parts.append(f"{c.cached} cached")
        if c.retries:
            parts.append(f"{c.retries} retries")
        return "  ".join(parts)

    def on_finish(self, info: RunInfo) -> None:
        """Stop the bar."""
        if self.task is not None:
            self.progress.update(self.task, rate=self.counts.rate, extra=self._extra())
        self.progress.stop()


class PlainProgress(BaseObserver):
    """One line at start, then a line every ``every`` seconds and at the end; for logs and CI."""

    def __init__(self, stream: IO[str], every: float = 5.0) -> None:
        self.stream = stream
        self.every = every
        self.counts = _Counts()
        self.total = 0
        self._last = 0.0
        self._printed = -1  # how many were done when the last line was printed

    def on_start(self, info: RunInfo, total: int) -> None:
        """Say what is about to happen."""
        self.counts = _Counts()
        self.total = total
        self._last = time.perf_counter()
        if info.meta.resumed_at:
            print(_resuming(info), file=self.stream, flush=True)
        print(f"run {info.run_id}: {total} calls", file=self.stream, flush=True)

    def on_record(self, record: Record) -> None:
        """Print a line now and then."""
        self.counts.add(record)
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._last = now
            self._line()

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        """Count the retry."""
        self.counts.retries += 1

    def on_interrupt(self, in_flight: int, timeout: float) -> None:
        """Say that the run is stopping."""
        print(_stopping(in_flight, timeout), file=self.stream, flush=True)

    def _line(self) -> None:
        c = self.counts
        self._printed = c.done
        print(
            f"{c.done}/{self.total} done, {c.rate:.1f}/s, {c.errors} errors, {c.cached} cached, "
            f"{c.retries} retries",
            file=self.stream,
            flush=True,
        )

    def on_finish(self, info: RunInfo) -> None:
        """Print the last line, unless the last periodic one already said it all."""
        if self._printed != self.counts.done:
            self._line()


def _resuming(info: RunInfo) -> str:
    return (
        f"taking up run {info.run_id} where it stopped (its records so far count as done; "
        "--fresh starts a new run)"
    )
