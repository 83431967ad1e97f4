"""The injection catalogue: at least 30 payloads in four families, each asking for a canary."""

from __future__ import annotations

import base64
import codecs
import contextlib
import random

import pytest

from promptbench.probes.injection import (
    CATALOGUE,
    FAMILIES,
    canary_for,
    contains_canary,
    insert,
)


def test_catalogue_size_and_families() -> None:
    assert len(CATALOGUE) >= 30
    assert {p.family for p in CATALOGUE} == set(FAMILIES)
    assert len({p.id for p in CATALOGUE}) == len(CATALOGUE)
    for family in FAMILIES:
        assert sum(p.family == family for p in CATALOGUE) >= 6


@pytest.mark.parametrize("payload", CATALOGUE, ids=lambda p: p.id)
def test_every_payload_asks_for_its_canary(payload: object) -> None:
    canary = "ZXK7QMR4"
    text = payload.text(canary)  # type: ignore[attr-defined]
    decoded = {text}
    for word in text.split():
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            decoded.add(base64.b64decode(word, validate=True).decode())
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            decoded.add(bytes.fromhex(word.rstrip(".")).decode())
    decoded.add(codecs.encode(text, "rot13"))
    decoded.add(text[::-1])
    assert any(canary in d for d in decoded), text


def test_canary_detection_ignores_case_spacing_and_punctuation() -> None:
    assert contains_canary("Sure! zx-k7q m r4.", "ZXK7QMR4")
    assert not contains_canary("Paris", "ZXK7QMR4")
    tokens = {canary_for(random.Random(i)) for i in range(200)}
    assert len(tokens) == 200 and all(t.startswith("ZX") and len(t) == 8 for t in tokens)


def test_insert_positions() -> None:
    doc = "One. Two. Three. Four."
    assert insert(doc, "P", "start") == "P\nOne. Two. Three. Four."
    assert insert(doc, "P", "end") == "One. Two. Three. Four.\nP"
    assert insert(doc, "P", "middle") == "One. Two. P\nThree. Four."
