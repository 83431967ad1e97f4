"""Reference-overlap metrics: how close the output is to a reference text.

``levenshtein`` and ``similarity`` compare characters (rapidfuzz); ``bleu`` and
``chrf`` are sacrebleu's sentence-level scores (the ``metrics`` extra);
``rouge1``, ``rouge2`` and ``rougeL`` are ROUGE F-measures, computed here as the
``rouge-score`` package computes them with its default tokenizer and no stemming
(that package would bring nltk into the runtime; the tests hold this one equal
to it). Every score is in [0, 1]; the reference defaults to the case's expected.

Default thresholds sit at the low end of what close paraphrases of a one-sentence
reference score (measured on pairs such as "The capital of France is Paris." /
"Paris is the capital of France."), well above unrelated sentences (at most
0.1, 0.35 for the character metrics); tune them to the task:

=============  =========  ==================================================
metric         threshold  paraphrases scored
=============  =========  ==================================================
levenshtein    0.8        0.3-0.9: meant for near-exact answers (typos, case)
similarity     0.8        0.5-0.9: the same, on rapidfuzz's Indel ratio
bleu           0.3        0.2-0.5: sentence BLEU is harsh on rewording
chrf           0.5        0.5-0.85: character n-grams forgive inflection
rouge1         0.5        0.5-1.0
rouge2         0.3        0.3-0.7: word order counts
rougeL         0.5        0.47-0.8
=============  =========  ==================================================
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, field_validator
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from promptbench.config import MetricParams
from promptbench.errors import MissingExtraError
from promptbench.metrics.base import Sample, metric
from promptbench.metrics.string import Normalizer, normalize
from promptbench.types import Score


class ReferenceParams(MetricParams):
    """The reference every overlap metric compares the output with."""

    shorthand = "reference"

    reference: str = Field(
        default="{{ expected }}", description="the reference text; default: the case's expected"
    )

    @field_validator("reference", mode="before")
    @classmethod
    def _number_to_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


# --------------------------------------------------------------------------- characters


class EditParams(ReferenceParams):
    """Parameters of ``levenshtein`` and ``similarity``."""

    normalize: list[Normalizer] = Field(
        default_factory=lambda: list[Normalizer](["strip"]),
        description="steps applied to both sides first: strip, lower, collapse_whitespace, "
        "strip_punctuation",
    )


class LevenshteinParams(EditParams):
    """Parameters of ``levenshtein``."""

    max_distance: int | None = Field(
        default=None,
        ge=0,
        description="pass when at most this many edits apart (instead of a threshold on "
        "the similarity)",
    )

    def check(self) -> str | None:
        """A distance bound and a similarity threshold would contradict each other."""
        if self.max_distance is not None and self.threshold is not None:
            return "give max_distance or threshold, not both"
        return None


@metric(
    "levenshtein",
    params=LevenshteinParams,
    summary="1 - edit distance / longer length, against the reference (default threshold 0.8)",
    example='levenshtein: {reference: "{{ answer }}", threshold: 0.9}',
    default_threshold=0.8,
)
def levenshtein(sample: Sample, params: LevenshteinParams) -> Score:
    """Normalised Levenshtein similarity: 1 - distance / max(len); two empty texts score 1.

    With ``max_distance`` the verdict is on the edit distance itself (promptfoo's
    reading of a levenshtein threshold); the score is still the similarity.
    """
    out = normalize(sample.output, params.normalize)
    ref = normalize(params.reference, params.normalize)
    distance = Levenshtein.distance(out, ref)
    value = Levenshtein.normalized_similarity(out, ref)
    longer = max(len(out), len(ref))
    reason = f"{value:.3f}: {distance} edits over {longer} chars"
    if params.max_distance is not None:
        ok = distance <= params.max_distance
        return Score("levenshtein", value, ok, f"{reason} (at most {params.max_distance})")
    return Score("levenshtein", value, None, reason)


@metric(
    "similarity",
    params=EditParams,
    summary="rapidfuzz's ratio (Indel similarity) / 100, against the reference "
    "(default threshold 0.8)",
    example="similarity: {normalize: [strip, lower]}",
    default_threshold=0.8,
)
def similarity(sample: Sample, params: EditParams) -> Score:
    """``rapidfuzz.fuzz.ratio`` scaled to [0, 1]: 1 - insertions and deletions / total length."""
    out = normalize(sample.output, params.normalize)
    ref = normalize(params.reference, params.normalize)
    value = fuzz.ratio(out, ref) / 100
    return Score("similarity", value, None, f"{value:.3f}")


# --------------------------------------------------------------------------- sacrebleu


def _need_sacrebleu(metric_name: str) -> str | None:
    if importlib.util.find_spec("sacrebleu") is None:
        return str(MissingExtraError("sacrebleu", "metrics", f"the {metric_name} metric"))
    return None


def _sacrebleu_metrics(metric_name: str) -> Any:
    try:
        import sacrebleu.metrics
    except ImportError:
        raise MissingExtraError("sacrebleu", "metrics", f"the {metric_name} metric") from None
    return sacrebleu.metrics


def _unit(value: float) -> float:
    # sacrebleu's 100 can come out as 100.00000000000004 (exp of a sum of logs);
    # a score above 1 would be an error verdict.
    return min(max(value, 0.0), 1.0)


BleuTokenizer = Literal["13a", "intl", "char", "zh", "none"]


class BleuParams(ReferenceParams):
    """Parameters of ``bleu``."""

    tokenize: BleuTokenizer = Field(
        default="13a",
        description="sacrebleu's tokenizer: 13a (default), intl, char, zh, none",
    )
    lowercase: bool = Field(default=False, description="compare ignoring case")

    def check(self) -> str | None:
        """Say so when sacrebleu is missing, before a run scores anything."""
        return _need_sacrebleu("bleu")


@functools.lru_cache(maxsize=16)
def _bleu(tokenize: str, lowercase: bool) -> Any:
    # One scorer per configuration: building one per sample is most of the cost.
    # These are sacrebleu.sentence_bleu's settings: exp smoothing, effective order.
    bleu_class = _sacrebleu_metrics("bleu").BLEU
    return bleu_class(tokenize=tokenize, lowercase=lowercase, effective_order=True)


@metric(
    "bleu",
    params=BleuParams,
    summary="sentence BLEU (sacrebleu, exp smoothing) / 100, against the reference "
    "(default threshold 0.3; needs the metrics extra)",
    example='bleu: {reference: "{{ translation }}"}',
    default_threshold=0.3,
    blocking=True,  # pure-Python n-gram counting: milliseconds on long outputs
)
def bleu(sample: Sample, params: BleuParams) -> Score:
    """``sacrebleu.sentence_bleu(output, [reference]).score / 100``."""
    result = _bleu(params.tokenize, params.lowercase).sentence_score(
        sample.output, [params.reference]
    )
    value = _unit(result.score / 100)
    precisions = "/".join(f"{p:.0f}" for p in result.precisions)
    return Score("bleu", value, None, f"{value:.3f} (precisions {precisions}, BP {result.bp:.3f})")


class ChrfParams(ReferenceParams):
    """Parameters of ``chrf``."""

    word_order: Literal[0, 1, 2] = Field(
        default=0, description="0: chrF; 2: chrF++ (word unigrams and bigrams too)"
    )

    def check(self) -> str | None:
        """Say so when sacrebleu is missing, before a run scores anything."""
        return _need_sacrebleu("chrf")


@functools.lru_cache(maxsize=4)
def _chrf(word_order: int) -> Any:
    return _sacrebleu_metrics("chrf").CHRF(word_order=word_order)


@metric(
    "chrf",
    params=ChrfParams,
    summary="sentence chrF (sacrebleu) / 100, against the reference "
    "(default threshold 0.5; needs the metrics extra)",
    example="chrf: {word_order: 2}",
    default_threshold=0.5,
    blocking=True,
)
def chrf(sample: Sample, params: ChrfParams) -> Score:
    """``sacrebleu.sentence_chrf(output, [reference]).score / 100``."""
    result = _chrf(params.word_order).sentence_score(sample.output, [params.reference])
    value = _unit(result.score / 100)
    return Score("chrf", value, None, f"{value:.3f}")


# --------------------------------------------------------------------------- ROUGE

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenizer: lower case, runs of non-[a-z0-9] split words.

    So, like rouge-score, words in other scripts are dropped ("café" is "caf").
    """
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _f(overlap: int, out_count: int, ref_count: int) -> tuple[float, float, float]:
    """Precision, recall and F1, with rouge-score's arithmetic (so equal to the bit)."""
    precision = overlap / max(out_count, 1)
    recall = overlap / max(ref_count, 1)
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f


def rouge_n(reference: Sequence[str], output: Sequence[str], n: int) -> tuple[float, float, float]:
    """ROUGE-N precision, recall and F1 over token lists: clipped n-gram overlap."""
    ref = Counter(zip(*(reference[i:] for i in range(n)), strict=False))
    out = Counter(zip(*(output[i:] for i in range(n)), strict=False))
    overlap = sum((ref & out).values())
    return _f(overlap, sum(out.values()), sum(ref.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004).

    Row j of the usual DP table is held as the bits of one integer, so each token of
    ``b`` costs a few big-integer operations instead of a Python loop over ``a``:
    O(len(a) * len(b) / 64) machine work, fast enough for long texts on the event loop.
    """
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for token in b:
        match = masks.get(token)
        if match is not None:
            u = row & match
            row = ((row + u) | (row - u)) & full
    return len(a) - row.bit_count()


def rouge_l(reference: Sequence[str], output: Sequence[str]) -> tuple[float, float, float]:
    """ROUGE-L precision, recall and F1: the LCS over each side's length."""
    if not reference or not output:
        return 0.0, 0.0, 0.0
    return _f(lcs_length(reference, output), len(output), len(reference))


def _rouge(name: str, sample: Sample, params: ReferenceParams) -> Score:
    ref, out = rouge_tokens(params.reference), rouge_tokens(sample.output)
    p, r, f = rouge_l(ref, out) if name == "rougeL" else rouge_n(ref, out, int(name[-1]))
    return Score(name, f, None, f"F {f:.3f} (P {p:.3f}, R {r:.3f})")


@metric(
    "rouge1",
    params=ReferenceParams,
    summary="ROUGE-1 F-measure (shared words) against the reference (default threshold 0.5)",
    example='rouge1: "{{ summary }}"',
    default_threshold=0.5,
    blocking=True,  # long outputs take milliseconds: off the event loop
)
def rouge1(sample: Sample, params: ReferenceParams) -> Score:
    """ROUGE-1 F1: unigram overlap."""
    return _rouge("rouge1", sample, params)


@metric(
    "rouge2",
    params=ReferenceParams,
    summary="ROUGE-2 F-measure (shared word pairs) against the reference (default threshold 0.3)",
    example="rouge2: {threshold: 0.5}",
    default_threshold=0.3,
    blocking=True,
)
def rouge2(sample: Sample, params: ReferenceParams) -> Score:
    """ROUGE-2 F1: bigram overlap."""
    return _rouge("rouge2", sample, params)


@metric(
    "rougeL",
    params=ReferenceParams,
    summary="ROUGE-L F-measure (longest common word subsequence) against the reference "
    "(default threshold 0.5)",
    example='rougeL: {reference: "{{ summary }}"}',
    default_threshold=0.5,
    blocking=True,  # the longest common subsequence is quadratic in the length
)
def rouge_l_metric(sample: Sample, params: ReferenceParams) -> Score:
    """ROUGE-L F1: longest common subsequence of words."""
    return _rouge("rougeL", sample, params)
