"""The run store as the viewer reads it: every run directory, readable or not, cached.

The viewer lists thousands of runs on every request, so each run's ``run.json`` is
parsed once per version of the file (its size and mtime are the cache key) and each
run's summary once per version of its ``records.jsonl``. A directory whose
``run.json`` is missing (a run that died before writing it) or cannot be read is kept
as an *unreadable* entry with the reason, so that it is shown, never a crash.
Nothing here writes.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from promptbench.errors import RunStoreError
from promptbench.runner.runmeta import RUN_FILE, RunMeta, read_meta
from promptbench.runner.store import RECORDS_FILE
from promptbench.runs import StoredRun
from promptbench.stats import Summary

# What a run id can be: the store's own ids (20261201-224321-e2e-356c) and any directory
# name made of the same characters; never a path, never "." or "..".
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
UNREADABLE = "unreadable"


def valid_run_id(text: str) -> bool:
    """Whether ``text`` can name a run directory directly under the runs directory."""
    return RUN_ID.fullmatch(text) is not None and ".." not in text


def _version(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class RunEntry:
    """One directory of the store: its run, or why it cannot be read."""

    run_id: str
    run_dir: Path
    meta: RunMeta | None
    problem: str | None = None

    @property
    def stored(self) -> StoredRun:
        """The run, for the code that reads runs (reports, diff); only when readable."""
        if self.meta is None:
            raise RunStoreError(f"run {self.run_id} is unreadable: {self.problem}")
        return StoredRun(self.run_dir, self.meta)

    @property
    def status(self) -> str:
        """The run's status, or ``unreadable``."""
        return self.meta.status if self.meta is not None else UNREADABLE

    @property
    def suite(self) -> str:
        """The suite's name ("" when unreadable)."""
        return self.meta.suite.name if self.meta is not None else ""

    @property
    def models(self) -> list[str]:
        """The run's models."""
        return list(self.meta.models) if self.meta is not None else []

    @property
    def variants(self) -> list[str]:
        """The run's variants."""
        return list(self.meta.variants) if self.meta is not None else []

    @property
    def started(self) -> str:
        """When it started, as stored (ISO 8601), or ""."""
        return (self.meta.started_at or "") if self.meta is not None else ""

    @property
    def records(self) -> int:
        """How many records ``run.json`` counts."""
        return self.meta.counts.records if self.meta is not None else 0


class RunIndex:
    """The runs under one directory, read lazily and cached per file version."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self._entries: dict[str, tuple[tuple[int, int] | None, RunEntry]] = {}
        self._summaries: dict[str, tuple[object, Summary | str]] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[RunEntry]:
        """Every run directory, newest first (unreadable ones last)."""
        found: list[RunEntry] = []
        try:
            children = list(os.scandir(self.runs_dir))
        except OSError:
            return []
        seen = set()
        for child in children:
            if not child.is_dir() or not valid_run_id(child.name):
                continue
            seen.add(child.name)
            entry = self._entry(child.name)
            if entry is not None:
                found.append(entry)
        with self._lock:
            for gone in set(self._entries) - seen:
                self._entries.pop(gone, None)
        found.sort(key=lambda e: (e.meta is not None, e.started, e.run_id), reverse=True)
        return found

    def get(self, run_id: str) -> RunEntry | None:
        """The run named ``run_id``, or None when there is no such directory (or no such id)."""
        if not valid_run_id(run_id) or not (self.runs_dir / run_id).is_dir():
            return None
        return self._entry(run_id)

    def _entry(self, run_id: str) -> RunEntry | None:
        run_dir = self.runs_dir / run_id
        version = _version(run_dir / RUN_FILE)
        with self._lock:
            cached = self._entries.get(run_id)
        if cached is not None and cached[0] == version and version is not None:
            return cached[1]
        if version is None:
            if not (run_dir / RECORDS_FILE).exists():
                return None  # not a run: some other directory
            entry = RunEntry(run_id, run_dir, None, f"no {RUN_FILE} (a run that was cut short?)")
        else:
            try:
                entry = RunEntry(run_id, run_dir, read_meta(run_dir))
            except RunStoreError as exc:
                entry = RunEntry(run_id, run_dir, None, str(exc))
            except OSError as exc:
                entry = RunEntry(run_id, run_dir, None, f"cannot read {RUN_FILE}: {exc.strerror}")
        with self._lock:
            self._entries[run_id] = (version, entry)
        return entry

    def summary(self, entry: RunEntry) -> Summary | str:
        """The run's summary per variant × model, or why its records cannot be read."""
        if entry.meta is None:
            return entry.problem or UNREADABLE
        version = (_version(entry.run_dir / RECORDS_FILE), _version(entry.run_dir / RUN_FILE))
        with self._lock:
            cached = self._summaries.get(entry.run_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        result: Summary | str
        try:
            result = entry.stored.summary()
        except RunStoreError as exc:
            result = str(exc)
        except OSError as exc:
            result = f"cannot read {RECORDS_FILE}: {exc.strerror}"
        with self._lock:
            self._summaries[entry.run_id] = (version, result)
        return result
