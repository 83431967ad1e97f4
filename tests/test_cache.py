"""The completion cache: keyed on everything that changes output, nothing else; hits replay."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench import cache as cache_module
from promptbench.cache import Cache, KeyMaker, cache_key, default_path
from promptbench.config import Price
from promptbench.errors import UsageError
from promptbench.providers.mock import MockConfig
from promptbench.providers.openai import OpenAIConfig
from promptbench.types import Completion, Image, Message, Usage
from tests.helpers.project import Project

MESSAGES = (Message("system", "be brief"), Message("user", "hi"))
BASE: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini"}


def key_of(messages: tuple[Message, ...] = MESSAGES, repeat: int = 0, **fields: Any) -> str:
    config = OpenAIConfig(**{**BASE, **fields})
    return cache_key(config.provider, config.cache_identity(), messages, repeat)


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-4o"},
        {"base_url": "http://localhost:11434/v1"},
        {"temperature": 0.0},
        {"temperature": 0.7},
        {"max_tokens": 64},
        {"top_p": 0.9},
        {"seed": 7},
        {"stop": ["\n"]},
        {"stop": "END"},
        {"response_format": "json_object"},
        {"extra_body": {"top_k": 5}},
    ],
)
def test_key_changes_with_everything_that_changes_output(change: dict[str, Any]) -> None:
    assert key_of(**change) != key_of()


def test_sampling_values_are_distinguished() -> None:
    assert key_of(temperature=0.0) != key_of(temperature=1.0)
    assert key_of(seed=1) != key_of(seed=2)
    assert key_of(max_tokens=10) != key_of(max_tokens=11)


def test_key_changes_with_messages_and_repeat() -> None:
    base = key_of()
    assert key_of((Message("system", "be brief"), Message("user", "hi!"))) != base
    assert key_of((Message("user", "be brief"), Message("user", "hi"))) != base
    assert key_of((Message("user", "hi"), Message("system", "be brief"))) != base
    assert key_of(MESSAGES[1:]) != base
    assert key_of(repeat=1) != base
    assert len({key_of(repeat=i) for i in range(5)}) == 5


def test_key_changes_with_provider() -> None:
    config = MockConfig(model="gpt-4o-mini")
    ident = config.cache_identity()
    assert cache_key("mock", ident, MESSAGES, 0) != cache_key("other", ident, MESSAGES, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"timeout": 5.0},
        {"max_retries": 0},
        {"concurrency": 2},
        {"price": Price(input=1, output=2)},
        {"api_key_env": "MY_KEY"},
        {"api_key_file": "/tmp/key.txt"},
    ],
)
def test_key_ignores_how_the_call_is_made(change: dict[str, Any]) -> None:
    assert key_of(**change) == key_of()


def test_default_server_is_part_of_the_identity() -> None:
    assert OpenAIConfig(model="m").cache_identity() == {
        "provider": "openai",
        "model": "m",
        "base_url": "https://api.openai.com/v1",
    }
    assert key_of(base_url="https://api.openai.com/v1/") == key_of()


def test_mock_identity_ignores_call_fields_too() -> None:
    a = MockConfig(provider="mock", replies=["x"])
    b = MockConfig(provider="mock", replies=["x"], timeout=1, max_retries=0, concurrency=3)
    assert a.cache_identity() == b.cache_identity()
    assert a.cache_identity() != MockConfig(provider="mock", replies=["y"]).cache_identity()


def test_key_is_a_stable_sha256() -> None:
    key = cache_key("openai", {"model": "m"}, (Message("user", "é"),), 0)
    assert key == cache_key("openai", {"model": "m"}, (Message("user", "é"),), 0)
    assert len(key) == 64
    assert int(key, 16) >= 0


# --------------------------------------------------------------------------- store


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    c = Cache(tmp_path / "c" / "cache.db")
    yield c
    c.close()


def test_hit_returns_the_original_latency_and_usage(cache: Cache) -> None:
    original = Completion("Paris", Usage(12, 3), 842.5, "stop", "gpt-4o-mini-2024-07-18")
    assert cache.get("k1") is None
    cache.put("k1", original)
    assert cache.get("k1") == original
    assert (cache.hits, cache.misses) == (1, 1)
    assert cache.contains("k1") and not cache.contains("k2")
    assert (cache.hits, cache.misses) == (1, 1)


def test_put_replaces(cache: Cache) -> None:
    cache.put("k", Completion("old"))
    cache.put("k", Completion("new", latency_ms=5.0))
    got = cache.get("k")
    assert got is not None and (got.text, got.latency_ms) == ("new", 5.0)
    assert cache.stats().entries == 1


def test_stats_and_clear(cache: Cache, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = cache.stats()
    assert (empty.entries, empty.oldest, empty.newest) == (0, None, None)
    now = 1_000_000.0
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(time=lambda: now))
    cache.put("old", Completion("a"))
    now += 100
    cache.put("new", Completion("b"))
    stats = cache.stats()
    assert (stats.entries, stats.oldest, stats.newest) == (2, 1_000_000.0, 1_000_100.0)
    assert stats.bytes > 0
    assert stats.path == cache.path
    now += 10
    assert cache.clear(older_than=50) == 1  # "old" is 110 s old, "new" 10 s
    assert cache.contains("new") and not cache.contains("old")
    assert cache.clear() == 1
    assert cache.stats().entries == 0


def test_two_caches_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = Cache(path), Cache(path)
    try:
        mode = a._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        a.put("from_a", Completion("A", Usage(1, 1), 10.0))
        b.put("from_b", Completion("B", Usage(2, 2), 20.0))
        assert b.get("from_a") == Completion("A", Usage(1, 1), 10.0)
        assert a.get("from_b") == Completion("B", Usage(2, 2), 20.0)
        assert a.stats().entries == b.stats().entries == 2
    finally:
        a.close()
        b.close()
    reopened = Cache(path)
    try:
        assert reopened.contains("from_a") and reopened.contains("from_b")
    finally:
        reopened.close()


def test_unopenable_cache_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match=r"set PROMPTBENCH_CACHE to a writable path"):
        Cache(blocker / "cache.db")


def test_corrupt_cache_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match=r"cannot open"):
        Cache(path)


def test_default_path(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_path() == project.root / ".cache" / "cache.db"
    monkeypatch.delenv("PROMPTBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(project.root / "xdg"))
    assert default_path() == project.root / "xdg" / "promptbench" / "cache.db"


def test_rows_survive_a_raw_sqlite_reader(cache: Cache) -> None:
    cache.put("k", Completion("text", Usage(3, 4), 1.5, "length", "m"))
    with sqlite3.connect(cache.path) as db:
        row = db.execute(
            "SELECT text, prompt_tokens, completion_tokens FROM completions"
        ).fetchone()
    assert row == ("text", 3, 4)


def test_tool_calls_are_stored_and_old_caches_gain_the_column(tmp_path: Path) -> None:
    from promptbench.types import ToolCall

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)  # a cache written before tool calls existed
    db.execute(
        "CREATE TABLE completions (key TEXT PRIMARY KEY, text TEXT NOT NULL, prompt_tokens "
        "INTEGER, completion_tokens INTEGER, latency_ms REAL, finish_reason TEXT, model TEXT, "
        "created REAL NOT NULL)"
    )
    db.execute("INSERT INTO completions VALUES ('old', 'kept', 1, 1, 5.0, 'stop', 'm', 0)")
    db.commit()
    db.close()
    cache = Cache(path)
    assert cache.get("old") == Completion("kept", Usage(1, 1), 5.0, "stop", "m")
    calls = (ToolCall.parse("c1", "f", '{"a": 1}'), ToolCall.parse("c2", "g", "{oops"))
    cache.put("new", Completion("", Usage(2, 3), 7.0, "tool_calls", "m", tool_calls=calls))
    hit = cache.get("new")
    assert hit is not None and hit.tool_calls == calls
    cache.close()


def test_batched_writes_are_read_back_at_once_and_committed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    cache = Cache(path, batched=True)
    completions = {f"k{i}": Completion(f"t{i}", Usage(i, 1), 2.5, "stop", "m") for i in range(300)}
    for key, completion in completions.items():
        cache.put(key, completion)
    assert cache.get("k7") == completions["k7"]  # queued or committed: a hit either way
    cache.close()
    assert cache.lost == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM completions").fetchone() == (300,)
    reopened = Cache(path)
    try:
        assert reopened.get("k299") == completions["k299"]
    finally:
        reopened.close()


def test_a_cache_held_busy_by_another_process_does_not_block_batched_puts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.db"
    Cache(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another run or `cache clear` holding the lock
    cache = Cache(path, batched=True)
    assert cache._writer is not None
    cache._writer.busy_timeout = 0.05
    try:
        cache.put("k", Completion("held"))  # returns although the database is locked
        assert not cache._writer.flush(timeout=0.5)  # nothing could be committed yet
        assert cache.get("k") == Completion("held")
        holder.execute("COMMIT")
        assert cache._writer.flush(timeout=10)
    finally:
        holder.close()
        cache.close()
    assert cache.lost == 0
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT text FROM completions").fetchone() == ("held",)


# --------------------------------------------------------------------------- KeyMaker

_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT
_IDENTITY = st.dictionaries(
    _TEXT, _SCALAR | st.lists(_SCALAR, max_size=3) | st.dictionaries(_TEXT, _SCALAR, max_size=3)
)
_IMAGE = st.builds(Image, path=_TEXT, sha256=st.none() | _TEXT, media_type=st.none() | _TEXT)
_MESSAGE = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant", "tool"]),
    content=_TEXT,
    images=st.lists(_IMAGE, max_size=2).map(tuple),
    tool_call_id=st.none() | _TEXT,
)


@settings(max_examples=300, deadline=None)
@given(
    provider=_TEXT,
    identity=_IDENTITY,
    messages=st.lists(_MESSAGE, max_size=4).map(tuple),
    repeat=st.integers(0, 1000),
)
def test_the_key_maker_gives_the_keys_of_cache_key(
    provider: str, identity: dict[str, Any], messages: tuple[Message, ...], repeat: int
) -> None:
    # The run's fast path hashes the same bytes as the general one: old caches stay valid.
    maker = KeyMaker(provider, identity)
    assert maker.key(messages, repeat) == cache_key(provider, identity, messages, repeat)
    assert maker.key(messages, repeat) == cache_key(provider, identity, messages, repeat)


@pytest.mark.parametrize(
    "text",
    [
        'say "hi"',
        "back\\slash",
        "tab\tnew\nline\r\x00\x1f\x7f",
        "\u2028\u2029",
        "é ✓ 🙂",
        "",
        "[1,2]",
    ],
)
def test_plain_messages_are_keyed_as_cache_key_does(text: str) -> None:
    # Plain messages' JSON is written directly on the run's path: the same bytes hashed.
    messages = (
        Message("system", text),
        Message("user", f"{text}!", (Image("a.png", "abc"),)),
        Message("assistant", text),
    )
    maker = KeyMaker("openai", {"model": "m", "temperature": 0.5})
    for some in (messages, messages[:1], messages[2:], ()):
        assert maker.key(some, 3) == cache_key(
            "openai", {"model": "m", "temperature": 0.5}, some, 3
        )


def test_the_key_maker_keys_a_real_model_as_cache_key_does() -> None:
    config = OpenAIConfig(**BASE, temperature=0.7, max_tokens=50)
    maker = KeyMaker(config.provider, config.cache_identity())
    for repeat in (0, 1, 0):
        assert maker.key(MESSAGES, repeat) == key_of(repeat=repeat, temperature=0.7, max_tokens=50)
    assert maker.key(MESSAGES, 0) != maker.key(MESSAGES, 1)
