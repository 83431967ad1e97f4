"""A content-addressed store of completions, in SQLite.

The key is a hash of everything that changes what a model answers: the
provider, the model's output-affecting settings (model, server, temperature,
max_tokens, ...), the rendered messages, and the repeat index (so repeats are
independent samples, not replays of one call). Timeouts, concurrency, retries
and API keys are not part of it. A hit keeps the original call's latency and
usage. Errors are never stored.

The database runs in WAL mode, so several runs can share it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from promptbench.cache_writer import INSERT, CacheWriter, Row
from promptbench.errors import UsageError
from promptbench.types import Completion, Message, ToolCall, Usage

SCHEMA_VERSION = 1


def default_path() -> Path:
    """``$PROMPTBENCH_CACHE``, else ``$XDG_CACHE_HOME/promptbench/cache.db``."""
    env = os.environ.get("PROMPTBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promptbench" / "cache.db"


def cache_key(
    provider: str, identity: Mapping[str, Any], messages: Sequence[Message], repeat: int
) -> str:
    """The cache key of one call."""
    payload = {
        "v": SCHEMA_VERSION,
        "provider": provider,
        "model": dict(identity),
        "messages": [m.key() for m in messages],
        "repeat": repeat,
    }
    blob = _KEY_JSON.encode(payload)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# Built once: json.dumps with these arguments would build an encoder for every key.
_KEY_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_quote = encode_basestring  # what _KEY_JSON quotes text with (ensure_ascii=False)


class KeyMaker:
    """:func:`cache_key` for one provider and model identity, with their JSON encoded once.

    A run asks for a key per call, and the identity (a dozen settings) is the same for
    every call of a model: only the messages and the repeat change. The payload's keys
    are sorted, so its JSON is the messages, then the identity and the provider, then
    the repeat and the version; the parts that do not change are joined around the
    messages' JSON instead of encoding the whole payload again. The bytes hashed are
    exactly those of :func:`cache_key` (a test holds the two together), so caches
    written before stay valid.
    """

    __slots__ = ("_middle", "_suffixes")

    def __init__(self, provider: str, identity: Mapping[str, Any]) -> None:
        enc = _KEY_JSON.encode
        self._middle = f',"model":{enc(dict(identity))},"provider":{enc(provider)},"repeat":'
        self._suffixes: dict[int, str] = {}  # repeat -> its tail of the payload

    def key(self, messages: Sequence[Message], repeat: int) -> str:
        """The cache key of one call with these messages and this repeat index."""
        tail = self._suffixes.get(repeat)
        if tail is None:
            tail = self._suffixes[repeat] = (
                f'{self._middle}{_KEY_JSON.encode(repeat)},"v":{SCHEMA_VERSION}}}'
            )
        # A plain message's key is [role, text]: its JSON written with the encoder's own
        # quoting (encode_basestring, as ensure_ascii=False quotes), not by a whole
        # encoder made for every key.
        parts = [
            f"[{_quote(m.role)},{_quote(m.content)}]"
            if m.plain and type(m.role) is str and type(m.content) is str
            else _KEY_JSON.encode(m.key())
            for m in messages
        ]
        blob = '{"messages":[' + ",".join(parts) + "]" + tail
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class _OpenFailed(UsageError):
    """SQLite could not open the cache; ``cause`` says why (a run tells damaged from locked)."""

    def __init__(self, message: str, cause: sqlite3.Error) -> None:
        super().__init__(message, hint="use_cache")
        self.cause = cause


def _add_tool_calls_column(db: sqlite3.Connection) -> None:
    """Caches made before tool calls lack the column; adding it keeps their entries valid."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(completions)")}
    if "tool_calls" not in columns:
        with contextlib.suppress(sqlite3.OperationalError):  # another run added it meanwhile
            db.execute("ALTER TABLE completions ADD COLUMN tool_calls TEXT")


@dataclass(frozen=True)
class CacheStats:
    """What the cache holds."""

    path: Path
    entries: int
    bytes: int
    oldest: float | None
    newest: float | None


class Cache:
    """Completions by key.

    ``batched=True`` (what a run uses) hands writes to a :class:`CacheWriter` that
    commits them in batches on its own thread; :meth:`close` commits what is left.
    """

    def __init__(
        self, path: Path | None = None, *, timeout: float = 30.0, batched: bool = False
    ) -> None:
        self.path = path or default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                " key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens INTEGER,"
                " completion_tokens INTEGER, latency_ms REAL, finish_reason TEXT,"
                " model TEXT, created REAL NOT NULL)"
            )
            _add_tool_calls_column(self._db)
        except sqlite3.Error as exc:
            raise _OpenFailed(
                f"cache {self.path}: cannot open ({exc}); set PROMPTBENCH_CACHE to a writable "
                "path, or run without the cache",
                exc,
            ) from None
        except OSError as exc:  # the directory cannot be made
            raise UsageError(
                f"cache {self.path}: cannot open ({exc}); set PROMPTBENCH_CACHE to a writable "
                "path, or run without the cache",
                hint="use_cache",
            ) from None
        self.hits = 0
        self.misses = 0
        self.lost = 0  # batched writes the database never took (busy or failing to the end)
        self.write_error: str | None = None  # why, when some were lost
        self._writer = CacheWriter(self.path, busy_timeout=timeout) if batched else None

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key``, or None."""
        queued = self._writer.pending(key) if self._writer is not None else None
        if queued is not None:
            self.hits += 1
            return _completion(queued[1:7], queued[8])
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens, latency_ms, finish_reason, model,"
            " tool_calls FROM completions WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return _completion(row[:6], row[6])

    def put(self, key: str, completion: Completion) -> None:
        """Store a successful completion: committed at once, or queued when batched."""
        row: Row = (
            key,
            completion.text,
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            completion.latency_ms,
            completion.finish_reason,
            completion.model,
            time.time(),
            json.dumps([c.to_json() for c in completion.tool_calls])
            if completion.tool_calls
            else None,
        )
        if self._writer is not None:
            self._writer.put(row)
            return
        self._db.execute(INSERT, row)

    def write_fault(self) -> sqlite3.Error | None:
        """The error that stopped the batched writer (a damaged or full database), if any."""
        return self._writer.fault if self._writer is not None else None

    def contains(self, key: str) -> bool:
        """Whether ``key`` is stored (without counting a hit)."""
        return (
            self._db.execute("SELECT 1 FROM completions WHERE key = ?", (key,)).fetchone()
            is not None
        )

    def stats(self) -> CacheStats:
        """Entries, size on disk, and the age range."""
        n, oldest, newest = self._db.execute(
            "SELECT COUNT(*), MIN(created), MAX(created) FROM completions"
        ).fetchone()
        size = sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )
        return CacheStats(self.path, n, size, oldest, newest)

    def clear(self, older_than: float | None = None) -> int:
        """Delete entries (those created more than ``older_than`` seconds ago); return how many."""
        if older_than is None:
            cur = self._db.execute("DELETE FROM completions")
        else:
            cur = self._db.execute(
                "DELETE FROM completions WHERE created < ?", (time.time() - older_than,)
            )
        deleted = cur.rowcount
        self._db.execute("VACUUM")
        return deleted

    def close(self, timeout: float = 30.0) -> None:
        """Commit any queued writes (waiting up to ``timeout``), then close the database."""
        if self._writer is not None:
            self.lost = self._writer.close(timeout)
            self.write_error = self._writer.failed
            self._writer = None
        self._db.close()


def _completion(fields: tuple[Any, ...], calls: str | None) -> Completion:
    """A completion from a row's (text, tokens in, tokens out, latency, finish, model)."""
    text, pt, ct, latency, finish, model = fields
    tool_calls = tuple(ToolCall.from_json(c) for c in json.loads(calls)) if calls else ()
    return Completion(
        text, Usage(pt or 0, ct or 0), latency or 0.0, finish, model, tool_calls=tool_calls
    )


def _fix(error: str) -> str:
    if "locked" in error.lower() or "busy" in error.lower():
        return "another process holds it; let it finish, or point PROMPTBENCH_CACHE elsewhere"
    return "check the path, or point PROMPTBENCH_CACHE elsewhere"


def _is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (not locked, not unreachable)."""
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


class RunCache:
    """The cache as a run uses it: disposable, so it never stops the run.

    A damaged database is moved aside (to ``<path>.corrupt-<time>``) and a fresh one
    made; a cache that is locked by another process, unreachable or removed
    mid-run is left alone, and the run goes on without it. Either is said once,
    through ``notify``. A short busy timeout: a run waits a moment for another
    run's write, not half a minute for a lock that is not let go.
    """

    busy_timeout = 2.0
    look_every = 0.1  # seconds between looks for a cache file removed under the run

    def __init__(self, path: Path | None, notify: Callable[[str], None]) -> None:
        self.path = path or default_path()
        self._notify = notify
        self._cache: Cache | None = None
        self._inode: int | None = None
        self._next_look = 0.0
        self.hits = 0
        self.misses = 0
        try:
            self._open()
        except sqlite3.Error as exc:
            self._fault(exc)
        except UsageError as exc:  # the directory cannot be made, the file not opened
            self._off(f"{exc}")

    def _open(self) -> None:
        try:
            cache = Cache(self.path, timeout=self.busy_timeout, batched=True)
        except _OpenFailed as failed:
            if not _is_corrupt(failed.cause):
                raise failed.cause from None
            self._move_aside(failed.cause)
            cache = Cache(self.path, timeout=self.busy_timeout, batched=True)
        self._cache = cache
        self._inode = os.stat(self.path).st_ino

    def _move_aside(self, exc: sqlite3.Error) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(Path(f"{aside}{suffix}"))
        self._notify(
            f"warning: cache {self.path} is damaged ({exc}); moved it to {aside} and started "
            "a fresh one (delete the old one when you no longer need it)"
        )

    def _off(self, why: str) -> None:
        if self._cache is not None:
            with contextlib.suppress(sqlite3.Error):
                self._cache.close(self.busy_timeout)
        self._cache = None
        self._notify(
            f"warning: {why}; the run goes on without the cache (answers are not stored, "
            "so a re-run pays for them again)"
        )

    def _fault(self, exc: sqlite3.Error) -> None:
        """A cache operation failed: start afresh if the file is damaged, else go on without."""
        if _is_corrupt(exc):
            if self._cache is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._cache.close(0)  # its queued rows go nowhere: the file is damaged
                self._cache = None
            try:
                self._move_aside(exc)
                self._cache = Cache(self.path, timeout=self.busy_timeout, batched=True)
                self._inode = os.stat(self.path).st_ino
                return
            except (OSError, sqlite3.Error, UsageError) as again:
                self._off(f"cache {self.path}: cannot start a fresh one ({again})")
                return
        self._off(f"cache {self.path}: {exc} ({_fix(str(exc))})")

    def _vanished(self) -> bool:
        # A stat a call cost as much as the rest of the cache's work: look a few times a
        # second (what is put in between goes to the removed file: lost to the cache only).
        self._next_look = time.monotonic() + self.look_every
        try:
            return os.stat(self.path).st_ino != self._inode
        except OSError:
            return True

    def _open_cache(self) -> Cache | None:
        return self._cache

    def get(self, key: str) -> Completion | None:
        """The stored completion for ``key``, or None (also when the cache is off)."""
        if self._cache is None:
            return None
        try:
            hit = self._cache.get(key)
        except sqlite3.Error as exc:
            self._fault(exc)
            return None
        self.hits, self.misses = self._cache.hits, self._cache.misses
        return hit

    def put(self, key: str, completion: Completion) -> None:
        """Store ``completion``; a cache removed under the run is noticed here."""
        if self._cache is None:
            return
        now = time.monotonic()
        if now >= self._next_look and self._vanished():
            # SQLite would go on writing into the removed file, and every answer be lost.
            self._off(f"cache {self.path} was removed during the run")
            return
        fault = self._cache.write_fault()  # what the batched writer met since the last put
        if fault is not None:
            self._fault(fault)  # a fresh cache, or none
        cache = self._open_cache()
        if cache is None:
            return
        try:
            cache.put(key, completion)
        except sqlite3.Error as exc:
            self._fault(exc)

    def close(self) -> None:
        """Commit what is queued and close the database, if it is open."""
        if self._cache is not None:
            with contextlib.suppress(sqlite3.Error):
                self._cache.close(self.busy_timeout * 2)
            cache, self._cache = self._cache, None
            if cache.lost:  # the writer waited out the run and never got the database
                why = cache.write_error or "not written"
                self._notify(
                    f"warning: cache {self.path}: {why} ({_fix(why)}); the run goes on without "
                    f"the cache: {cache.lost} answers were not stored, so a re-run pays for "
                    "them again"
                )
