"""Counterfactual term swaps: whole words, both directions, case kept; the shipped lists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from promptbench.probes.terms import (
    BUILTIN_TERM_LISTS,
    Swapper,
    TermList,
    builtin_terms,
    group_pairs,
)


def test_gender_swap_both_ways_whole_words_keeping_case() -> None:
    s = Swapper.between(builtin_terms("gender"), "male", "female")
    assert s.swap("He told HIS mother; she said he's a Policeman.") == (
        "She told HER father; he said she's a Policewoman."
    )
    # whole words only: "the", "hero", "manage", "shell" stay
    assert s.swap("the hero can manage the shell") == "the hero can manage the shell"


def test_multiword_terms_win_over_their_first_word() -> None:
    s = Swapper.between(builtin_terms("nationality"), "europe", "middle_east")
    assert s.swap("Poland and Saudi Arabia") == "Jordan and Italy"


def test_every_builtin_list_loads_aligned() -> None:
    for name in BUILTIN_TERM_LISTS:
        terms = builtin_terms(name)
        sizes = {len(words) for words in terms.groups.values()}
        assert len(sizes) == 1 and sizes.pop() >= 10, name
        assert len(terms.groups) >= 2


def test_group_pairs_default_all_and_chosen() -> None:
    terms = builtin_terms("religion")
    assert len(group_pairs(terms)) == 10
    assert group_pairs(terms, ["muslim", "jewish"]) == [("muslim", "jewish")]


def test_extending_adds_rows_for_the_same_groups() -> None:
    base = builtin_terms("gender")
    extra = TermList(groups={"male": ["lad"], "female": ["lass"]})
    s = Swapper.between(base.extended(extra), "male", "female")
    assert s.swap("the lad and his dad") == "the lass and her mum"
    with pytest.raises(ValueError, match="same groups"):
        base.extended(TermList(groups={"a": ["x"], "b": ["y"]}))


@pytest.mark.parametrize(
    "groups",
    [{"a": ["x"]}, {"a": [], "b": []}, {"a": ["x", "y"], "b": ["z"]}, {"a": [" "], "b": ["z"]}],
)
def test_malformed_lists_are_refused(groups: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError):
        TermList(groups=groups)
