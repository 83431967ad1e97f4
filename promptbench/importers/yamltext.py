"""YAML text for humans: block style, stable key order, comments where a value changed.

PyYAML writes no comments, and an imported suite must say where the importer
changed a value; so suites are written by this small emitter. Values are plain
Python data (dict, list, str, int, float, bool, None); a value wrapped in
:class:`Noted` carries a comment, written after a scalar or above a block.
Strings that YAML could read as something else are written as JSON strings
(which YAML reads unchanged); multi-line strings as literal blocks.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Noted", "dump", "unwrap"]


@dataclass(frozen=True)
class Noted:
    """A value with a comment that says why it is what it is."""

    value: Any
    note: str


def unwrap(value: Any) -> Any:
    """The plain value, with every :class:`Noted` removed (for validation and tests)."""
    if isinstance(value, Noted):
        return unwrap(value.value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


_PLAIN = re.compile(r"^[A-Za-z_/.][\w ./()'+,-]*$")
_SPECIAL = {"yes", "no", "on", "off", "true", "false", "null", "none", "y", "n", "~"}


def _printable(text: str) -> bool:
    # YAML refuses control characters in a file; JSON escapes them (\u007f).
    return all(c == "\n" or c.isprintable() for c in text)


def _escape(c: str) -> str:
    if c.isprintable():
        return c
    return f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def _quoted(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar; YAML's \U escape takes the
    # characters beyond the BMP that JSON would write as surrogate pairs.
    return "".join(_escape(c) for c in json.dumps(text, ensure_ascii=False))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        # YAML 1.1 (PyYAML) reads 5e-324 as text: a float needs a dot.
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    text = str(value)
    if (
        _PLAIN.match(text)
        and text.lower() not in _SPECIAL
        and not text.endswith((" ", ":"))
        and ": " not in text
        and " #" not in text
    ):
        return text
    return _quoted(text)


def _is_block(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)) or (isinstance(value, list) and bool(value))


def _comment(note: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in note.splitlines()]


def _literal(text: str, indent: str) -> list[str]:
    # A literal block keeps every character: "|-" no final newline, "|" one, "|+" all.
    if text.startswith((" ", "\n")) or "\r" in text or "\t" in text or not _printable(text):
        return [_quoted(text)]
    if not text.endswith("\n"):
        chomp, body = "|-", text
    else:
        chomp, body = ("|+" if text.endswith("\n\n") else "|"), text[:-1]
    return [chomp] + [f"{indent}  {line}" if line else "" for line in body.split("\n")]


def _key(key: Any) -> str:
    return _scalar(key) if isinstance(key, str) else json.dumps(str(key))


def _split(value: Any) -> tuple[Any, str | None]:
    notes = []
    while isinstance(value, Noted):
        notes.append(value.note)
        value = value.value
    return value, "; ".join(notes) if notes else None


def _lines(value: Any, indent: str) -> list[str]:
    """The lines of a block value (a non-empty dict or list) at ``indent``."""
    out: list[str] = []
    if isinstance(value, dict):
        for k, raw in value.items():
            v, note = _split(raw)
            if _is_block(v):
                if note:
                    out += _comment(note, indent)
                out.append(f"{indent}{_key(k)}:")
                out += _lines(v, indent + "  ")
                continue
            head, *rest = _inline(v, indent)
            line = f"{indent}{_key(k)}: {head}"
            if note and (rest or len(note) > 60 or "\n" in note):
                out += _comment(note, indent)
            elif note:
                line += f"  # {note}"
            out.append(line)
            out += rest
        return out
    for raw in value:
        item, note = _split(raw)
        if note:
            out += _comment(note, indent)
        if isinstance(item, dict) and item:
            sub = _lines(item, indent + "  ")
            # Comments above the first key go above the dash.
            at = next(i for i, line in enumerate(sub) if not line.lstrip().startswith("#"))
            out += [line[2:] for line in sub[:at]]
            out.append(f"{indent}- {sub[at][len(indent) + 2 :]}")
            out += sub[at + 1 :]
        elif isinstance(item, list) and item:
            out.append(f"{indent}-")
            out += _lines(item, indent + "  ")
        else:
            head, *rest = _inline(item, indent)
            out.append(f"{indent}- {head}")
            out += rest
    return out


def _inline(value: Any, indent: str) -> list[str]:
    """A scalar or empty collection: its first line, and any more lines of a literal block."""
    if isinstance(value, dict):
        return ["{}"]
    if isinstance(value, list):
        return ["[]"]
    if isinstance(value, str) and "\n" in value:
        return _literal(value, indent)
    return [_scalar(value)]


def dump(data: dict[str, Any], header: str = "") -> str:
    """The YAML text of a mapping, with ``header`` as comment lines on top."""
    lines = _comment(header, "") if header else []
    lines += _lines(data, "")
    return "\n".join(lines) + "\n"
