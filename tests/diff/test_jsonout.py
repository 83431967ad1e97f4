"""diff --json's bytes by orjson are json.dumps' bytes: floats of every magnitude, strings."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.diff.jsonout import dumps_indented


def python_writes(data: Any) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


finite = st.floats(allow_nan=False, allow_infinity=False)
small = st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False)  # where the forms differ
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
leaf = st.one_of(finite, small, text, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none())
documents = st.recursive(
    leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(text, inner, max_size=6)),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_same_bytes_as_json_dumps(data: Any) -> None:
    assert dumps_indented(data) == python_writes(data)


@given(st.lists(small, min_size=1, max_size=20), text)
def test_numbers_in_strings_are_left_alone(values: list[float], prefix: str) -> None:
    # A string that reads like a rewritten number: "0.00001", "x 1.5e-7", on its own.
    data = {"s": [f"{prefix} {v!r}" for v in values] + [" 0.00001", "1.5e-7\n", " 1e-5"]}
    data["n"] = values  # type: ignore[assignment]
    assert dumps_indented(data) == python_writes(data)


def test_every_bit_pattern_of_a_small_sample() -> None:
    # Floats from raw bits (subnormals, huge, tiny): the text and the value round-trip.
    values = []
    for i in range(20_000):
        (v,) = struct.unpack("<d", struct.pack("<Q", (i * 0x9E3779B97F4A7C15) % (1 << 64)))
        if math.isfinite(v):
            values.append(v)
    data = {"v": values, "k": {str(i): v for i, v in enumerate(values[:500])}}
    out = dumps_indented(data)
    assert out == python_writes(data)
    assert json.loads(out)["v"] == values


def test_what_orjson_refuses_goes_to_the_standard_library() -> None:
    for data in ({1: 0.5}, {"big": 2**70}, {"t": (1e-05, None)}):
        assert dumps_indented(data) == python_writes(data)
