"""JSON decoding for the hot paths that read whole runs: orjson where installed.

``records.jsonl`` of a 100,000-case run is about 100 MB; the standard library's decoder
spends seconds on it, orjson a fraction of that. orjson is a dependency; without its
wheel the standard library decodes, only slower.

:func:`loads` gives the same values as :func:`json.loads` on every input: what orjson
refuses and the standard library reads (``NaN`` and ``Infinity``, which records written
with Python's defaults can hold; integers beyond 64 bits) is handed to the standard
library, so a line is never rejected that was read before.
"""

from __future__ import annotations

import json
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
