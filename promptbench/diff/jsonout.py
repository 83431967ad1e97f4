"""``diff --json``'s bytes: what ``json.dumps(indent=2, ensure_ascii=False)`` writes, by orjson.

A 100,000-record diff prints some 20 MB. The standard library's indented encoder is pure
Python (seconds); :func:`promptbench.bulk.dumps_indented_utf8` walks the whole object in
Python first to pre-write the floats orjson writes otherwise (a third of a second). Here
orjson writes the object as it is, and only the numbers it writes otherwise are
rewritten afterwards, in the bytes:

* orjson and Python both write the shortest text that reads back as the same float, and
  differ only in form, for magnitudes below 1e-4: orjson writes ``0.00001`` and
  ``1.5e-7`` where Python writes ``1e-05`` and ``1.5e-07`` (two-digit exponents, and no
  plain decimals below 1e-4). Each such number is read back and written by ``repr``.
* In indented JSON a number value ends its line (``,`` then a newline, or a newline), and
  a string cannot hold a raw newline; so a token that starts after a space and ends
  its line is a number, never a piece of a string: only those are rewritten.

A diff's figures are finite by construction (``MetricComparison.to_json`` writes None for
anything else, and scores are checked finite where they are folded), so orjson, which
writes a NaN or an infinity as null, is not asked to check what ``allow_nan=False``
checked. The one figure that could still overflow, a flip's score change between scores
near the float's limits, is then written null where the standard library raised.
Anything orjson refuses (keys that are not strings, integers beyond 64 bits, lone
surrogates) goes to :func:`~promptbench.bulk.dumps_indented_utf8`, as before.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from promptbench.bulk import dumps_indented_utf8, gc_paused

if TYPE_CHECKING:
    from promptbench.diff.result import DiffResult

import orjson

# A number orjson writes otherwise: a plain decimal below 1e-4, or a one-digit negative
# exponent. Looked for only where its distinctive part occurs (a scan in C), then the
# token around it is checked: after a space (": " or an array's indent), ending its line.
_NEEDLES = (b"e-", b"0.0000")
_OTHERWISE = re.compile(rb"-?(?:0\.0000\d*|\d+(?:\.\d+)?e-\d)")


def _as_python(text: bytes) -> bytes:
    """``text`` with each number orjson writes otherwise written as Python writes it."""
    if not text.startswith((b"{", b"[")):  # one value alone: the number is the whole text
        return repr(float(text)).encode("ascii") if _OTHERWISE.fullmatch(text) else text
    found: dict[int, tuple[int, bytes]] = {}
    for needle in _NEEDLES:
        at = text.find(needle)
        while at != -1:
            start = text.rfind(b" ", 0, at) + 1
            end = text.find(b"\n", at)
            if start > 0 and end != -1:
                stop = end - 1 if text[end - 1 : end] == b"," else end
                token = text[start:stop]
                if _OTHERWISE.fullmatch(token):
                    found[start] = (stop, repr(float(token)).encode("ascii"))
            at = text.find(needle, at + 1)
    if not found:
        return text
    parts: list[bytes] = []
    done = 0
    for start in sorted(found):
        stop, written = found[start]
        parts += (text[done:start], written)
        done = stop
    parts.append(text[done:])
    return b"".join(parts)


def dumps_indented(data: Any) -> bytes:
    """``json.dumps(data, indent=2, ensure_ascii=False)`` in UTF-8, for finite figures."""
    try:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except (TypeError, orjson.JSONEncodeError):
        return dumps_indented_utf8(data)
    return _as_python(text)


def result_json(result: DiffResult) -> bytes:
    """What ``diff --json`` prints of ``result`` (less the last newline).

    The cyclic collector is paused while the JSON's objects are made: with the two runs'
    folded cases alive, its passes over them were nine tenths of ``to_json``'s time.
    """
    with gc_paused():
        return dumps_indented(result.to_json())
