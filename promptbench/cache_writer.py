"""The cache's batched writer: completions written on one thread, many per transaction.

A run stores a completion per call. Committed one by one on the event loop, each write
costs a transaction, and a cache held busy by another process (a second run, a
``promptbench cache clear``) stalls every call of the run for as long as SQLite waits
for its lock. This writer takes rows from the loop without blocking it, and commits
whatever has gathered in one transaction on its own thread and connection, waiting out
a busy database there. Rows not yet committed stay readable through :meth:`pending`,
so a call repeated within the run still hits.

A kill loses at most the rows of the last ``interval`` (the run's records, written
apart, say which calls were made; those calls are made again on resume).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

# key, text, prompt tokens, completion tokens, latency, finish reason, model, created,
# tool calls (JSON, or None)
Row = tuple[str, str, int, int, float, str | None, str | None, float, str | None]

INSERT = (
    "INSERT OR REPLACE INTO completions (key, text, prompt_tokens, completion_tokens,"
    " latency_ms, finish_reason, model, created, tool_calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _passes(exc: sqlite3.Error) -> bool:
    """Whether waiting can cure ``exc``: another process's lock, not a damaged file."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class CacheWriter:
    """Rows queued by :meth:`put`, committed in batches on a daemon thread."""

    def __init__(self, path: Path, *, interval: float = 0.05, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.interval = interval  # the longest a row waits before its batch is committed
        self.busy_timeout = busy_timeout  # one attempt's wait for another process's lock
        self.written = 0
        self.failed: str | None = None  # the last error that made a batch wait
        self.fault: sqlite3.Error | None = None  # an error waiting cannot cure; writer stopped
        self._rows: dict[str, Row] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._hurry = threading.Event()  # flush or close is waiting: commit without gathering
        self._drained = threading.Condition(self._lock)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="promptbench-cache", daemon=True)
        self._thread.start()

    def put(self, row: Row) -> None:
        """Queue a row; never blocks on the database."""
        with self._lock:
            self._rows[row[0]] = row
        # Set only when clear: setting a set Event still takes its lock and notifies.
        # Safe: the writer clears the flag before it copies the rows, so a row queued
        # while the flag was still set is in the batch it copies next.
        if not self._wake.is_set():
            self._wake.set()

    def pending(self, key: str) -> Row | None:
        """The queued, not yet committed row for ``key``."""
        with self._lock:
            return self._rows.get(key)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued row is committed; False when ``timeout`` ran out first."""
        self._hurry.set()
        self._wake.set()
        with self._drained:
            return (
                self._drained.wait_for(lambda: not self._rows or self.fault is not None, timeout)
                and not self._rows
            )

    def close(self, timeout: float = 30.0) -> int:
        """Commit what is queued (waiting up to ``timeout`` for a busy database); stop.

        Returns how many rows could not be committed (0 unless the database stayed busy
        or failed): they are lost to the cache, not to the run.
        """
        self.flush(timeout)
        with self._lock:
            self._stopping = True
            lost = len(self._rows)
        self._hurry.set()
        self._wake.set()
        self._thread.join(timeout=max(self.busy_timeout, 1.0) + 1.0)
        return lost

    def _loop(self) -> None:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            while True:
                self._wake.wait()
                # Let a batch gather, unless someone waits for it: a run's close would
                # otherwise sleep twice (its last batch, then the stop), 0.1 s of every run.
                self._hurry.wait(self.interval)
                self._hurry.clear()
                self._wake.clear()
                with self._lock:
                    if self._stopping:
                        return
                    batch = dict(self._rows)
                if not batch:
                    continue
                try:
                    with db:  # one transaction for the whole batch
                        db.execute("BEGIN IMMEDIATE")
                        db.executemany(INSERT, batch.values())
                except sqlite3.Error as exc:
                    self.failed = str(exc)
                    if not _passes(exc):  # damaged or full: the cache's owner decides
                        self.fault = exc
                        with self._lock:
                            self._drained.notify_all()
                        return
                    self._wake.set()  # busy past busy_timeout: try again
                    continue
                with self._lock:
                    for key, row in batch.items():
                        if self._rows.get(key) is row:  # not replaced while committing
                            del self._rows[key]
                    self.written += len(batch)
                    if not self._rows:
                        self._drained.notify_all()
        finally:
            db.close()
