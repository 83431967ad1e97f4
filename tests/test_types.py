"""The shared value objects: transcripts, tool calls and images through their JSON form."""

from __future__ import annotations

from promptbench.types import Image, Message, Record, ToolCall, messages_text


def test_a_conversation_record_round_trips() -> None:
    call = ToolCall.parse("c1", "lookup", '{"id": 7}')
    bad = ToolCall.parse("c2", "lookup", "{id: 7")
    prompt = (
        Message("system", "s"),
        Message(
            "user", "look", images=(Image(path="/x/a.png", sha256="ab", media_type="image/png"),)
        ),
    )
    transcript = (
        *prompt,
        Message("assistant", "", tool_calls=(call, bad)),
        Message("tool", "found", tool_call_id="c1", name="lookup"),
        Message("tool", "error: bad JSON", tool_call_id="c2", name="lookup"),
        Message("assistant", "It is 7."),
        Message("user", "thanks"),
        Message("assistant", "bye"),
    )
    record = Record("a", "v", "m", 0, {}, prompt, output="bye", transcript=transcript, calls=3)
    again = Record.from_json(record.to_json())
    assert again.transcript == transcript and again.messages == prompt and again.calls == 3
    assert again.tool_calls == (call, bad)
    assert bad.arguments is None and bad.parse_error and bad.raw_arguments == "{id: 7"
    one, two = again.turns
    assert (one.index, one.reply, one.tool_calls) == (1, "It is 7.", (call, bad))
    assert (two.index, two.user, two.reply) == (2, Message("user", "thanks"), "bye")
    text = messages_text(transcript)
    assert "[image] /x/a.png" in text and '[call] lookup({"id": 7})' in text
    assert "[tool lookup] found" in text


def test_the_cache_key_of_a_plain_message_is_as_before() -> None:
    assert Message("user", "hi").key() == ["user", "hi"]
    # An image counts by its content, not by where the file is.
    a = Message("user", "hi", images=(Image(path="/a/x.png", sha256="ab"),))
    b = Message("user", "hi", images=(Image(path="/b/y.png", sha256="ab"),))
    c = Message("user", "hi", images=(Image(path="/a/x.png", sha256="cd"),))
    assert a.key() == b.key() != c.key()


def test_old_records_read_as_single_turns() -> None:
    old = {
        "case_id": "a",
        "variant": "v",
        "model": "m",
        "repeat": 0,
        "vars": {"q": 1},
        "expected": None,
        "messages": [{"role": "user", "content": "hi"}],
        "output": "hello",
        "scores": {},
        "passed": None,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "latency_ms": 1.0,
        "cost": None,
        "error": None,
        "cached": False,
        "retries": 0,
        "finish_reason": "stop",
    }
    record = Record.from_json(old)
    assert record.transcript == () and record.tool_calls == ()
    (turn,) = record.turns
    assert turn.reply == "hello" and turn.user is not None and turn.user.content == "hi"
    assert record.to_json() == {**old, "cost_saved": 0.0}  # no conversation keys added


def test_records_of_every_shape_read_back_field_for_field() -> None:
    # from_json builds positionally: a field out of order would show here.
    import json
    import random

    from tests.helpers.varied_runs import varied_record

    rng = random.Random(3)
    for case in range(300):
        r = varied_record(rng, case, "v", "m", case % 2, None)
        again = Record.from_json(json.loads(json.dumps(r.to_json())))
        assert json.dumps(again.to_json()) == json.dumps(r.to_json())
        assert [type(getattr(again, f)) for f in again.__slots__] == [
            type(getattr(r, f)) for f in r.__slots__
        ]


def test_plain_messages_read_again_are_shared_and_the_store_is_bounded() -> None:
    import promptbench.types as types

    first = Message.from_json({"role": "system", "content": "Be brief."})
    again = Message.from_json({"role": "system", "content": "Be brief."})
    assert again is first and again == Message("system", "Be brief.")
    assert Message.from_json({"role": "user", "content": "Be brief."}) is not first
    long_text = "x" * (types._SHARED_MAX_TEXT + 1)
    assert Message.from_json({"role": "user", "content": long_text}) is not Message.from_json(
        {"role": "user", "content": long_text}
    )
    for i in range(types._SHARED_LIMIT + 10):
        Message.from_json({"role": "user", "content": f"q{i}"})
    assert len(types._SHARED_MESSAGES) <= types._SHARED_LIMIT
    parts = {"role": "user", "content": "see", "images": [{"path": "a.png"}]}
    assert Message.from_json(parts).images[0].path == "a.png"  # not the plain path
