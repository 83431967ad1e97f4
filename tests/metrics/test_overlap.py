"""Reference-overlap metrics, held equal to the libraries that define them.

bleu and chrf against sacrebleu's own sentence_bleu / sentence_chrf; rouge1,
rouge2 and rougeL against rouge-score's RougeScorer (F-measure, no stemmer),
which the runtime never imports; levenshtein and similarity against their
definitions.
"""

from __future__ import annotations

import sys

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from promptbench.errors import MissingExtraError
from promptbench.metrics.base import metrics
from promptbench.metrics.overlap import (
    _sacrebleu_metrics,
    lcs_length,
    rouge_l,
    rouge_n,
    rouge_tokens,
)
from promptbench.types import Case
from tests.metrics.helpers import parse, score, verdict

LONG_REF = (
    "The quarterly report shows that revenue grew by twelve percent compared with the same "
    "period last year, driven mainly by subscriptions in Europe and Asia. Operating costs rose "
    "more slowly than revenue, so the margin improved for the third quarter in a row. The board "
    "expects growth to continue, although currency movements and new regulation in two markets "
    "remain risks that could slow the expansion planned for next year."
)
LONG_OUT = (
    "Revenue grew twelve percent year on year in the quarter, mostly from European and Asian "
    "subscriptions. Costs grew more slowly than revenue, so margins improved for a third "
    "consecutive quarter. The board expects continued growth but names currency movements and "
    "new regulation in two markets as risks to next year's planned expansion."
)

# (reference, output): identical, disjoint, reordered, punctuation, case, repeats, empty,
# unicode, numbers, long, and tokenization edge cases.
PAIRS: list[tuple[str, str]] = [
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("The cat sat on the mat.", "Stock prices fell sharply today."),
    ("The capital of France is Paris.", "Paris is the capital of France."),
    ("Hello, world! How are you?", "Hello world how are you"),
    ("The Quick Brown Fox", "the quick brown fox"),
    ("the cat", "the the the the cat cat"),
    ("to be or not to be", "to be"),
    ("Something is here.", ""),
    ("", "Something is here."),
    ("", ""),
    ("Café crème brûlée à Paris.", "Cafe creme brulee a Paris."),
    ("我喜欢吃苹果。", "我喜欢吃香蕉。"),
    ("I love pizza 🍕!", "I love pizza!"),
    ("Refunds take 5 business days.", "Refunds take five business days."),
    (LONG_REF, LONG_OUT),
    (LONG_REF, LONG_REF[::-1]),
    ("billing", "billing"),
    ("billing", "tech"),
    ("line one\nline two", "line one  line two\n"),
    (
        "The meeting was moved to Thursday afternoon.",
        "The meeting has been moved to Thursday afternoon.",
    ),
    ("The quick brown fox jumps over the lazy dog.", "quick fox"),
    ("quick fox", "The quick brown fox jumps over the lazy dog."),
    ("e-mail: a.b@example.com", "email a b example com"),
    ("I can't do that.", "I cannot do that."),
    ("COVID-19 cases rose 3.5% in 2020.", "covid 19 cases rose 3 5 percent in 2020"),
    ("a b a b a b", "b a b a b a"),
]
IDS = [f"pair{i}" for i in range(len(PAIRS))]
ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def value(kind: str, reference: str, output: str) -> float:
    s = score(kind, {"reference": reference}, output)
    assert s.error is None and s.value is not None, s.error
    return s.value


def test_the_reference_set_is_varied_enough() -> None:
    assert len(PAIRS) >= 20
    assert len(set(PAIRS)) == len(PAIRS)


# --------------------------------------------------------------------------- vs the libraries


@pytest.mark.parametrize(("reference", "output"), PAIRS, ids=IDS)
def test_bleu_equals_sacrebleu_sentence_bleu(reference: str, output: str) -> None:
    want = sacrebleu.sentence_bleu(output, [reference]).score / 100
    assert value("bleu", reference, output) == pytest.approx(min(want, 1.0), abs=1e-9)


@pytest.mark.parametrize(("reference", "output"), PAIRS, ids=IDS)
def test_chrf_equals_sacrebleu_sentence_chrf(reference: str, output: str) -> None:
    want = sacrebleu.sentence_chrf(output, [reference]).score / 100
    assert value("chrf", reference, output) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize(("reference", "output"), PAIRS, ids=IDS)
def test_rouge_equals_rouge_score_exactly(reference: str, output: str) -> None:
    want = ROUGE.score(reference, output)
    for kind in ("rouge1", "rouge2", "rougeL"):
        assert value(kind, reference, output) == want[kind].fmeasure, kind


def test_bleu_and_chrf_options_follow_sacrebleu() -> None:
    ref, out = "The Cat sat on the mat", "the cat sat on the mat"
    lower = sacrebleu.sentence_bleu(out, [ref], lowercase=True, tokenize="intl").score / 100
    s = score("bleu", {"reference": ref, "lowercase": True, "tokenize": "intl"}, out)
    assert s.value == pytest.approx(lower, abs=1e-9)
    plus = sacrebleu.sentence_chrf(out, [ref], word_order=2).score / 100
    assert score("chrf", {"reference": ref, "word_order": 2}, out).value == pytest.approx(
        plus, abs=1e-9
    )


WORDS = st.lists(st.sampled_from(["a", "b", "c", "the", "cat", "Dog", "x1", "!", "é"]), max_size=30)


@settings(max_examples=300, deadline=None)
@given(WORDS, WORDS)
def test_rouge_equals_rouge_score_on_random_texts(ref: list[str], out: list[str]) -> None:
    # The functions under the metrics, called directly: 300 event loops would be slow.
    reference, output = rouge_tokens(" ".join(ref)), rouge_tokens(" ".join(out))
    want = ROUGE.score(" ".join(ref), " ".join(out))
    assert rouge_n(reference, output, 1)[2] == want["rouge1"].fmeasure
    assert rouge_n(reference, output, 2)[2] == want["rouge2"].fmeasure
    assert rouge_l(reference, output) == (
        want["rougeL"].precision,
        want["rougeL"].recall,
        want["rougeL"].fmeasure,
    )


def test_rouge_tokens_follow_rouge_score() -> None:
    assert rouge_tokens("Hello, WORLD! It's 3.5% of café") == [
        "hello", "world", "it", "s", "3", "5", "of", "caf"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [("", "", 0), ("abc", "", 0), ("abcbdab", "bdcaba", 4), ("aaaa", "aa", 2), ("abc", "abc", 3)],
)
def test_lcs_length(a: str, b: str, n: int) -> None:
    assert lcs_length(list(a), list(b)) == n
    assert lcs_length(list(b), list(a)) == n


# --------------------------------------------------------------------------- verdicts


def test_rouge_reason_gives_precision_and_recall() -> None:
    s = score("rouge1", {"reference": "the cat sat"}, "the cat")
    assert verdict(s) == (0.8, True, "F 0.800 (P 1.000, R 0.667)")
    assert verdict(score("rougeL", {"reference": "a b c d"}, "d c b a")) == (
        0.25,
        False,
        "F 0.250 (P 0.250, R 0.250)",
    )


def test_bleu_reason_and_verdicts() -> None:
    same = score("bleu", {"reference": "the cat sat on the mat"}, "the cat sat on the mat")
    assert verdict(same) == (1.0, True, "1.000 (precisions 100/100/100/100, BP 1.000)")
    other = score("bleu", {"reference": "the cat sat on the mat"}, "stock prices fell")
    assert (other.value, other.passed) == (0.0, False)


def test_levenshtein_is_one_minus_distance_over_the_longer_length() -> None:
    s = score("levenshtein", {"reference": "kitten"}, "sitting")
    assert verdict(s) == (1 - 3 / 7, False, "0.571: 3 edits over 7 chars")
    assert verdict(score("levenshtein", {"reference": "Paris"}, " Paris\n")) == (
        1.0,
        True,
        "1.000: 0 edits over 5 chars",
    )
    assert score("levenshtein", {"reference": ""}, "").value == 1.0
    assert score("levenshtein", {"reference": "abc"}, "").value == 0.0


def test_levenshtein_threshold_default_and_normalize() -> None:
    # One edit in five characters: 0.8, the default threshold, passes; two do not.
    assert score("levenshtein", {"reference": "hello"}, "hallo").passed is True
    assert score("levenshtein", {"reference": "hello"}, "hxllx").passed is False
    assert score("levenshtein", {"reference": "PARIS"}, "paris").value == 0.0
    lowered = score("levenshtein", {"reference": "PARIS", "normalize": ["lower"]}, "paris")
    assert lowered.value == 1.0


def test_similarity_is_the_indel_ratio() -> None:
    s = score("similarity", {"reference": "kitten"}, "sitting")
    assert s.value == pytest.approx(8 / 13)  # 2 * LCS 4 / 13 characters
    assert (s.passed, s.reason) == (False, "0.615")
    assert verdict(score("similarity", {"reference": "abcde"}, "abcdX")) == (0.8, True, "0.800")


@pytest.mark.parametrize(
    "kind", ["levenshtein", "similarity", "bleu", "chrf", "rouge1", "rouge2", "rougeL"]
)
def test_closer_outputs_score_higher_and_identity_passes(kind: str) -> None:
    ref = "The meeting was moved to Thursday afternoon because the room was booked."
    close = "The meeting was moved to Thursday afternoon as the room was booked."
    far = "Stock prices fell sharply after the announcement."
    same, near, unrelated = (value(kind, ref, out) for out in (ref, close, far))
    assert same == 1.0
    assert same > near > unrelated
    assert score(kind, {"reference": ref}, ref).passed is True
    assert score(kind, {"reference": ref}, far).passed is False


def test_default_thresholds() -> None:
    want = {
        "levenshtein": 0.8,
        "similarity": 0.8,
        "bleu": 0.3,
        "chrf": 0.5,
        "rouge1": 0.5,
        "rouge2": 0.3,
        "rougeL": 0.5,
    }
    assert {k: metrics.get(k).default_threshold for k in want} == want
    assert metrics.get("bleu").blocking and metrics.get("chrf").blocking


# --------------------------------------------------------------------------- reference


def test_reference_defaults_to_the_case_expected() -> None:
    case = Case("c1", {}, expected="Paris is the capital of France.")
    s = score("rouge1", {}, "The capital of France is Paris.", case)
    assert verdict(s) == (1.0, True, "F 1.000 (P 1.000, R 1.000)")
    missing = score("rouge1", {}, "anything", Case("c2", {}))
    assert missing.verdict == "error"
    assert missing.error is not None and "undefined variable 'expected'" in missing.error


def test_templated_reference_and_shorthand() -> None:
    case = Case("c1", {"answer": "blue whale"})
    params = {"reference": "The {{ answer }} is the largest animal."}
    s = score("rougeL", params, "The blue whale is the largest animal.", case)
    assert s.value == 1.0
    spec, issues = parse("- similarity: '{{ answer }}'\n")
    assert issues == [] and spec is not None
    assert dict(spec.params) == {"reference": "{{ answer }}"}
    assert parse("- bleu: {tokenize: spaces}\n")[1] == [
        "suite.yaml:1:20: [0].bleu.tokenize: input should be '13a', 'intl', 'char', 'zh' or "
        "'none' (got 'spaces')"
    ]


def test_missing_sacrebleu_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    monkeypatch.setitem(sys.modules, "sacrebleu.metrics", None)
    with pytest.raises(MissingExtraError) as info:
        _sacrebleu_metrics("bleu")
    assert info.value.extra == "metrics"
    assert str(info.value) == (
        "the bleu metric needs the 'sacrebleu' package, which is not installed; "
        "install it with: pip install 'promptbench[metrics]' (from a checkout: "
        "pip install -e '.[metrics]')"
    )
    # ... and a suite naming chrf says so when it loads, before any call is made.
    assert parse("- chrf\n")[1] == [
        "suite.yaml:1:3: [0]: the chrf metric needs the 'sacrebleu' package, which is not "
        "installed; install it with: pip install 'promptbench[metrics]' (from a checkout: "
        "pip install -e '.[metrics]')"
    ]


def test_levenshtein_max_distance_passes_within_that_many_edits() -> None:
    # kitten -> sitting is 3 edits: within 3 passes, within 2 fails; the score stays 0.571.
    within = score("levenshtein", {"reference": "kitten", "max_distance": 3}, "sitting")
    assert (within.passed, round(within.value or 0, 3)) == (True, 0.571)
    assert within.reason == "0.571: 3 edits over 7 chars (at most 3)"
    assert (
        score("levenshtein", {"reference": "kitten", "max_distance": 2}, "sitting").passed is False
    )
    assert score("levenshtein", {"reference": "a", "max_distance": 0}, "b").passed is False
    assert score("levenshtein", {"reference": "a", "max_distance": 0}, "a").passed is True


def test_levenshtein_max_distance_and_threshold_contradict() -> None:
    spec, issues = parse("- levenshtein: {reference: a, max_distance: 1, threshold: 0.5}")
    assert spec is None
    assert any("give max_distance or threshold, not both" in i for i in issues)
