"""What a run covers: which variants, models and cases, and in what order the calls come."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from promptbench.errors import UsageError
from promptbench.runner.options import RunOptions
from promptbench.suite import Suite, Variant
from promptbench.suite.grid import selects
from promptbench.suite.probes import ProbeSet
from promptbench.types import Case


@dataclass(frozen=True)
class WorkItem:
    """One call to make."""

    case: Case
    variant: Variant
    model: str
    repeat: int


def select(suite: Suite, options: RunOptions) -> tuple[list[str], list[str]]:
    """The variants and models the run covers, checking the filters name real ones."""

    def pick(kind: str, wanted: list[str] | None, available: list[str]) -> list[str]:
        if not wanted:
            return available
        # A grid's base name selects every setting it expanded to.
        unknown = [w for w in wanted if not any(selects(w, a) for a in available)]
        if unknown:
            raise UsageError(
                f"unknown {kind} '{unknown[0]}'; the suite has: {', '.join(available)}"
            )
        return [a for a in available if any(selects(w, a) for w in wanted)]

    # Judge-only models grade the others; they are evaluated only when named with -m.
    evaluated = [name for name, m in suite.models.items() if not m.judge_only]
    return (
        pick("variant", options.variants, list(suite.variants)),
        pick("model", options.models, list(suite.models)) if options.models else evaluated,
    )


def selected_cases(suite: Suite, options: RunOptions) -> Iterator[Case]:
    """The cases the run covers, streamed, in file order.

    With ``shard = (i, n)`` the run takes every n-th of the cases selected by the
    other filters, starting with the i-th: shards are disjoint, cover everything
    together, and come out the same on every machine.
    """
    wanted = set(options.cases) if options.cases else None
    probes = selected_probes(suite, options)
    n = 0
    for case in suite.cases:
        if wanted is not None and case.id not in wanted:
            continue
        if options.shard is None or n % options.shard[1] == options.shard[0] - 1:
            yield case
            # A twin goes with its original (same shard, right after it): pairs stay whole.
            yield from probes.twins(case)
        n += 1
        if options.limit is not None and n >= options.limit:
            return


def selected_probes(suite: Suite, options: RunOptions) -> ProbeSet:
    """The suite's probes the run makes twins for: all, or those named by ``--probe``."""
    if options.probes is None:
        return suite.probes
    return suite.probes.select(options.probes)


def count_cases(suite: Suite, options: RunOptions) -> int:
    """How many cases the run covers, twins included."""
    if options.cases is None and options.shard is None and not selected_probes(suite, options):
        return min(suite.cases.count, options.limit or suite.cases.count)
    return sum(1 for _ in selected_cases(suite, options))
