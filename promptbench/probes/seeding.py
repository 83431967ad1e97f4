"""Random generators that give the same draws for the same probe and case, in any process.

Python's ``hash()`` of a string changes from process to process (hash randomisation),
so a seed is derived from SHA-256 of the parts instead: the twin a probe makes of a
case is the same on every machine and every run, and so is its cache key.
"""

from __future__ import annotations

import hashlib
import random


def rng_for(seed: int, *parts: str) -> random.Random:
    """A generator seeded by ``seed`` and the ``parts`` (a probe's name, a case id, ...)."""
    h = hashlib.sha256(str(seed).encode())
    for part in parts:
        h.update(b"\0" + part.encode("utf-8", "surrogatepass"))
    return random.Random(int.from_bytes(h.digest()[:8], "big"))
