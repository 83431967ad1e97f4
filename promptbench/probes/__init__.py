"""Probes: perturbed, counterfactual and injected twins of a suite's cases.

The library is pure text in, text out, seeded for reproducibility: the suite layer
expands a suite's ``probes:`` into twin cases with it, the runner runs them like any
case, and :mod:`promptbench.stats.probes` compares each twin with its original.
"""

from promptbench.probes.injection import CATALOGUE, FAMILIES, Payload, contains_canary
from promptbench.probes.kinds import PROBE_KINDS, ProbeDef, Twin, VarsTarget
from promptbench.probes.seeding import rng_for
from promptbench.probes.terms import BUILTIN_TERM_LISTS, Swapper, TermList, builtin_terms

__all__ = [
    "BUILTIN_TERM_LISTS",
    "CATALOGUE",
    "FAMILIES",
    "PROBE_KINDS",
    "Payload",
    "ProbeDef",
    "Swapper",
    "TermList",
    "Twin",
    "VarsTarget",
    "builtin_terms",
    "contains_canary",
    "rng_for",
]
