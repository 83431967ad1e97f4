"""The text perturbations: what each changes, what it leaves, and that a seed fixes it."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from promptbench.probes import perturb
from promptbench.probes.seeding import rng_for

TEXT = "The quick brown fox jumps over the lazy dog, twice; then it sleeps."


def test_typos_hit_about_rate_of_the_characters_with_the_four_operations() -> None:
    import difflib

    text = "".join(random.Random(0).choices("abcdefghijklmnopqrstuvwxyz", k=2000))
    out = perturb.typos(text, random.Random(7), rate=0.05)
    # Count the changes by aligning: at 5%, a 2000-letter text has ~100 hits.
    matcher = difflib.SequenceMatcher(None, text, out, autojunk=False)
    ops = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    assert 50 <= len(ops) <= 160
    kinds = {op[0] for op in ops}
    assert {"insert", "delete", "replace"} <= kinds


def test_typos_use_keyboard_neighbours() -> None:
    rng = random.Random(3)
    out = perturb.typos("g" * 500, rng, rate=1.0)
    assert set(out) - {"g"} <= set(perturb.KEYBOARD_NEIGHBOURS["g"])
    assert "q" not in perturb.KEYBOARD_NEIGHBOURS["g"]
    assert {"f", "h", "t", "b"} <= set(perturb.KEYBOARD_NEIGHBOURS["g"])


def test_typos_keep_case_and_leave_punctuation_and_spaces() -> None:
    out = perturb.typos("A, B; C. " * 50, random.Random(1), rate=1.0)
    assert out.count(",") == 50 and out.count(";") == 50
    assert not any(ch.islower() for ch in out)


def test_same_seed_same_text_other_seed_other_text() -> None:
    a = perturb.typos(TEXT, rng_for(0, "typos", "q1"), 0.2)
    b = perturb.typos(TEXT, rng_for(0, "typos", "q1"), 0.2)
    c = perturb.typos(TEXT, rng_for(1, "typos", "q1"), 0.2)
    d = perturb.typos(TEXT, rng_for(0, "typos", "q2"), 0.2)
    assert a == b
    assert a != c and a != d


def test_seeds_are_stable_across_processes() -> None:
    code = (
        "from promptbench.probes.seeding import rng_for;print(rng_for(5, 'typos', 'q1').random())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "."},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    assert runs == {f"{rng_for(5, 'typos', 'q1').random()}\n"}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("upper", "HELLO WORLD"), ("lower", "hello world"), ("title", "Hello World")],
)
def test_case(mode: str, expected: str) -> None:
    assert perturb.change_case("hEllo wOrld", mode) == expected


def test_whitespace_changes_only_spaces() -> None:
    out = perturb.whitespace(TEXT, random.Random(0), rate=1.0)
    assert out != TEXT
    assert out.split() == TEXT.split()


def test_punctuation_strip_keeps_numbers_and_add_adds_marks() -> None:
    assert perturb.punctuation("Yes, 3.5 or 1,000!", random.Random(0)) == "Yes 3.5 or 1,000"
    added = perturb.punctuation("one two three four", random.Random(0), mode="add", rate=1.0)
    assert added.split(" ") != ["one", "two", "three", "four"]
    assert "".join(ch for ch in added if ch.isalpha() or ch == " ") == "one two three four"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 cats", "three cats"),
        ("42 and 2.5", "forty-two and two point five"),
        ("1000000 people", "one million people"),
        ("in 1987", "in one thousand nine hundred eighty-seven"),
        ("B2B mp3 v1.2.3", "B2B mp3 v1.2.3"),
        ("-7", "-seven"),
    ],
)
def test_numbers_as_words(text: str, expected: str) -> None:
    assert perturb.numbers_as_words(text) == expected


def test_accents_removed() -> None:
    assert perturb.remove_accents("Café naïve Zoë señor") == "Cafe naive Zoe senor"


def test_suffix_tautology_distractor() -> None:
    rng = random.Random(0)
    out = perturb.random_suffix("hi", rng, length=12)
    assert out.startswith("hi ") and len(out) == 15 and out[3:].isalnum()
    assert perturb.tautology("x", times=2) == "x and true is true and true is true"
    d = perturb.distractor("Q?", random.Random(0), position="start")
    assert d.endswith(" Q?") and d[:-3] in perturb.DISTRACTORS
