"""Reading whole runs fast: JSON decoded by orjson, the cyclic GC paused while folding.

``records.jsonl`` of a 100,000-case run is about 100 MB; the standard library's decoder
spends seconds on it, orjson a fraction of that. orjson is a dependency; without its
wheel the standard library decodes, only slower.

:func:`loads` gives the same values as :func:`json.loads` on every input: what orjson
refuses and the standard library reads (``NaN`` and ``Infinity``, which records written
with Python's defaults can hold; integers beyond 64 bits) is handed to the standard
library, so a line is never rejected that was read before, nor read otherwise.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the wheel is a dependency
    orjson = None  # type: ignore[assignment]


# orjson's decoder itself (the standard library's without the wheel): for a loop over
# many lines that calls it directly, and hands what it refuses to loads().
decode_fast: Callable[[bytes], Any] = orjson.loads if orjson is not None else json.loads

# orjson reads an integer beyond 64 bits as a float; the standard library keeps it whole.
# A run of 19 digits anywhere in the text (a string's included) sends it to the latter.
# Found by mapping every digit to 0 and looking for nineteen 0s: both steps run in C, some
# twenty times faster than the regular expression \d{19}, which was as slow as decoding.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


def _has_long_number(data: bytes) -> bool:
    return _LONG_NUMBER in data.translate(_DIGITS_TO_ZERO)


def loads(data: bytes, *, exact_big_ints: bool = True) -> Any:
    """Decode one JSON document; raises ValueError (json.JSONDecodeError) when invalid.

    ``exact_big_ints=False`` skips the search for integers beyond 64 bits (a regular
    expression over the text, as slow as decoding it): for readers that use no field
    where one can be, which may then hold a float instead.
    """
    if orjson is not None and not (exact_big_ints and _has_long_number(data)):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and words the error as before
    return json.loads(data)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for folding a big run into many small objects.

    Every few hundred allocations the collector walks the objects alive, and a fold of
    100,000 records keeps hundreds of thousands alive: half the fold's time went there.
    The objects a fold builds hold no reference cycles, so nothing is left for later
    that reference counting does not free; the collector runs again on leaving.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dumps_indented(obj: Any) -> str:
    """:func:`dumps_indented_utf8` as text."""
    return dumps_indented_utf8(obj).decode("utf-8")


def dumps_indented_utf8(obj: Any) -> bytes:
    """``json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)`` in UTF-8, fast.

    With an indent the standard library encodes in pure Python: seconds for the 30 MB
    that ``diff --json`` prints for a 100,000-record diff. orjson writes the same layout
    and the same strings; only floats below 1e-4 are written otherwise (0.00001 for
    1e-05), so those are handed over already written as Python writes them. Whatever
    orjson cannot write the same (keys that are not strings, huge integers, lone
    surrogates) goes to the standard library.
    """
    if orjson is not None:
        try:
            fixed = _as_python_writes(obj)
            return orjson.dumps(fixed, option=orjson.OPT_INDENT_2)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _as_python_writes(obj: Any) -> Any:
    """``obj`` with every float that orjson would write differently as a written fragment."""
    kind = type(obj)
    if kind is dict:
        return {k: _as_python_writes(v) for k, v in obj.items()}
    if kind is list or kind is tuple:
        return [_as_python_writes(v) for v in obj]
    if kind is float:
        if not math.isfinite(obj):
            raise ValueError(f"Out of range float values are not JSON compliant: {obj!r}")
        if obj != 0.0 and -1e-4 < obj < 1e-4:
            return orjson.Fragment(repr(obj))
    return obj
