"""Counterfactual term swaps: the same text about another group of people.

A term list names groups whose lists are aligned: row i of every group is the same word
for that group (``he`` / ``she``, ``church`` / ``mosque``). Swapping groups A and B
replaces each whole word of A by its partner in B and each word of B by its partner in
A, keeping the case it was written in. A word listed twice in a group maps back to its
first partner. Built-in lists ship as package data (``promptbench/probes/data``); a
suite's own file, in the same format, extends or replaces them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from itertools import combinations
from typing import Any

import yaml
from pydantic import Field, field_validator

from promptbench.config import StrictModel

BUILTIN_TERM_LISTS = ("gender", "names_gender", "names_origin", "nationality", "religion")


class TermList(StrictModel):
    """A term list file: groups of aligned words."""

    description: str = ""
    groups: dict[str, list[str]] = Field(
        min_length=2, description="group name -> words; row i of every group is one term"
    )

    @field_validator("groups")
    @classmethod
    def _words(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, words in groups.items():
            if not words:
                raise ValueError(f"group '{name}' has no terms; list at least one")
            blank = [i for i, w in enumerate(words) if not w.strip()]
            if blank:
                raise ValueError(f"group '{name}': term {blank[0] + 1} is empty")
        sizes = {name: len(words) for name, words in groups.items()}
        if len(set(sizes.values())) > 1:
            shown = ", ".join(f"{n}: {k}" for n, k in sizes.items())
            raise ValueError(f"the groups must list the same number of terms, row by row ({shown})")
        return groups

    def extended(self, other: TermList) -> TermList:
        """A copy with ``other``'s rows added (groups matched by name)."""
        missing = sorted(set(self.groups) ^ set(other.groups))
        if missing:
            raise ValueError(
                "to extend a built-in list, give the same groups "
                f"({', '.join(self.groups)}); not: {', '.join(missing)}"
            )
        return TermList(
            description=self.description,
            groups={g: [*words, *other.groups[g]] for g, words in self.groups.items()},
        )


def builtin_terms(name: str) -> TermList:
    """A term list shipped with promptbench (one of :data:`BUILTIN_TERM_LISTS`)."""
    if name not in BUILTIN_TERM_LISTS:
        raise ValueError(f"no built-in term list '{name}'")
    text = resources.files("promptbench.probes").joinpath("data", f"{name}.yaml").read_text()
    data: Any = yaml.safe_load(text)
    return TermList.model_validate(data)


def _match_case(word: str, replacement: str) -> str:
    """``replacement`` written as ``word`` is: HE -> SHE, He -> She, he -> she."""
    if word.isupper() and len(word) > 1:
        return replacement.upper()
    if word[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement.lower()


@dataclass(frozen=True)
class Swapper:
    """Swaps the terms of two groups in a text, whole words only, keeping case."""

    group_a: str
    group_b: str
    mapping: Mapping[str, str]  # lower-cased term -> its partner as listed
    pattern: re.Pattern[str]

    @classmethod
    def between(cls, terms: TermList, group_a: str, group_b: str) -> Swapper:
        """The swap of ``group_a`` with ``group_b`` of ``terms``."""
        mapping: dict[str, str] = {}
        a, b = terms.groups[group_a], terms.groups[group_b]
        for x, y in zip(a, b, strict=True):
            if x.lower() != y.lower():
                mapping.setdefault(x.lower(), y)
        for x, y in zip(a, b, strict=True):
            if x.lower() != y.lower():
                mapping.setdefault(y.lower(), x)
        # Longest first, so that "Saudi Arabia" wins over "Saudi".
        words = sorted(mapping, key=len, reverse=True)
        alternatives = "|".join(re.escape(w) for w in words) or r"(?!x)x"
        pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)
        return cls(group_a, group_b, mapping, pattern)

    def swap(self, text: str) -> str:
        """``text`` with every term of either group replaced by its partner."""

        def one(match: re.Match[str]) -> str:
            word = match.group(0)
            return _match_case(word, self.mapping[word.lower()])

        return self.pattern.sub(one, text)


def group_pairs(terms: TermList, groups: list[str] | None = None) -> list[tuple[str, str]]:
    """Every pair of the chosen groups (default: all of the list's), in the list's order."""
    chosen = groups if groups else list(terms.groups)
    return list(combinations(chosen, 2))
