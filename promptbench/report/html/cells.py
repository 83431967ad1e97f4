"""One record as the page shows it: a compact JSON cell.

Keys are one letter, since a report holds one cell per record (10,000 records, 10,000
cells): ``v`` the verdict (``p`` pass, ``f`` fail, ``e`` error: the call failed or a
metric raised; ``n`` no metric applies), ``o`` the output, ``s`` one score per metric of
the page (``[value, verdict, reason]`` or null where the metric did not apply; the
reason only where it did not pass), ``l`` latency in ms, ``c`` cost in USD, ``t``
tokens, ``x`` the call's error, ``k`` 1 when the output came from the cache, ``r``
the retries, ``tr`` a conversation's turns (``[turn, user text, steps]``, each step
``[kind, text]``: ``a`` the assistant's text, ``c`` a tool call, ``t`` a tool's result).

A case's images (:func:`images`) go on its row, once, beside every cell's output.

A stored run's cells are made from its decoded ``records.jsonl`` lines
(:func:`line_cell`), not from :class:`Record` objects, which cost several times as much
to build: the one place in the report that reads a raw line. It gives exactly what
:func:`cell` gives of the line's Record (tests hold the two to the same cells); a
conversation's line, rare and intricate, is made a Record and goes through :func:`cell`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from promptbench.report.html.page import finite
from promptbench.types import Message, Record

MAX_INLINE_IMAGE = 300_000  # bytes; a larger image is named, not embedded, in the page

_VERDICT = {"pass": "p", "fail": "f", "error": "e", None: "n"}


def text(value: Any) -> str | None:
    """A var or an expected value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    if type(value) is int:  # json.dumps writes an int as repr does, at a tenth of the cost
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def cell(r: Record, metrics: dict[str, int]) -> dict[str, Any]:
    """The cell of record ``r``.

    ``metrics`` gives each metric's position in ``s``; a metric not in it yet (one
    that only some cases or variants have) is added at the end. ``s`` stops at the
    record's last metric: a missing position is a metric that did not apply.
    """
    for name in r.scores:
        metrics.setdefault(name, len(metrics))
    width = max((metrics[name] + 1 for name in r.scores), default=0)
    scores: list[list[Any] | None] = [None] * width
    for name, s in r.scores.items():
        verdict = _VERDICT[s.verdict]
        reason = s.error if s.error is not None else s.reason
        scores[metrics[name]] = [finite(s.value), verdict, "" if verdict == "p" else reason]
    out: dict[str, Any] = {"v": _VERDICT[r.verdict], "o": r.output}
    if scores:
        out["s"] = scores
    if r.latency_ms is not None:
        out["l"] = finite(r.latency_ms)
    if r.cost is not None:
        out["c"] = finite(r.cost)
    if r.usage.total_tokens:
        out["t"] = r.usage.total_tokens
    if r.error is not None:
        out["x"] = error_text(r.error.to_json())
    if r.cached:
        out["k"] = 1
    if r.retries:
        out["r"] = r.retries
    if r.transcript:
        out["tr"] = turns(r)
    return out


def line_cell(line: Mapping[str, Any], metrics: dict[str, int]) -> dict[str, Any]:
    """:func:`cell` of the record whose ``records.jsonl`` line is ``line``.

    Reads what :meth:`Record.from_json` would read, with its defaults (a falsy error or
    score table is none, ``reason`` defaults to ""); raises KeyError, TypeError or
    AttributeError on a line that is not a record.
    """
    if line.get("transcript"):  # a conversation: its turns are the general path's
        return cell(Record.from_json(line), metrics)
    # finite() inlined: x - x is 0.0 for a finite float, NaN for an infinite or NaN one.
    scores = line.get("scores") or {}
    err = line.get("error")
    passed = line.get("passed")
    if err:
        verdict = "e"
    elif passed is None:
        verdict = "e" if scores else "n"
    else:
        verdict = "p" if passed else "f"
    out: dict[str, Any] = {"v": verdict, "o": line.get("output")}
    if scores:
        width = 0
        for name in scores:
            place = metrics.get(name)
            if place is None:
                place = metrics[name] = len(metrics)
            if place >= width:
                width = place + 1
        places: list[list[Any] | None] = [None] * width
        for name, sc in scores.items():
            value = sc.get("value")
            if value is not None:
                value = float(value)
                if value - value != 0.0:
                    value = None
            error = sc.get("error")
            s_passed = sc.get("passed")
            if error is not None:  # Score.verdict: an error, or no verdict
                places[metrics[name]] = [value, "e", error]
            elif s_passed is None:
                places[metrics[name]] = [value, "e", sc.get("reason", "")]
            elif s_passed:
                places[metrics[name]] = [value, "p", ""]
            else:
                places[metrics[name]] = [value, "f", sc.get("reason", "")]
        out["s"] = places
    latency = line.get("latency_ms")
    if latency is not None:
        latency = float(latency)
        out["l"] = latency if latency - latency == 0.0 else None
    cost = line.get("cost")
    if cost is not None:
        cost = float(cost)
        out["c"] = cost if cost - cost == 0.0 else None
    usage = line.get("usage")
    if usage:
        tokens = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        if tokens:
            out["t"] = tokens
    if err:
        out["x"] = error_text(err)
    if line.get("cached", False):
        out["k"] = 1
    retries = line.get("retries", 0)
    if retries:
        out["r"] = retries
    return out


def error_text(err: Mapping[str, Any]) -> str:
    """A call error (its JSON form) as a cell shows it: ``kind (HTTP status): message``."""
    status = err.get("status")
    shown = f" (HTTP {status})" if status else ""
    return f"{err['kind']}{shown}: {err['message']}"


def line_images(line: Mapping[str, Any]) -> list[dict[str, str]]:
    """:func:`images` of the record whose ``records.jsonl`` line is ``line``."""
    messages = line.get("messages", ())
    for m in messages:
        if len(m) > 2:  # Message.from_json reads parts only beside more than role and text
            return message_images(Message.from_json(m) for m in messages)
    return []


def turns(r: Record) -> list[list[Any]]:
    """A conversation as the page shows it: each turn's user message, then its steps."""
    out: list[list[Any]] = []
    for t in r.turns:
        steps: list[list[str]] = []
        for m in t.steps:
            if m.role == "tool":
                steps.append(["t", f"{m.name or 'tool'} → {m.content}"])
                continue
            if m.content:
                steps.append(["a", m.content])
            steps += [["c", f"{c.name}({c.raw_arguments})"] for c in m.tool_calls]
        out.append([t.index, t.user.content if t.user else "", steps])
    return out


def images(r: Record) -> list[dict[str, str]]:
    """The images a record's messages carry: where each is, and a data URL when small."""
    return message_images(r.messages)


def message_images(messages: Iterable[Message]) -> list[dict[str, str]]:
    """The images ``messages`` carry, as :func:`images` gives them."""
    out = []
    for m in messages:
        for image in m.images:
            entry = {"p": image.shown}
            if image.path and image.media_type and image.media_type.startswith("image/"):
                data = _file_bytes(image.path, image.sha256)
                if data is None:
                    entry["p"] += " (changed or gone since the run)"
                elif data:
                    encoded = base64.b64encode(data).decode("ascii")
                    entry["u"] = f"data:{image.media_type};base64,{encoded}"
            elif image.url and image.url.startswith("data:image/"):
                entry["u"] = image.url
            out.append(entry)
    return out


def _file_bytes(path: str, sha256: str | None) -> bytes | None:
    """The file's bytes if it is still what the run sent; b"" when too large to embed.

    None when the file is gone or its content changed since the run: the page must
    not show another image beside the output as if it had been sent.
    """
    try:
        st = Path(path).stat()
    except OSError:
        return None
    if st.st_size > MAX_INLINE_IMAGE:
        return b""
    return _read(path, sha256, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)  # a suite's few images, read once for all its records
def _read(path: str, sha256: str | None, mtime_ns: int, size: int) -> bytes | None:
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        return None
    return data
