"""Text perturbations: small changes a robust model should shrug off.

Each function takes the text and a seeded :class:`random.Random` (see
:mod:`promptbench.probes.seeding`) and returns the perturbed text; the same seed gives
the same result. They follow the transformations of Giskard's robustness scan
(typos by keyboard-adjacent keys, case, punctuation, numbers as words, accents), of
CheckList (random suffixes) and of StressTest (tautologies, distractors).
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections.abc import Sequence

# Keys next to each key on a QWERTY keyboard (same row and the rows above and below).
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_OFFSETS = (0, 0, 0.25, 0.75)  # how far each row is shifted to the right, in keys


def _neighbours() -> dict[str, str]:
    pos = {ch: (r, c + _OFFSETS[r]) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, x) in pos.items():
        near = [
            other
            for other, (r2, x2) in pos.items()
            if other != ch and abs(r2 - r) <= 1 and abs(x2 - x) <= 1.0
        ]
        out[ch] = "".join(sorted(near))
    return out


KEYBOARD_NEIGHBOURS = _neighbours()
TYPO_OPERATIONS = ("insert", "delete", "replace", "transpose")


def _near_key(ch: str, rng: random.Random) -> str:
    near = KEYBOARD_NEIGHBOURS.get(ch.lower())
    if not near:
        return ch
    key = rng.choice(near)
    return key.upper() if ch.isupper() else key


def typos(text: str, rng: random.Random, rate: float = 0.05) -> str:
    """Typing errors at ``rate`` of the letters and digits.

    Each character hit gets one of: a keyboard-adjacent key inserted after it, deleted,
    replaced by an adjacent key, or swapped with the next character (Giskard's typo
    transformation, at its default 5%).
    """
    out: list[str] = []
    chars = list(text)
    i = 0
    while i < len(chars):
        ch = chars[i]
        if not ch.isalnum() or rng.random() >= rate:
            out.append(ch)
            i += 1
            continue
        op = rng.choice(TYPO_OPERATIONS)
        if op == "insert":
            out += [ch, _near_key(ch, rng)]
        elif op == "replace":
            out.append(_near_key(ch, rng))
        elif op == "transpose" and i + 1 < len(chars):
            out += [chars[i + 1], ch]
            i += 1
        elif op == "transpose":  # the last character has nothing to swap with: keep it
            out.append(ch)
        # delete: nothing appended
        i += 1
    return "".join(out)


CASE_MODES = ("upper", "lower", "title")


def change_case(text: str, mode: str = "upper") -> str:
    """The text in upper case, lower case or title case."""
    if mode == "upper":
        return text.upper()
    if mode == "lower":
        return text.lower()
    if mode == "title":
        return string.capwords(text, " ") if "\n" not in text else text.title()
    raise ValueError(f"unknown case mode {mode!r}; use one of {', '.join(CASE_MODES)}")


_SPACE = re.compile(r" ")


def whitespace(text: str, rng: random.Random, rate: float = 0.2) -> str:
    """Spaces doubled, or turned into a tab or a line break, at ``rate`` of the spaces."""

    def one(match: re.Match[str]) -> str:
        if rng.random() >= rate:
            return match.group(0)
        return rng.choice(("  ", "\t", "\n", "   "))

    return _SPACE.sub(one, text)


# ASCII punctuation, except a point or comma inside a number (3.5, 1,000).
_PUNCT = re.compile(r"(?!(?<=\d)[.,](?=\d))[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]")
_WORD_END = re.compile(r"(?<=\w)(?=\s|$)")
STRAY_PUNCTUATION = ",.;!?"


def punctuation(text: str, rng: random.Random, mode: str = "strip", rate: float = 0.1) -> str:
    """Punctuation removed (``strip``), or stray marks added after ``rate`` of the words."""
    if mode == "strip":
        return _PUNCT.sub("", text)
    if mode == "add":
        return _WORD_END.sub(
            lambda _: rng.choice(STRAY_PUNCTUATION) if rng.random() < rate else "", text
        )
    raise ValueError(f"unknown punctuation mode {mode!r}; use strip or add")


_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def number_words(n: int) -> str:
    """An integer in English words: 42 -> forty-two, -3 -> minus three."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            high, rest = divmod(n, scale)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


# Digits not inside a word (so "B2B" and "mp3" stay), with an optional decimal part.
_NUMBER = re.compile(r"(?<![\w.])(\d{1,15})(?:\.(\d+))?(?![\w]|\.\d)")


def numbers_as_words(text: str) -> str:
    """Numbers written out: "3 cats" -> "three cats", "2.5" -> "two point five"."""

    def one(match: re.Match[str]) -> str:
        words = number_words(int(match.group(1)))
        if match.group(2):
            words += " point " + " ".join(_ONES[int(d)] for d in match.group(2))
        return words

    return _NUMBER.sub(one, text)


def remove_accents(text: str) -> str:
    """Diacritics dropped: "café naïve" -> "cafe naive" (NFKD, combining marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


_SUFFIX_ALPHABET = string.ascii_letters + string.digits


def random_suffix(text: str, rng: random.Random, length: int = 10) -> str:
    """A random string of ``length`` letters and digits appended (CheckList, PromptBench)."""
    return f"{text} {''.join(rng.choices(_SUFFIX_ALPHABET, k=length))}"


TAUTOLOGY = " and true is true"


def tautology(text: str, phrase: str = TAUTOLOGY, times: int = 1) -> str:
    """A true, irrelevant clause appended ``times`` times (StressTest's " and true is true")."""
    return text + phrase * times


DISTRACTORS = (
    "The weather was mild for the time of year.",
    "Some people prefer tea to coffee in the morning.",
    "The library closes early on public holidays.",
    "A new bakery opened on the corner last week.",
    "Most trains were running on time today.",
    "The museum has extended its opening hours.",
    "Cats often sleep for more than twelve hours a day.",
    "The meeting room on the second floor is being painted.",
)


def distractor(
    text: str,
    rng: random.Random,
    sentences: Sequence[str] = DISTRACTORS,
    position: str = "end",
) -> str:
    """An irrelevant sentence, drawn from ``sentences``, added at the start or the end."""
    sentence = rng.choice(list(sentences))
    if position == "start":
        return f"{sentence} {text}"
    if position == "end":
        return f"{text} {sentence}"
    raise ValueError(f"unknown position {position!r}; use start or end")
