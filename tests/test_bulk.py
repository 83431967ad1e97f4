"""promptbench.bulk reads and writes JSON as the standard library does, only faster."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from promptbench.bulk import dumps_indented, gc_paused, loads


def tree(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 4 else 5)
    if pick == 0:
        return rng.choice([0.0, -0.0, 1e-05, 9.999000099990002e-05, 1e-4, 1.5e-07, 5e-324, 1e16])
    if pick == 1:
        return rng.random() * 10 ** rng.randint(-12, 20)
    if pick == 2:
        return rng.choice([None, True, False, 0, -7, 2**62, "é ü", "tab\tnl\n\x01\x7f\u2028"])
    if pick == 3:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(6)))
    if pick == 4:
        return rng.randint(-(10**6), 10**6)
    if pick in (5, 6):
        return [tree(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": tree(rng, depth + 1) for i in range(rng.randrange(4))}


@pytest.mark.parametrize("seed", range(30))
def test_dumps_indented_is_json_dumps(seed: int) -> None:
    obj = tree(random.Random(seed))
    assert dumps_indented(obj) == json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)


def test_dumps_indented_hands_over_what_orjson_writes_otherwise() -> None:
    for obj in ({1: "int key"}, [2**70], {"t": (1, 2)}):
        assert dumps_indented(obj) == json.dumps(obj, indent=2, ensure_ascii=False)


def test_dumps_indented_refuses_nan_like_json() -> None:
    with pytest.raises(ValueError):
        dumps_indented({"p": math.nan})


def test_loads_reads_what_json_reads() -> None:
    texts = ('{"a": NaN, "b": Infinity}', "[18446744073709551616, -9223372036854775809]")
    for text in (*texts, '{"x": "\\u00e9", "n": 18446744073709551615}'):
        got, want = loads(text.encode()), json.loads(text)
        assert repr(got) == repr(want)
    with pytest.raises(ValueError):
        loads(b"{not json")


def test_gc_paused_restores_the_collector() -> None:
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
