"""What ``promptbench diff`` and ``run --baseline`` compare: the sides, and their groups.

A side is a stored run or a baseline file (:func:`open_source`). Within the sides,
:func:`compare_sources` picks the pairs of variant × model groups: two variants or two
models of one run, or each group present in two runs, with the user's filters, and
says in a UsageError when a name is wrong. Then :mod:`promptbench.diff.compute` does
the statistics. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from promptbench.bulk import gc_paused
from promptbench.diff.baseline import load_baseline
from promptbench.diff.compute import diff_indexes
from promptbench.diff.options import DiffOptions
from promptbench.diff.pairing import (
    Pair,
    RecordIndex,
    pairs_of_models,
    pairs_of_runs,
    pairs_of_variants,
)
from promptbench.diff.result import DiffResult, Mode
from promptbench.diff.sources import Source, is_baseline_file
from promptbench.errors import RunStoreError, UsageError
from promptbench.runs import resolve_run
from promptbench.suite.regression import RegressionRule


def open_source(ref: str | Path, runs_dir: str | Path | None = None) -> Source:
    """A run (id, prefix, directory or ``latest``) or a baseline file, ready to read."""
    path = Path(str(ref))
    if is_baseline_file(path):
        return load_baseline(path, str(ref))
    try:
        run = resolve_run(ref, runs_dir)
    except RunStoreError as exc:
        if path.suffix == ".json":
            raise UsageError(f"{ref}: no such baseline file") from None
        raise exc from None
    label = str(ref) if str(ref) != "latest" else f"latest ({run.run_id})"
    return Source.of_run(run, label)


def _index(source: Source) -> RecordIndex:
    """A side's records folded per group and case, read as lines (no Record built)."""
    try:
        with gc_paused():
            return RecordIndex.of_lines(source.scored_lines(), source.metric_names)
    except (KeyError, TypeError, AttributeError) as exc:  # a line that is not a record
        raise RunStoreError(f"{source.path}: corrupt record: {exc!r}") from None


def _check_names(kind: str, asked: Sequence[str], present: list[str], where: str) -> None:
    missing = [n for n in asked if n not in present]
    if missing:
        raise UsageError(
            f"{where} has no {kind} {', '.join(repr(n) for n in missing)}; "
            f"it has: {', '.join(present) or 'none'}"
        )


def _filter(
    pairs: list[Pair], variants: Sequence[str] | None, models: Sequence[str] | None
) -> list[Pair]:
    return [
        p
        for p in pairs
        if (not variants or p.variant_a in variants or p.variant_b in variants)
        and (not models or p.model_a in models or p.model_b in models)
    ]


def compare_sources(
    a: Source, b: Source | None = None, options: DiffOptions | None = None
) -> DiffResult:
    """B against A: two sources, or with ``options.variants``/``models`` two groups of ``a``."""
    options = options or DiffOptions()
    variants, models = options.variants, options.models
    only_variants, only_models = options.only_variants, options.only_models
    mode: Mode
    if variants or models:
        if b is not None:
            raise UsageError("two variants or two models are compared within ONE run; give one run")
        index_a = index_b = _index(a)
        where = f"{a.info.kind} {a.info.source}"
        names = variants or models
        assert names is not None
        kind = "variant" if variants else "model"
        present = index_a.variants if variants else index_a.models
        _check_names(kind, names, present, where)
        if variants:
            mode, pairs = "variants", pairs_of_variants(index_a, *names)
        else:
            mode, pairs = "models", pairs_of_models(index_a, *names)
        side_a = replace(a.info, label=names[0])
        side_b = replace(a.info, label=names[1])
    else:
        if b is None:
            raise UsageError("give two runs or baseline files (A and B), or one run and two groups")
        index_a = _index(a)
        index_b = _index(b)
        mode, pairs = "runs", pairs_of_runs(index_a, index_b)
        side_a, side_b = a.info, b.info
        if not pairs:
            groups_a = ", ".join(f"{v} × {m}" for v, m in index_a.groups) or "none"
            groups_b = ", ".join(f"{v} × {m}" for v, m in index_b.groups) or "none"
            raise UsageError(
                f"no variant × model group is in both A ({groups_a}) and B ({groups_b}); "
                "to compare different variants or models, compare two groups of one run"
            )
    known_variants = list(dict.fromkeys(index_a.variants + index_b.variants))
    known_models = list(dict.fromkeys(index_a.models + index_b.models))
    _check_names("variant", only_variants or (), known_variants, "the comparison")
    _check_names("model", only_models or (), known_models, "the comparison")
    unmatched_a, unmatched_b = _unmatched(mode, index_a, index_b, pairs, variants or models)
    pairs = _filter(pairs, only_variants, only_models)
    if not pairs:
        raise UsageError(
            "nothing to compare: no variant × model group has records on both sides"
            + (" with these filters" if only_variants or only_models else "")
        )
    with gc_paused():  # per-case lists for every metric compared: many objects, no cycles
        result = diff_indexes(
            index_a,
            index_b,
            pairs,
            a=side_a,
            b=side_b,
            mode=mode,
            alpha=options.alpha,
            detect=options.detect,
        )
    wanted = _filter_groups(only_variants, only_models)
    result.unmatched_a = [f"{v} × {m}" for v, m in unmatched_a if wanted(v, m)]
    result.unmatched_b = [f"{v} × {m}" for v, m in unmatched_b if wanted(v, m)]
    return result


Group = tuple[str, str]


def _unmatched(
    mode: Mode,
    index_a: RecordIndex,
    index_b: RecordIndex,
    pairs: list[Pair],
    names: tuple[str, str] | None,
) -> tuple[list[Group], list[Group]]:
    """The groups of each side that should have been compared but have no counterpart."""
    paired_a = {(p.variant_a, p.model_a) for p in pairs}
    paired_b = {(p.variant_b, p.model_b) for p in pairs}
    if mode == "runs":
        candidates_a, candidates_b = list(index_a.groups), list(index_b.groups)
    else:
        assert names is not None
        axis = 0 if mode == "variants" else 1  # which half of the group the names are
        candidates_a = [g for g in index_a.groups if g[axis] == names[0]]
        candidates_b = [g for g in index_b.groups if g[axis] == names[1]]
    return (
        [g for g in candidates_a if g not in paired_a],
        [g for g in candidates_b if g not in paired_b],
    )


def _filter_groups(
    variants: Sequence[str] | None, models: Sequence[str] | None
) -> Callable[[str, str], bool]:
    def wanted(variant: str, model: str) -> bool:
        return (not variants or variant in variants) and (not models or model in models)

    return wanted


def regression_rules(*sources: Source | None) -> list[RegressionRule]:
    """The first ``gate.regression`` rules recorded by these sources (B's first)."""
    for s in sources:
        if s is not None and s.regression_rules:
            return s.regression_rules
    return []
