"""The record line's fast path writes exactly the bytes of json.dumps(record.to_json())."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.runner import recordline
from promptbench.runner.recordline import record_line
from promptbench.types import CallError, Image, Message, ProbeTag, Record, Score, ToolCall, Usage

GENERAL = json.JSONEncoder(ensure_ascii=False)

_TEXT = st.text(max_size=8)  # surrogates and control characters included
_FLOAT = st.floats() | st.sampled_from([0.0, -0.0, 1.0, 1e16, 1e-05, math.nan, math.inf])
_SCALAR = st.none() | st.booleans() | st.integers() | _FLOAT | _TEXT
_JSONISH = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_TEXT | st.integers(), inner, max_size=3)
    ),
    max_leaves=8,
)
_MESSAGE = st.builds(
    Message,
    role=st.sampled_from(["system", "user", "assistant"]),
    content=_TEXT,
    images=st.lists(st.builds(Image, path=_TEXT), max_size=1).map(tuple),
    tool_calls=st.lists(
        st.builds(ToolCall, id=_TEXT, name=_TEXT, raw_arguments=_TEXT), max_size=1
    ).map(tuple),
)
_SCORE = st.builds(
    Score,
    name=_TEXT,
    value=st.none() | _FLOAT | st.integers(0, 1),
    passed=st.none() | st.booleans(),
    reason=_TEXT,
    error=st.none() | _TEXT,
    weight=st.sampled_from([1.0, 2.0, 0.5, 1]),
    details=st.none() | st.dictionaries(_TEXT, _SCALAR, max_size=2),
)


@st.composite
def records(draw: st.DrawFn) -> Record:
    scores = draw(st.lists(_SCORE, max_size=3))
    return Record(
        case_id=draw(_TEXT),
        variant=draw(_TEXT),
        model=draw(_TEXT),
        repeat=draw(st.integers(0, 5)),
        vars=draw(st.dictionaries(_TEXT | st.integers() | st.booleans(), _JSONISH, max_size=4)),
        messages=tuple(draw(st.lists(_MESSAGE, max_size=3))),
        expected=draw(_JSONISH),
        output=draw(st.none() | _TEXT),
        scores={s.name: s for s in scores},
        passed=draw(st.none() | st.booleans()),
        usage=Usage(draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))),
        latency_ms=draw(st.none() | _FLOAT),
        cost=draw(st.none() | _FLOAT),
        cost_saved=draw(_FLOAT),
        error=draw(st.none() | st.builds(CallError, _TEXT, _TEXT, st.none() | st.integers())),
        cached=draw(st.booleans()),
        retries=draw(st.integers(0, 3)),
        finish_reason=draw(st.none() | _TEXT),
        probe=draw(st.none() | st.builds(ProbeTag, _TEXT, _TEXT, _TEXT)),
        transcript=tuple(draw(st.lists(_MESSAGE, max_size=2))),
        calls=draw(st.integers(1, 3)),
    )


def general(record: Record) -> str:
    return GENERAL.encode(record.to_json())


@settings(max_examples=1000, deadline=None)
@given(record=records())
def test_the_fast_line_is_the_general_line(record: Record) -> None:
    try:
        expected = general(record)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            record_line(record)
        return
    assert record_line(record) == expected


def _plain(**fields: Any) -> Record:
    base: dict[str, Any] = {
        "case_id": "c1",
        "variant": "plain",
        "model": "m",
        "repeat": 0,
        "vars": {"q": "question é 1", "n": 3, "xs": [1, 2.5]},
        "messages": (Message("system", "be brief"), Message("user", 'Q: "x"\n')),
        "expected": "Q: question 1",
        "output": "Q: question 1",
        "scores": {"exact": Score("exact", 1.0, True, "matches")},
        "passed": True,
        "usage": Usage(3, 4),
        "latency_ms": 1.234,
        "finish_reason": "stop",
    }
    return Record(**{**base, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"error": CallError("timeout", "request timed out", None), "output": None},
        {"cost": 1e-05, "cost_saved": 2.5e-07, "cached": True, "retries": 2},
        {"scores": {"a": Score("a", None, None, error="boom", weight=2.0)}, "passed": None},
        {"vars": {}, "expected": None, "latency_ms": math.nan},
    ],
)
def test_common_records_line_for_line(fields: dict[str, Any]) -> None:
    record = _plain(**fields)
    assert recordline._fast(record) == general(record)  # these take the fast path
    assert record_line(record) == general(record)
    assert json.loads(record_line(record)) == json.loads(general(record))
