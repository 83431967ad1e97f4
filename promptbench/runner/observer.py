"""How the runner reports progress without knowing who listens.

The terminal's progress bar, the summary aggregator and W&B logging are all
observers; the runner never imports a UI.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from promptbench.types import Record

if TYPE_CHECKING:
    from promptbench.runner.store import RunInfo


class Observer(Protocol):
    """Receives the run's events; every method is optional in spirit but must exist."""

    def on_start(self, info: RunInfo, total: int) -> None:
        """The run is about to make ``total`` calls."""

    def on_record(self, record: Record) -> None:
        """A call finished and was scored (or recorded as an error)."""

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        """A call failed and will be tried again after ``delay`` seconds."""

    def on_interrupt(self, in_flight: int, timeout: float) -> None:
        """Ctrl-C: no new call starts; up to ``timeout`` s for the ``in_flight`` calls."""

    def on_finish(self, info: RunInfo) -> None:
        """The run ended (finished, interrupted or failed)."""

    def on_notice(self, message: str) -> None:
        """Something the user should know that does not stop the run (the cache failed)."""


class BaseObserver:
    """An observer that ignores everything; subclass and override what you need."""

    def on_start(self, info: RunInfo, total: int) -> None:
        """Ignore."""

    def on_record(self, record: Record) -> None:
        """Ignore."""

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        """Ignore."""

    def on_interrupt(self, in_flight: int, timeout: float) -> None:
        """Ignore."""

    def on_finish(self, info: RunInfo) -> None:
        """Ignore."""

    def on_notice(self, message: str) -> None:
        """Ignore."""


class Observers(BaseObserver):
    """Fans every event out to several observers."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        self.observers = list(observers)

    def on_start(self, info: RunInfo, total: int) -> None:
        """Forward."""
        for o in self.observers:
            o.on_start(info, total)

    def on_record(self, record: Record) -> None:
        """Forward."""
        for o in self.observers:
            o.on_record(record)

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        """Forward."""
        for o in self.observers:
            o.on_retry(model, attempt, reason, delay)

    def on_interrupt(self, in_flight: int, timeout: float) -> None:
        """Forward."""
        for o in self.observers:
            o.on_interrupt(in_flight, timeout)

    def on_finish(self, info: RunInfo) -> None:
        """Forward."""
        for o in self.observers:
            o.on_finish(info)

    def on_notice(self, message: str) -> None:
        """Forward (to observers written before notices existed too: they ignore it)."""
        for o in self.observers:
            notice = getattr(o, "on_notice", None)
            if notice is not None:
                notice(message)
