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
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from promptbench.report.html.page import finite
from promptbench.types import Record

MAX_INLINE_IMAGE = 300_000  # bytes; a larger image is named, not embedded, in the page

_VERDICT = {"pass": "p", "fail": "f", "error": "e", None: "n"}


def text(value: Any) -> str | None:
    """A var or an expected value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
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
        status = f" (HTTP {r.error.status})" if r.error.status else ""
        out["x"] = f"{r.error.kind}{status}: {r.error.message}"
    if r.cached:
        out["k"] = 1
    if r.retries:
        out["r"] = r.retries
    if r.transcript:
        out["tr"] = turns(r)
    return out


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
    out = []
    for m in r.messages:
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
