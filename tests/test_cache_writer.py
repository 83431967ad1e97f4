"""The batched writer: rows gather for ``interval``, except when someone waits for them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from promptbench.cache_writer import CacheWriter, Row

SCHEMA = (
    "CREATE TABLE completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens INTEGER,"
    " completion_tokens INTEGER, latency_ms REAL, finish_reason TEXT, model TEXT,"
    " created REAL NOT NULL, tool_calls TEXT)"
)


def _row(key: str) -> Row:
    return (key, f"answer {key}", 1, 2, 3.0, "stop", "m", 0.0, None)


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "cache.db"
    with sqlite3.connect(path) as db:
        db.execute(SCHEMA)
    return path


def _keys(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {key for (key,) in db.execute("SELECT key FROM completions")}


def test_flush_commits_without_waiting_out_the_gathering_interval(tmp_path: Path) -> None:
    path = _db(tmp_path)
    # An hour's gathering: flush and close come back only if they cut it short.
    writer = CacheWriter(path, interval=3600)
    writer.put(_row("a"))
    assert writer.flush(timeout=60)
    assert _keys(path) == {"a"}
    writer.put(_row("b"))  # gathers again after a flush: committed by close
    assert writer.close(timeout=60) == 0
    assert _keys(path) == {"a", "b"}
    assert writer.written == 2


def test_close_commits_every_queued_row_at_once(tmp_path: Path) -> None:
    path = _db(tmp_path)
    writer = CacheWriter(path, interval=3600)
    for key in "xyz":
        writer.put(_row(key))
    assert writer.pending("y") == _row("y")  # readable before it is committed
    assert writer.close(timeout=60) == 0
    assert _keys(path) == {"x", "y", "z"}
