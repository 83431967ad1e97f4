"""A word-level diff of two outputs, for people: what B deleted from A and what it inserted.

Words are compared, not characters (a character diff of two sentences is noise); the
whitespace between words is kept as it was, so that the result reads as text.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

Op = Literal["equal", "delete", "insert"]
_TOKEN = re.compile(r"\s+|\S+")


def word_diff(a: str, b: str) -> list[tuple[Op, str]]:
    """Segments turning ``a`` into ``b``: kept, deleted (from a) and inserted (from b) text.

    A replacement is a deletion followed by an insertion. Adjacent segments of the same
    kind are merged.
    """
    ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
    # Whitespace tokens are junk for the matcher's anchoring, but still compared, so
    # that "a  b" against "a b" is a whitespace change and not nothing.
    matcher = difflib.SequenceMatcher(lambda t: t.isspace(), ta, tb, autojunk=False)
    out: list[tuple[Op, str]] = []

    def push(op: Op, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("equal", "".join(ta[i1:i2]))
            continue
        if tag in ("delete", "replace"):
            push("delete", "".join(ta[i1:i2]))
        if tag in ("insert", "replace"):
            push("insert", "".join(tb[j1:j2]))
    return out


def plain(segments: list[tuple[Op, str]]) -> str:
    """The diff without colour, as ``git diff --word-diff=plain`` writes it."""
    marks = {"equal": ("", ""), "delete": ("[-", "-]"), "insert": ("{+", "+}")}
    return "".join(marks[op][0] + text + marks[op][1] for op, text in segments)
