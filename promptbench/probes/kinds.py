"""The probes a suite can name under ``probes:``, as pydantic models that forbid unknown keys.

Every probe has a ``kind``, a ``target`` (``{vars: [..]}``: those vars of every case;
``prompt``: the variant's own instruction text) and a ``seed``. A probe makes twins of a
text: :meth:`ProbeDef.twins` returns, for the texts of one case, each twin's changed
texts and what to record about it. Randomness comes from :func:`rng_for` over the seed,
the probe's name, the case id and the var, so a twin is the same in every process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, model_validator

from promptbench.config import StrictModel
from promptbench.probes import injection, perturb
from promptbench.probes.seeding import rng_for
from promptbench.probes.terms import BUILTIN_TERM_LISTS, Swapper, TermList, group_pairs


class VarsTarget(StrictModel):
    """``target: {vars: [question]}``: the probe changes these vars of every case."""

    vars: list[str] = Field(min_length=1, description="the vars to change")


@dataclass(frozen=True)
class Twin:
    """One twin of a case: its id suffix (``""`` for the only one), texts and details."""

    suffix: str
    texts: dict[str, str]
    details: dict[str, Any] = field(default_factory=dict)


class ProbeDef(StrictModel):
    """Fields every probe accepts."""

    kind: str
    target: Literal["prompt"] | VarsTarget | None = Field(
        default=None, description="{vars: [..]} or prompt; default: every text var of the case"
    )
    seed: int = Field(default=0, description="the same seed gives the same twins")

    # Whether target: prompt makes sense for this kind (it perturbs the instruction text).
    allows_prompt: ClassVar[bool] = True
    summary: ClassVar[str] = ""

    def perturb(self, text: str, name: str, key: str) -> str:
        """One text perturbed; ``key`` (case id and var) seeds it with the probe's name."""
        raise NotImplementedError

    def twins(self, name: str, case_id: str, texts: Mapping[str, str]) -> list[Twin]:
        """The twins of one case's ``texts`` (var name -> text); unchanged ones are dropped."""
        changed = {v: self.perturb(t, name, f"{case_id}\0{v}") for v, t in texts.items()}
        changed = {v: t for v, t in changed.items() if t != texts[v]}
        return [Twin("", changed, {"vars": sorted(changed)})] if changed else []

    def problem(self) -> str | None:
        """What is wrong beyond the fields' types, or None."""
        return None

    def _rng(self, name: str, key: str) -> Any:
        return rng_for(self.seed, name, key)


class TyposProbe(ProbeDef):
    """Typing errors at ``rate`` of the characters (keyboard-adjacent keys)."""

    kind: Literal["typos"]
    rate: float = Field(default=0.05, gt=0, le=1, description="share of characters hit")
    summary: ClassVar[str] = "typing errors by keyboard-adjacent keys, at rate of the characters"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.typos(text, self._rng(name, key), self.rate)


class CaseProbe(ProbeDef):
    """The text in upper, lower or title case."""

    kind: Literal["case"]
    mode: Literal["upper", "lower", "title"] = "upper"
    summary: ClassVar[str] = "upper, lower or title case"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.change_case(text, self.mode)


class WhitespaceProbe(ProbeDef):
    """Spaces doubled or turned into tabs and line breaks, at ``rate`` of the spaces."""

    kind: Literal["whitespace"]
    rate: float = Field(default=0.2, gt=0, le=1, description="share of spaces changed")
    summary: ClassVar[str] = "spaces doubled or made tabs and line breaks"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.whitespace(text, self._rng(name, key), self.rate)


class PunctuationProbe(ProbeDef):
    """Punctuation stripped, or stray marks added after ``rate`` of the words."""

    kind: Literal["punctuation"]
    mode: Literal["strip", "add"] = "strip"
    rate: float = Field(default=0.1, gt=0, le=1, description="add: share of words followed")
    summary: ClassVar[str] = "punctuation removed, or stray marks added"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.punctuation(text, self._rng(name, key), self.mode, self.rate)


class NumbersProbe(ProbeDef):
    """Numbers written as words (3 -> three, 2.5 -> two point five)."""

    kind: Literal["numbers"]
    summary: ClassVar[str] = "numbers written as words"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.numbers_as_words(text)


class AccentsProbe(ProbeDef):
    """Accents removed (café -> cafe)."""

    kind: Literal["accents"]
    summary: ClassVar[str] = "accents removed"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.remove_accents(text)


class SuffixProbe(ProbeDef):
    """A random string of ``length`` letters and digits appended (CheckList)."""

    kind: Literal["suffix"]
    length: int = Field(default=10, ge=1, le=200, description="characters appended")
    summary: ClassVar[str] = "a random suffix of letters and digits (CheckList)"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.random_suffix(text, self._rng(name, key), self.length)


class TautologyProbe(ProbeDef):
    """A true, irrelevant clause appended ``times`` times (StressTest)."""

    kind: Literal["tautology"]
    phrase: str = Field(default=perturb.TAUTOLOGY, min_length=1, description="the clause")
    times: int = Field(default=1, ge=1, le=20, description="how many times it is appended")
    summary: ClassVar[str] = 'a tautology appended: " and true is true" (StressTest)'

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        return perturb.tautology(text, self.phrase, self.times)


class DistractorProbe(ProbeDef):
    """An irrelevant sentence added at the start or the end."""

    kind: Literal["distractor"]
    position: Literal["start", "end"] = "end"
    sentences: list[str] | None = Field(
        default=None, min_length=1, description="the sentences to draw from (default: built-in)"
    )
    summary: ClassVar[str] = "an irrelevant sentence added"

    def perturb(self, text: str, name: str, key: str) -> str:  # noqa: D102
        pool = self.sentences or perturb.DISTRACTORS
        return perturb.distractor(text, self._rng(name, key), pool, self.position)


DEFAULT_PARAPHRASE_INSTRUCTION = (
    "Rewrite the following text with different words, keeping its meaning, its facts and "
    "its language. Reply with the rewritten text only.\n\n{text}"
)


class ParaphraseProbe(ProbeDef):
    """The text reworded by a model of the suite; the runner makes (and caches) the call."""

    kind: Literal["paraphrase"]
    model: str = Field(description="the suite's model that rewrites the text")
    instruction: str = Field(
        default=DEFAULT_PARAPHRASE_INSTRUCTION, description="the request; {text} is the text"
    )
    allows_prompt: ClassVar[bool] = False
    summary: ClassVar[str] = "the text reworded by a model of the suite (cached)"

    def problem(self) -> str | None:  # noqa: D102
        return None if "{text}" in self.instruction else "instruction must contain {text}"

    def request(self, text: str) -> str:
        """The message asking for a paraphrase of ``text``."""
        return self.instruction.replace("{text}", text)

    def twins(self, name: str, case_id: str, texts: Mapping[str, str]) -> list[Twin]:
        """One twin, still the original's texts: the runner asks the model for rewrites."""
        if not texts:
            return []
        return [Twin("", dict(texts), {"vars": sorted(texts), "paraphrase": self.model})]

    @staticmethod
    def cleaned(rewrite: str) -> str:
        """A model's rewrite without the quotes and blank lines models wrap answers in."""
        text = rewrite.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1].strip()
        return text


SwapKind = Literal["gender", "names_gender", "names_origin", "nationality", "religion", "swap"]


class SwapProbe(ProbeDef):
    """Counterfactual swaps of group terms; one twin per pair of groups the swap changes."""

    kind: SwapKind
    groups: list[str] | None = Field(
        default=None, min_length=2, description="the groups to swap between (default: all)"
    )
    terms_file: str | None = Field(
        default=None,
        description="a term list file; with a built-in kind it extends that list, "
        "with kind swap it is the only list",
    )
    terms: TermList | None = Field(
        default=None, description="an inline term list, {groups: {..}}, like terms_file's"
    )
    similarity: bool = Field(
        default=False,
        description="also the semantic similarity of the twins' outputs (the embed extra)",
    )
    summary: ClassVar[str] = "terms of one group swapped for another's (bias)"
    # The list in use: the built-in one, extended by terms and terms_file (set by the loader).
    _resolved: TermList | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _list_for_swap(self) -> SwapProbe:
        if self.kind == "swap" and self.terms_file is None and self.terms is None:
            raise ValueError("kind swap needs a term list of your own: terms_file or terms")
        return self

    def with_terms(self, terms: TermList) -> SwapProbe:
        """Use ``terms``, the list the loader resolved; returns the probe itself."""
        self._resolved = terms
        return self

    @property
    def term_list(self) -> TermList:
        """The list in use; raises when the loader has not resolved it."""
        if self._resolved is None:
            raise RuntimeError("the suite loader resolves a swap probe's term list")
        return self._resolved

    def problem(self) -> str | None:  # noqa: D102
        if self._resolved is None or self.groups is None:
            return None
        unknown = [g for g in self.groups if g not in self._resolved.groups]
        if unknown:
            known = ", ".join(self._resolved.groups)
            return f"unknown group '{unknown[0]}'; the list has: {known}"
        return None

    def twins(self, name: str, case_id: str, texts: Mapping[str, str]) -> list[Twin]:
        """One twin per pair of groups whose swap changes the texts."""
        terms = self.term_list
        out = []
        pairs = group_pairs(terms, self.groups)
        for a, b in pairs:
            swapper = Swapper.between(terms, a, b)
            changed = {v: swapper.swap(t) for v, t in texts.items()}
            changed = {v: t for v, t in changed.items() if t != texts[v]}
            if changed:
                suffix = "" if len(pairs) == 1 else f"{a}-{b}"
                out.append(Twin(suffix, changed, {"vars": sorted(changed), "groups": [a, b]}))
        return out

    def perturb(self, text: str, name: str, key: str) -> str:
        """The text with the first pair of groups swapped (for ``target: prompt``)."""
        a, b = group_pairs(self.term_list, self.groups)[0]
        return Swapper.between(self.term_list, a, b).swap(text)


class InjectionProbe(ProbeDef):
    """A prompt-injection payload asking for a canary, inserted into one var of each case."""

    kind: Literal["injection"]
    families: list[Literal["direct", "roleplay", "document", "encoded"]] | None = Field(
        default=None, min_length=1, description="payload families (default: all four)"
    )
    position: Literal["end", "start", "middle"] = "end"
    per_case: int | Literal["all"] = Field(
        default=1, description="payloads per case (drawn at random), or all of them"
    )
    allows_prompt: ClassVar[bool] = False
    summary: ClassVar[str] = "an injected instruction asking for a canary token"

    def problem(self) -> str | None:  # noqa: D102
        if isinstance(self.per_case, int) and self.per_case < 1:
            return "per_case must be at least 1, or all"
        if isinstance(self.target, VarsTarget) and len(self.target.vars) != 1:
            return "an injection goes into one var: target: {vars: [document]}"
        return None

    def payloads(self) -> list[injection.Payload]:
        """The catalogue's payloads of the chosen families."""
        families: list[str] = list(self.families or injection.FAMILIES)
        return [p for p in injection.CATALOGUE if p.family in families]

    def twins(self, name: str, case_id: str, texts: Mapping[str, str]) -> list[Twin]:
        """``per_case`` twins, each with one payload and its own canary."""
        if not texts:
            return []
        var = next(iter(texts))
        rng = rng_for(self.seed, name, case_id)
        pool = self.payloads()
        chosen = pool if self.per_case == "all" else rng.sample(pool, min(self.per_case, len(pool)))
        out = []
        for payload in chosen:
            canary = injection.canary_for(rng)
            text = injection.insert(texts[var], payload.text(canary), self.position)
            details = {"vars": [var], "payload": payload.id, "family": payload.family}
            suffix = "" if len(chosen) == 1 else payload.id
            out.append(Twin(suffix, {var: text}, {**details, "canary": canary}))
        return out


PROBE_KINDS: dict[str, type[ProbeDef]] = {
    "typos": TyposProbe,
    "case": CaseProbe,
    "whitespace": WhitespaceProbe,
    "punctuation": PunctuationProbe,
    "numbers": NumbersProbe,
    "accents": AccentsProbe,
    "suffix": SuffixProbe,
    "tautology": TautologyProbe,
    "distractor": DistractorProbe,
    "paraphrase": ParaphraseProbe,
    **dict.fromkeys(BUILTIN_TERM_LISTS, SwapProbe),
    "swap": SwapProbe,
    "injection": InjectionProbe,
}
