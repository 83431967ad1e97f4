"""Records as CSV: one row per call, streamed from ``records.jsonl``.

Text that a spreadsheet would run as a formula (a cell beginning with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return: OWASP's "CSV injection") is written with a leading
apostrophe, which spreadsheets show as text and never evaluate. Model outputs, case
variables and prompts are text from outside; ``raw=True`` (``--csv-raw``) writes them as
they are, for tools that read the file as data rather than open it in a spreadsheet.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from promptbench.types import Record, messages_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """``text`` as a spreadsheet shows it but never evaluates it."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def write_csv(
    path: Path,
    records: Iterable[Record],
    var_names: list[str],
    metric_names: list[str],
    *,
    raw: bool = False,
) -> int:
    """Write the records; return how many rows. Written to a temporary file, then renamed.

    Text cells are escaped against formula injection unless ``raw``.
    """
    text = _text if raw else (lambda v: escape_formula(_text(v)))
    header = (
        ["case_id", "variant", "model", "repeat"]
        + [f"var:{v}" for v in var_names]
        + ["expected", "prompt", "output", "passed"]
        + [col for m in metric_names for col in (f"{m}:score", f"{m}:pass")]
        + [
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost",
            "cached",
            "retries",
            "error",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in records:
            prompt = messages_text(r.transcript or r.messages)  # a conversation: all of it
            row = [text(r.case_id), text(r.variant), text(r.model), r.repeat]
            row += [text(r.vars.get(v)) for v in var_names]
            row += [
                text(r.expected),
                text(prompt),
                text(r.output),
                "" if r.passed is None else str(r.passed).lower(),
            ]
            for m in metric_names:
                s = r.scores.get(m)
                if s is None:
                    row += ["", ""]
                elif s.error is not None:
                    row += ["", "error"]
                else:
                    row += [_text(s.value), "" if s.passed is None else str(s.passed).lower()]
            row += [
                _text(r.latency_ms),
                r.usage.prompt_tokens,
                r.usage.completion_tokens,
                r.usage.total_tokens,
                _text(r.cost),
                str(r.cached).lower(),
                r.retries,
                text(f"{r.error.kind}: {r.error.message}") if r.error else "",
            ]
            w.writerow(row)
            n += 1
    tmp.replace(path)
    return n
