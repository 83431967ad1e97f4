"""Reading whole runs fast: JSON decoded by orjson, the cyclic GC paused while folding.

``records.jsonl`` of a 100,000-case run is about 100 MB; the standard library's decoder
spends seconds on it, orjson a fraction of that. orjson is a dependency; without its
wheel the standard library decodes, only slower.

:func:`loads` gives the same values as :func:`json.loads` on every input: what orjson
refuses and the standard library reads (``NaN`` and ``Infinity``, which records written
with Python's defaults can hold; integers beyond 64 bits) is handed to the standard
library, so a line is never rejected that was read before.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterator
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - the wheel is a dependency
    orjson = None  # type: ignore[assignment]


def loads(data: bytes | str) -> Any:
    """Decode one JSON document; raises ValueError (json.JSONDecodeError) when invalid."""
    if orjson is not None:
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
