"""One record as the page shows it: a compact JSON cell.

Keys are one letter, since a report holds one cell per record (10,000 records, 10,000
cells): ``v`` the verdict (``p`` pass, ``f`` fail, ``e`` error: the call failed or a
metric raised; ``n`` no metric applies), ``o`` the output, ``s`` one score per metric of
the page (``[value, verdict, reason]`` or null where the metric did not apply; the
reason only where it did not pass), ``l`` latency in ms, ``c`` cost in USD, ``t``
tokens, ``x`` the call's error, ``k`` 1 when the output came from the cache, ``r``
the retries.
"""

from __future__ import annotations

import json
from typing import Any

from promptbench.report.html.page import finite
from promptbench.types import Record

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
    return out
