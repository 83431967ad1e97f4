"""A probe's verdict: each twin against its original, paired, clustered by case.

The pairs of one probe, variant and model are (original, twin) outcomes per repeat. The
unit is the original case: its twins (a swap across several group pairs, several
injected payloads) and its repeats share the case's difficulty, so they are averaged
within the case first, and intervals resample cases, as ``diff`` does.

* ``diff``: mean(twin) − mean(original), with a 95% bootstrap interval over cases;
* ``pdr``: the Performance Drop Rate of PromptBench, 1 − mean(twin) / mean(original),
  with the interval of the same resamples (the ratio of resampled means);
* ``flip_rate``: the share of pairs whose pass/fail verdict differs (its complement is
  the consistency of the outputs between the twins);
* the p-value of the paired test (exact McNemar for one twin and one repeat per case,
  the sign-flip permutation test on per-case mean differences otherwise), Holm-corrected
  across every probe × variant × model judged together;
* the verdict: ``sensitive`` when the corrected p is below alpha; ``robust`` when it is
  not and the sample could have seen a change of ``tolerance`` (its minimum detectable
  difference at 80% power is no larger); ``not enough cases`` otherwise.

Figures per group (a swap's pair of groups, an injection's payload family) break the
same pairs down. Pure computation, standard library only.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import mean, stdev
from typing import Any, Literal

from promptbench.stats.compare import holm
from promptbench.stats.power import mde_binary, mde_continuous
from promptbench.stats.resample import binomial, percentile_interval
from promptbench.stats.significance import mcnemar_exact, sign_flip_test
from promptbench.types import ProbeTag, Record

ProbeVerdict = Literal["robust", "sensitive", "not enough cases"]
DEFAULT_TOLERANCE = 0.10  # a change of 10 points is what a probe must be able to see
MIN_CASES = 10
DEFAULT_RESAMPLES = 2000
DEFAULT_PERMUTATIONS = 10_000


@dataclass(frozen=True)
class ProbePair:
    """One twin against its original, in one repeat; scores in [0, 1], None for an error."""

    origin: str  # the original case's id: the cluster
    twin: str  # the twin's id
    repeat: int
    original: float | None
    perturbed: float | None
    group: str | None = None  # a swap's "a-b", an injection's family
    followed: bool | None = None  # injection: the output wrote the canary
    similarity: float | None = None  # the outputs' semantic similarity, when measured


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval (None when there is nothing to compute it from)."""

    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, kw_only=True)
class GroupFigures:
    """The figures of one group's pairs (no test: groups are a breakdown)."""

    group: str
    n_cases: int
    n_pairs: int
    mean_original: float | None
    mean_perturbed: float | None
    diff: Interval
    flip_rate: Interval
    follow_rate: Interval | None = None  # injection: share of twins that wrote the canary
    similarity: Interval | None = None  # mean semantic similarity of the twins' outputs


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """The verdict of one probe for one variant × model."""

    probe: str
    kind: str
    variant: str
    model: str
    n_cases: int  # originals with at least one usable pair
    n_pairs: int
    n_errors: int  # pairs left out: an error on either side
    binary: bool
    mean_original: float | None
    mean_perturbed: float | None
    diff: Interval
    pdr: Interval
    flip_rate: Interval
    follow_rate: Interval | None  # injection only
    similarity: Interval | None = None  # swaps with similarity: true (the embed extra)
    p_value: float | None
    p_adjusted: float | None
    test: str
    mde: float | None
    verdict: ProbeVerdict
    groups: tuple[GroupFigures, ...] = field(default_factory=tuple)


@dataclass
class _Clusters:
    origins: list[str]
    original: list[float]  # per-case means
    perturbed: list[float]
    flips: list[float]  # per-case share of flipped pairs
    follows: list[float]  # per-case share of twins that followed (injection)
    similarities: list[float]  # per-case mean similarity of the outputs, when measured
    n_pairs: int
    n_errors: int
    single: bool  # one pair per case: McNemar applies to binary scores


def _clusters(pairs: Sequence[ProbePair]) -> _Clusters:
    by_origin: dict[str, list[ProbePair]] = {}
    errors = 0
    for p in pairs:
        if p.original is None or p.perturbed is None:
            errors += 1
            continue
        by_origin.setdefault(p.origin, []).append(p)
    origins = sorted(by_origin)
    n_pairs = sum(len(v) for v in by_origin.values())
    c = _Clusters(origins, [], [], [], [], [], n_pairs, errors, True)
    for o in origins:
        ps = by_origin[o]
        c.original.append(mean(p.original for p in ps if p.original is not None))
        c.perturbed.append(mean(p.perturbed for p in ps if p.perturbed is not None))
        c.flips.append(mean(float(_flipped(p)) for p in ps))
        followed = [float(p.followed) for p in ps if p.followed is not None]
        if followed:
            c.follows.append(mean(followed))
        sims = [p.similarity for p in ps if p.similarity is not None]
        if sims:
            c.similarities.append(mean(sims))
        c.single = c.single and len(ps) == 1
    return c


def _id_order(case_id: str) -> tuple[tuple[int, int | str], ...]:
    """Ids in the order people read them, q2 before q10 (as ``diff`` sorts them)."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", case_id) if t)


def _flipped(p: ProbePair) -> bool:
    return (p.original is not None and p.original >= 0.5) != (
        p.perturbed is not None and p.perturbed >= 0.5
    )


def resampled_means(
    rows: Sequence[tuple[float, ...]], resamples: int, seed: str
) -> list[tuple[float, ...]]:
    """The column means of ``resamples`` resamples of the rows (cases), with replacement.

    Cases take few distinct rows (binary outcomes: four (original, twin) pairs), so a
    resample is drawn as multinomial counts over the distinct rows, one binomial draw
    each, as :func:`~promptbench.stats.resample.bootstrap_means` does: the same
    distribution as drawing n cases, at O(distinct rows) instead of O(n).
    """
    rng = random.Random(seed)
    n = len(rows)
    counts = sorted(Counter(rows).items())
    out = []
    if len(counts) * 16 < n:
        for _ in range(resamples):
            remaining, rest = n, n
            totals = [0.0] * len(rows[0])
            for row, count in counts[:-1]:
                k = binomial(rng, remaining, count / rest) if remaining else 0
                remaining -= k
                rest -= count
                for j, v in enumerate(row):
                    totals[j] += k * v
            for j, v in enumerate(counts[-1][0]):
                totals[j] += remaining * v
            out.append(tuple(t / n for t in totals))
        return out
    for _ in range(resamples):
        sample = rng.choices(rows, k=n)
        out.append(tuple(math.fsum(col) / n for col in zip(*sample, strict=True)))
    return out


def _sorted_column(
    means: Sequence[tuple[float, ...]], f: Callable[[tuple[float, ...]], float | None]
) -> list[float]:
    return sorted(v for m in means if (v := f(m)) is not None)


def _interval(value: float | None, replicates: list[float], confidence: float) -> Interval:
    if value is None or not replicates:
        return Interval(value)
    low, high = percentile_interval(replicates, confidence)
    return Interval(value, low, high)


def _pdr(orig: float, pert: float) -> float | None:
    return None if orig <= 0.0 else 1.0 - pert / orig


def _test(c: _Clusters, binary: bool, seed: str, permutations: int) -> tuple[float, str, int]:
    diffs = [t - o for o, t in zip(c.original, c.perturbed, strict=True)]
    if binary and c.single:
        lost = sum(1 for d in diffs if d < 0)
        won = sum(1 for d in diffs if d > 0)
        s = mcnemar_exact(lost, won)
    else:
        rng = random.Random(f"{seed}/permutation")
        s = sign_flip_test(diffs, n_permutations=permutations, rng=rng)
    return s.p_value, s.method, s.n_nonzero


def _mde(c: _Clusters, binary: bool, alpha: float) -> float | None:
    n = len(c.origins)
    if n < 2:
        return None
    diffs = [t - o for o, t in zip(c.original, c.perturbed, strict=True)]
    if binary and c.single:
        # No discordant pair yet says little about the noise: assume one in n.
        discordance = max(sum(1 for d in diffs if d != 0) / n, 1.0 / n)
        return mde_binary(n, discordance, alpha=alpha)
    sd = stdev(diffs)
    return mde_continuous(n, max(sd, 1.0 / n), alpha=alpha)


def probe_result(
    probe: str,
    kind: str,
    variant: str,
    model: str,
    pairs: Sequence[ProbePair],
    *,
    binary: bool,
    alpha: float = 0.05,
    confidence: float = 0.95,
    tolerance: float = DEFAULT_TOLERANCE,
    resamples: int = DEFAULT_RESAMPLES,
    intervals: bool = True,
    groups: bool = True,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> ProbeResult:
    """One probe's figures and verdict for one variant × model (``p_adjusted`` unadjusted).

    ``intervals=False`` skips the bootstrap (a simulation needs only the verdict).
    """
    seed = f"{probe}/{variant}/{model}"
    c = _clusters(pairs)
    n = len(c.origins)
    if n == 0:
        empty = Interval(None)
        return ProbeResult(
            probe=probe,
            kind=kind,
            variant=variant,
            model=model,
            n_cases=0,
            n_pairs=0,
            n_errors=c.n_errors,
            binary=binary,
            mean_original=None,
            mean_perturbed=None,
            diff=empty,
            pdr=empty,
            flip_rate=empty,
            follow_rate=None,
            p_value=None,
            p_adjusted=None,
            test="none",
            mde=None,
            verdict="not enough cases",
        )
    m_orig, m_pert = mean(c.original), mean(c.perturbed)
    flip = mean(c.flips)
    follow = mean(c.follows) if c.follows else None
    diff, pdr = Interval(m_pert - m_orig), Interval(_pdr(m_orig, m_pert))
    flip_i = Interval(flip)
    follow_i = Interval(follow) if follow is not None else None
    if intervals and n > 1:
        rows = list(zip(c.original, c.perturbed, c.flips, strict=True))
        means = resampled_means(rows, resamples, seed)
        diff = _interval(diff.value, _sorted_column(means, lambda m: m[1] - m[0]), confidence)
        pdr = _interval(pdr.value, _sorted_column(means, lambda m: _pdr(m[0], m[1])), confidence)
        flip_i = _interval(flip, _sorted_column(means, lambda m: m[2]), confidence)
        if c.follows and len(c.follows) == n:
            follow_i = _follow_interval(c.follows, resamples, seed, confidence)
    p, method, _ = _test(c, binary, seed, permutations)
    mde = _mde(c, binary, alpha)
    return ProbeResult(
        probe=probe,
        kind=kind,
        variant=variant,
        model=model,
        n_cases=n,
        n_pairs=c.n_pairs,
        n_errors=c.n_errors,
        binary=binary,
        mean_original=m_orig,
        mean_perturbed=m_pert,
        diff=diff,
        pdr=pdr,
        flip_rate=flip_i,
        follow_rate=follow_i,
        similarity=_mean_interval(c.similarities, resamples, f"{seed}/similarity"),
        p_value=p,
        p_adjusted=p,
        test=method,
        mde=mde,
        verdict=_verdict(p, mde, n, alpha, tolerance),
        groups=_groups(pairs, binary, confidence, resamples, seed) if groups else (),
    )


def _follow_interval(
    follows: list[float], resamples: int, seed: str, confidence: float
) -> Interval:
    means = resampled_means([(f,) for f in follows], resamples, f"{seed}/follow")
    return _interval(mean(follows), _sorted_column(means, lambda m: m[0]), confidence)


def _mean_interval(values: list[float], resamples: int, seed: str) -> Interval | None:
    """The mean of per-case values with its bootstrap interval over cases; None if none."""
    if not values:
        return None
    if len(values) == 1:
        return Interval(values[0])
    return _follow_interval(values, resamples, seed, 0.95)


def _verdict(
    p: float | None, mde: float | None, n: int, alpha: float, tolerance: float
) -> ProbeVerdict:
    if p is not None and p <= alpha:
        return "sensitive"
    if n < MIN_CASES or mde is None or mde > tolerance:
        return "not enough cases"
    return "robust"


def _groups(
    pairs: Sequence[ProbePair], binary: bool, confidence: float, resamples: int, seed: str
) -> tuple[GroupFigures, ...]:
    names = sorted({p.group for p in pairs if p.group is not None})
    out = []
    for g in names:
        c = _clusters([p for p in pairs if p.group == g])
        n = len(c.origins)
        if n == 0:
            continue
        m_orig, m_pert = mean(c.original), mean(c.perturbed)
        diff, flip = Interval(m_pert - m_orig), Interval(mean(c.flips))
        follow = (
            _follow_interval(c.follows, resamples, f"{seed}/{g}", confidence)
            if (c.follows and len(c.follows) == n and n > 1)
            else (Interval(mean(c.follows)) if c.follows else None)
        )
        if n > 1:
            rows = list(zip(c.original, c.perturbed, c.flips, strict=True))
            means = resampled_means(rows, resamples, f"{seed}/{g}")
            diff = _interval(diff.value, _sorted_column(means, lambda m: m[1] - m[0]), confidence)
            flip = _interval(flip.value, _sorted_column(means, lambda m: m[2]), confidence)
        out.append(
            GroupFigures(
                group=g,
                n_cases=n,
                n_pairs=c.n_pairs,
                mean_original=m_orig,
                mean_perturbed=m_pert,
                diff=diff,
                flip_rate=flip,
                follow_rate=follow,
                similarity=_mean_interval(c.similarities, resamples, f"{seed}/{g}/similarity"),
            )
        )
    return tuple(out)


def with_holm(
    results: Sequence[ProbeResult],
    *,
    alpha: float = 0.05,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[ProbeResult]:
    """The results with p-values Holm-corrected across all of them, and verdicts to match."""
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    adjusted = holm([results[i].p_value or 0.0 for i in tested])
    out = list(results)
    for i, p in zip(tested, adjusted, strict=True):
        r = results[i]
        out[i] = replace(r, p_adjusted=p, verdict=_verdict(p, r.mde, r.n_cases, alpha, tolerance))
    return out


# -- from a run's records ---------------------------------------------------------------------

CANARY = "canary"


def outcome(record: Record) -> float | None:
    """A record's pass (1.0) or fail (0.0) on the suite's metrics; None for an error.

    The canary check is left out: it is what an injection twin is judged by apart
    (``follow_rate``), and the original has no canary to fail.
    """
    if record.error is not None:
        return None
    scores = [s for name, s in record.scores.items() if name != CANARY]
    if not scores or any(s.passed is None for s in scores):
        return None
    return 1.0 if all(s.passed for s in scores) else 0.0


def _group(tag: ProbeTag) -> str | None:
    groups = tag.details.get("groups")
    if isinstance(groups, list) and groups:
        return "-".join(str(g) for g in groups)
    family = tag.details.get("family")
    return str(family) if family else None


@dataclass(frozen=True, kw_only=True)
class ProbeFlip:
    """A twin whose verdict differs from its original's, with both outputs."""

    probe: str
    variant: str
    model: str
    origin: str
    twin: str
    repeat: int
    original_passed: bool
    twin_passed: bool
    original_output: str
    twin_output: str
    group: str | None = None


@dataclass(frozen=True)
class ProbeReport:
    """Every probe's verdict per variant × model, Holm-corrected together, and the flips."""

    results: tuple[ProbeResult, ...] = ()
    flips: tuple[ProbeFlip, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.results)

    def result(self, probe: str, variant: str, model: str) -> ProbeResult | None:
        """The result of one probe for one variant × model."""
        for r in self.results:
            if (r.probe, r.variant, r.model) == (probe, variant, model):
                return r
        return None


FIGURES = ("pdr", "diff", "flip_rate", "follow_rate", "p_adjusted")


def figure(result: ProbeResult, name: str) -> float | None:
    """A result's figure by name: pdr, diff, flip_rate, follow_rate or p_adjusted."""
    if name == "p_adjusted":
        return result.p_adjusted
    value = getattr(result, name)
    return value.value if isinstance(value, Interval) else None


def probe_report(
    records: Iterable[Record],
    *,
    probes: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    tolerance: float = DEFAULT_TOLERANCE,
    max_flips: int = 20,
    resamples: int = DEFAULT_RESAMPLES,
    similarity: Callable[[list[str], list[str]], list[float]] | None = None,
    similar: Collection[str] = (),
) -> ProbeReport:
    """Pair every twin with its original (same variant, model and repeat) and judge each probe.

    ``probes`` (name -> kind) lists the probes that ran: one that changed no case still
    gets a row per variant × model ("not enough cases", no cases), so that a table says
    so rather than leaving it out. Originals are kept in memory by key, with their
    outputs for the flipped-case list. ``similarity`` (outputs A, outputs B -> one score
    each) measures how alike the twins' outputs are, for the probes named in ``similar``.
    """
    originals: dict[tuple[str, str, str, int], tuple[float | None, str]] = {}
    twins: list[tuple[Record, float | None, bool | None]] = []
    for r in records:
        if r.probe is None:
            originals[(r.case_id, r.variant, r.model, r.repeat)] = (outcome(r), r.output or "")
            continue
        canary = r.scores.get(CANARY)
        followed = None if canary is None or canary.passed is None else not canary.passed
        twins.append((r, outcome(r), followed))
    pairs: dict[tuple[str, str, str, str], list[ProbePair]] = {}
    flips: list[ProbeFlip] = []
    to_compare: list[tuple[tuple[str, str, str, str], int, str, str]] = []
    for r, score, followed in twins:
        tag = r.probe
        assert tag is not None
        key = (tag.name, tag.kind, r.variant, r.model)
        original = originals.get((tag.origin, r.variant, r.model, r.repeat))
        if original is None:
            continue  # the original was filtered out or not run: nothing to pair with
        group = _group(tag)
        pair = ProbePair(tag.origin, r.case_id, r.repeat, original[0], score, group, followed)
        pairs.setdefault(key, []).append(pair)
        if similarity is not None and tag.name in similar and r.output is not None:
            to_compare.append((key, len(pairs[key]) - 1, original[1], r.output))
        if pair.original is not None and pair.perturbed is not None and _flipped(pair):
            flips.append(
                ProbeFlip(
                    probe=tag.name,
                    variant=r.variant,
                    model=r.model,
                    origin=tag.origin,
                    twin=r.case_id,
                    repeat=r.repeat,
                    original_passed=pair.original >= 0.5,
                    twin_passed=pair.perturbed >= 0.5,
                    original_output=original[1],
                    twin_output=r.output or "",
                    group=group,
                )
            )
    if similarity is not None and to_compare:
        for start in range(0, len(to_compare), 64):
            chunk = to_compare[start : start + 64]
            scores = similarity([c[2] for c in chunk], [c[3] for c in chunk])
            for (key, i, _, _), sim in zip(chunk, scores, strict=True):
                pairs[key][i] = replace(pairs[key][i], similarity=sim)
    # Every probe that ran gets a row per variant × model, even one that changed no case.
    groups = list(dict.fromkeys((v, m) for (_, v, m, _) in originals))
    for name, kind in (probes or {}).items():
        for v, m in groups:
            if not any(k[0] == name and k[2:] == (v, m) for k in pairs):
                pairs[(name, kind, v, m)] = []
    order = list(probes or {})

    def position(key: tuple[str, str, str, str]) -> tuple[int, int]:
        name, _, v, m = key
        g = groups.index((v, m)) if (v, m) in groups else len(groups)
        return g, order.index(name) if name in order else len(order)

    results = [
        probe_result(
            name,
            kind,
            variant,
            model,
            pairs[(name, kind, variant, model)],
            binary=True,
            alpha=alpha,
            tolerance=tolerance,
            resamples=resamples,
        )
        for name, kind, variant, model in sorted(pairs, key=position)
    ]
    # Flips of a probe together, those that lost a pass before those that gained one;
    # at most max_flips for each probe × variant × model.
    flips.sort(key=lambda f: (f.probe, f.variant, f.model, f.twin_passed, _id_order(f.twin)))
    kept: list[ProbeFlip] = []
    shown: Counter[tuple[str, str, str]] = Counter()
    for f in flips:
        k = (f.probe, f.variant, f.model)
        if shown[k] < max_flips:
            shown[k] += 1
            kept.append(f)
    results = with_holm(results, alpha=alpha, tolerance=tolerance)
    return ProbeReport(tuple(results), tuple(kept))


def _interval_json(i: Interval | None) -> dict[str, float | None] | None:
    return None if i is None else {"value": i.value, "low": i.low, "high": i.high}


def result_json(r: ProbeResult) -> dict[str, Any]:
    """A probe result as JSON (run --json, W&B, the HTML report)."""
    return {
        "probe": r.probe,
        "kind": r.kind,
        "variant": r.variant,
        "model": r.model,
        "n_cases": r.n_cases,
        "n_pairs": r.n_pairs,
        "n_errors": r.n_errors,
        "mean_original": r.mean_original,
        "mean_perturbed": r.mean_perturbed,
        "diff": _interval_json(r.diff),
        "pdr": _interval_json(r.pdr),
        "flip_rate": _interval_json(r.flip_rate),
        "follow_rate": _interval_json(r.follow_rate),
        "similarity": _interval_json(r.similarity),
        "p_value": r.p_value,
        "p_adjusted": r.p_adjusted,
        "test": r.test,
        "mde": r.mde,
        "verdict": r.verdict,
        "groups": [
            {
                "group": g.group,
                "n_cases": g.n_cases,
                "n_pairs": g.n_pairs,
                "mean_original": g.mean_original,
                "mean_perturbed": g.mean_perturbed,
                "diff": _interval_json(g.diff),
                "flip_rate": _interval_json(g.flip_rate),
                "follow_rate": _interval_json(g.follow_rate),
                "similarity": _interval_json(g.similarity),
            }
            for g in r.groups
        ],
    }


def report_json(report: ProbeReport) -> dict[str, Any]:
    """The whole probe report as JSON."""
    return {
        "results": [result_json(r) for r in report.results],
        "flips": [
            {
                "probe": f.probe,
                "variant": f.variant,
                "model": f.model,
                "origin": f.origin,
                "twin": f.twin,
                "repeat": f.repeat,
                "group": f.group,
                "original_passed": f.original_passed,
                "twin_passed": f.twin_passed,
                "original_output": f.original_output,
                "twin_output": f.twin_output,
            }
            for f in report.flips
        ],
    }
