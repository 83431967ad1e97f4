"""A record's line of ``records.jsonl``, written without building its JSON dict first.

``json.dumps(record.to_json(), ensure_ascii=False)`` builds a dict of some thirty
entries and walks it again in the encoder: after the HTTP client, the biggest cost of
a call on the loop's thread. Most records have one shape (text vars, plain messages,
scores without details, no probe, no transcript); for those the line is put together
from its fields directly, with the encoder's own pieces (its string quoting and
``float.__repr__``), so the bytes are exactly those of the general path. Any other
record, or any value this path does not know how to write exactly (a float that is
not finite, a key that is not text, a nested value), goes the general way.
``tests/runner/test_recordline.py`` holds the two together.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any

from promptbench.types import Message, Record, Score

# The general path's encoder: json.dumps defaults, but UTF-8 text left as it is.
RECORD_JSON = json.JSONEncoder(ensure_ascii=False)

_S = encode_basestring  # the encoder's quoting of a str (C), for ensure_ascii=False
_general = RECORD_JSON.encode
_INF = math.inf


class _Slow(Exception):
    """Raised where a record takes the general path."""


def record_line(record: Record) -> str:
    """The record's JSON line (without the newline), as ``json.dumps`` writes it."""
    if record.probe is None and not record.transcript:
        try:
            return _fast(record)
        except (_Slow, TypeError):  # TypeError: a field that is not of its usual type
            pass
    return _general(record.to_json())


def _value(v: Any) -> str:
    """A value of vars or expected: text and numbers directly, the rest by the encoder."""
    if type(v) is str:
        return _S(v)
    if type(v) is float:
        return _float(v)
    return _general(v)  # None, a number, a list, a mapping (whose keys it checks)


def _float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if v == _INF:
        return "Infinity"
    if v == -_INF:
        return "-Infinity"
    return float.__repr__(v)


def _opt_float(v: float | None) -> str:
    if v is None:
        return "null"
    if type(v) is not float:
        return _general(v)  # an int where a float usually is: the encoder's spelling
    return _float(v)


def _bool(v: bool | None) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    raise _Slow  # truthy, but not a bool: the encoder decides


def _int(v: int) -> str:
    if type(v) is not int:
        raise _Slow  # a bool or an int subclass: the general path's spelling
    return int.__repr__(v)


def _message(m: Message) -> str:
    if not m.plain:
        return _general(m.to_json())
    return f'{{"role": {_S(m.role)}, "content": {_S(m.content)}}}'


def _score(s: Score) -> str:
    if s.details:
        raise _Slow
    out = f'{{"value": {_opt_float(s.value)}, "passed": {_bool(s.passed)}, "reason": {_S(s.reason)}'
    if s.error is not None:
        out += f', "error": {_S(s.error)}'
    if s.weight != 1.0:
        out += f', "weight": {_opt_float(s.weight)}'
    return out + "}"


def _fast(r: Record) -> str:
    vars_ = r.vars
    if vars_:
        parts = []
        for k, v in vars_.items():
            if type(k) is not str:
                raise _Slow  # the encoder turns some keys into text, refuses others
            parts.append(f"{_S(k)}: {_value(v)}")
        vars_json = "{" + ", ".join(parts) + "}"
    else:
        vars_json = "{}"
    messages = ", ".join(_message(m) for m in r.messages)
    if r.scores:
        scores = "{" + ", ".join(f"{_S(n)}: {_score(s)}" for n, s in r.scores.items()) + "}"
    else:
        scores = "{}"
    u = r.usage
    pt, ct = _int(u.prompt_tokens), _int(u.completion_tokens)
    total = _int(u.total_tokens)
    err = r.error
    if err is None:
        error = "null"
    else:
        status = "null" if err.status is None else _int(err.status)
        error = f'{{"kind": {_S(err.kind)}, "message": {_S(err.message)}, "status": {status}}}'
    output = "null" if r.output is None else _S(r.output)
    finish = "null" if r.finish_reason is None else _S(r.finish_reason)
    return (
        f'{{"case_id": {_S(r.case_id)}, "variant": {_S(r.variant)}, '
        f'"model": {_S(r.model)}, "repeat": {_int(r.repeat)}, "vars": {vars_json}, '
        f'"expected": {_value(r.expected)}, "messages": [{messages}], "output": {output}, '
        f'"scores": {scores}, "passed": {_bool(r.passed)}, "usage": {{"prompt_tokens": '
        f'{pt}, "completion_tokens": {ct}, "total_tokens": {total}}}, '
        f'"latency_ms": {_opt_float(r.latency_ms)}, "cost": {_opt_float(r.cost)}, '
        f'"cost_saved": {_opt_float(r.cost_saved)}, "error": {error}, '
        f'"cached": {_bool(r.cached)}, "retries": {_int(r.retries)}, '
        f'"finish_reason": {finish}}}'
    )
