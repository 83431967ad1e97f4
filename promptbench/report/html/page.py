"""One self-contained HTML page: the template, with its CSS, its JS and the data inlined.

Nothing on the page is fetched when it is viewed: the styles and scripts are inlined
from the package's ``assets/`` folder, the data travels as JSON inside a
``<script type="application/json">`` element, and a Content-Security-Policy forbids
any request. Model outputs are data, never markup: the JSON is escaped so that no
string in it can close the script element (``</script>``) or be read as HTML, and
the page's script escapes every string it puts into the document.
"""

from __future__ import annotations

import contextlib
import gc
import html
import json
import math
import os
import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

Kind = Literal["run", "diff"]

_SLOT = re.compile(r"@@([A-Z]+)@@")
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_CLOSING_TAG = re.compile(r"</(script|style)", re.IGNORECASE)


@cache
def asset(name: str) -> str:
    """The text of one file in ``promptbench/report/html/assets``."""
    return (files(__package__) / "assets" / name).read_text(encoding="utf-8")


def finite(x: float | None) -> float | None:
    """``x``, or None when it is missing or not a finite number (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def embed_json(data: Any) -> str:
    r"""``data`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` only ever occur inside JSON strings, where their ``\\uXXXX``
    escapes mean the same; so do U+2028 and U+2029, which some JavaScript parsers
    once took for line ends.
    """
    return _JSON_UNSAFE.sub(lambda m: _JSON_ESCAPES[m.group()], compact_json(data))


def compact_json(data: Any) -> str:
    """``data`` as compact JSON, never NaN (JSON has none: null).

    By orjson (a dependency; json where its wheel is missing): a 100,000-record page's
    data is written several times faster.
    """
    try:
        import orjson
    except ImportError:
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return orjson.dumps(data).decode("utf-8")


def _inline(name: str) -> str:
    text = asset(name)
    if _CLOSING_TAG.search(text):  # our own files: a bug, not a user's mistake
        raise ValueError(f"asset {name} contains a closing script or style tag")
    return text


# A file opened from disk fetches nothing; a page the viewer serves may fetch its rows
# from the viewer (and only from it).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
CSP_SERVED = CSP + "; connect-src 'self'"


def render_page(kind: Kind, title: str, data: dict[str, Any], *, fetches_rows: bool = False) -> str:
    """The whole page for ``data`` (a payload of :mod:`.run_data` or :mod:`.diff_data`).

    ``fetches_rows``: the page is served by ``promptbench view`` and asks it for its rows.
    """
    slots = {
        "CSP": CSP_SERVED if fetches_rows else CSP,
        "TITLE": html.escape(title),
        "KIND": kind,
        "CSS": _inline("report.css"),
        "JS": _inline("core.js") + "\n" + _inline(f"{kind}.js"),
        "DATA": embed_json(data),
    }
    # One pass over the template: what goes into a slot is never scanned for slots.
    return _SLOT.sub(lambda m: slots[m.group(1)], asset("page.html"))


def write_page(path: Path, text: str) -> int:
    """Write the page (atomically: a reader never sees half of it); return its size in bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def human_size(n: int) -> str:
    """``812 B``, ``45.3 KB``, ``1.2 MB`` (decimal units, as file managers show them)."""
    if n < 1000:
        return f"{n} B"
    size = float(n)
    for unit in ("KB", "MB"):
        size /= 1000
        if size < 999.95:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a page's data is built.

    The data holds a few objects per record, all alive until the page is written, and
    none in a cycle; with the collector on, each of its passes walks them all again,
    which cost more than the building itself at 100,000 records.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
