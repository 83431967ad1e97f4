"""What ``diff`` found: per pair, each metric's comparison, the flips, the repeats.

Plain dataclasses with ``to_json()``; :mod:`promptbench.diff.compute` fills them in, and
:mod:`promptbench.diff.regression` adds the regression gate's report when it was asked for.
``DiffResult.to_json()`` is what ``promptbench diff --json`` prints.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from promptbench.diff.pairing import Pair
from promptbench.stats.compare import MetricComparison, PairedMetric

if TYPE_CHECKING:
    from promptbench.diff.regression import RegressionReport

Mode = Literal["variants", "models", "runs"]
POWER = 0.8  # the power "cases needed" and the MDE are computed for


@dataclass(frozen=True)
class MetricResult:
    """One metric of one pair: the comparison, and the cases a given difference needs."""

    comparison: MetricComparison
    detect: float  # the difference ``cases_needed`` is for
    cases_needed: int | None  # paired cases to see it at 80% power; None: nothing to go on

    def to_json(self) -> dict[str, Any]:
        """The comparison's JSON, with the sample-size figure."""
        return {
            **self.comparison.to_json(),
            "detect": self.detect,
            "cases_needed": self.cases_needed,
        }


@dataclass(frozen=True)
class Flip:
    """A case that passed on one side and failed on the other (stably, across repeats)."""

    case_id: str
    direction: Literal["regression", "improvement"]  # pass→fail, fail→pass
    score_change: float | None  # mean over metrics of B − A (per-case means)
    scores_a: dict[str, float | None]
    scores_b: dict[str, float | None]
    output_a: str | None
    output_b: str | None
    reasons_a: dict[str, str]  # the failing metrics' reasons, on the failing side
    reasons_b: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The flip as JSON."""
        return {
            "case_id": self.case_id,
            "direction": self.direction,
            "from": "pass" if self.direction == "regression" else "fail",
            "to": "fail" if self.direction == "regression" else "pass",
            "score_change": self.score_change,
            "scores_a": self.scores_a,
            "scores_b": self.scores_b,
            "output_a": self.output_a,
            "output_b": self.output_b,
            "reasons_a": self.reasons_a,
            "reasons_b": self.reasons_b,
        }


@dataclass(frozen=True)
class FlakyCase:
    """A case whose verdict changes across repeats, on either side."""

    case_id: str
    passes_a: int
    runs_a: int  # usable repeats
    passes_b: int
    runs_b: int

    @property
    def rate_a(self) -> float | None:
        """A's pass rate over its usable repeats."""
        return self.passes_a / self.runs_a if self.runs_a else None

    @property
    def rate_b(self) -> float | None:
        """B's pass rate over its usable repeats."""
        return self.passes_b / self.runs_b if self.runs_b else None

    def to_json(self) -> dict[str, Any]:
        """The case as JSON."""
        return {
            "case_id": self.case_id,
            "passes_a": self.passes_a,
            "runs_a": self.runs_a,
            "rate_a": self.rate_a,
            "passes_b": self.passes_b,
            "runs_b": self.runs_b,
            "rate_b": self.rate_b,
        }


@dataclass(frozen=True)
class RepeatStats:
    """What repeats of a case say on one side: pass@k, pass^k, per-case pass rates."""

    repeats: int  # the most usable repeats behind one case
    pass_at_k: dict[int, float]  # k → mean over cases with at least k usable repeats
    pass_hat_k: dict[int, float]
    case_pass_rates: dict[str, float | None]
    flaky: list[str]

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON (k as a string key)."""
        return {
            "repeats": self.repeats,
            "pass_at_k": {str(k): v for k, v in self.pass_at_k.items()},
            "pass_hat_k": {str(k): v for k, v in self.pass_hat_k.items()},
            "case_pass_rates": self.case_pass_rates,
            "flaky": self.flaky,
        }


@dataclass
class PairResult:
    """Everything compared for one pair."""

    pair: Pair
    metrics: list[MetricResult]
    cases_a: int
    cases_b: int
    only_a: list[str]  # case ids with records on A only
    only_b: list[str]
    call_errors_a: int
    call_errors_b: int
    flips: list[Flip]
    flaky: list[FlakyCase]
    repeats_a: RepeatStats | None  # None: one repeat per case on both sides
    repeats_b: RepeatStats | None
    # Each metric as a PairedMetric, made when asked for (the regression gate does).
    paired: Mapping[str, PairedMetric] = field(repr=False, default_factory=dict)

    def metric(self, name: str) -> MetricResult | None:
        """The result for metric ``name`` (``pass_rate`` included), if compared."""
        return next((m for m in self.metrics if m.comparison.name == name), None)

    @property
    def regressions(self) -> list[Flip]:
        """Flips from pass to fail."""
        return [f for f in self.flips if f.direction == "regression"]

    @property
    def improvements(self) -> list[Flip]:
        """Flips from fail to pass."""
        return [f for f in self.flips if f.direction == "improvement"]

    def to_json(self) -> dict[str, Any]:
        """The pair's whole result as JSON."""
        return {
            **self.pair.to_json(),
            "cases_a": self.cases_a,
            "cases_b": self.cases_b,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "call_errors_a": self.call_errors_a,
            "call_errors_b": self.call_errors_b,
            "metrics": [m.to_json() for m in self.metrics],
            "flips": [f.to_json() for f in self.flips],
            "flaky": [c.to_json() for c in self.flaky],
            "repeats_a": self.repeats_a.to_json() if self.repeats_a else None,
            "repeats_b": self.repeats_b.to_json() if self.repeats_b else None,
        }


@dataclass(frozen=True)
class SideInfo:
    """Where one side's records came from, for titles and JSON."""

    label: str  # what the user typed, or the variant/model name
    source: str  # a run id, or a baseline file's path
    kind: Literal["run", "baseline"] = "run"
    suite: str = ""
    suite_hash: str = ""

    def to_json(self) -> dict[str, str]:
        """The side as JSON."""
        return {
            "label": self.label,
            "source": self.source,
            "kind": self.kind,
            "suite": self.suite,
            "suite_hash": self.suite_hash,
        }


@dataclass
class DiffResult:
    """B against A, pair by pair, with one Holm correction over everything compared."""

    a: SideInfo
    b: SideInfo
    mode: Mode
    alpha: float
    detect: float
    pairs: list[PairResult]
    # Groups with records on one side and no counterpart on the other ("guided × llama"):
    # not compared, and said so.
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)
    family: int = 0  # distinct tests in Holm's family (a metric equal to pass_rate counts once)
    regression: RegressionReport | None = None  # the regression gate, when it was checked

    def comparisons(self) -> Iterator[tuple[PairResult, MetricResult]]:
        """Every metric of every pair."""
        for p in self.pairs:
            for m in p.metrics:
                yield p, m

    def count(self, verdict: str) -> int:
        """How many comparisons have this verdict."""
        return sum(1 for _, m in self.comparisons() if m.comparison.verdict == verdict)

    def to_json(self, *, pairs: bool = True) -> dict[str, Any]:
        """The whole result, for machines: what ``diff --json`` prints.

        ``pairs=False`` leaves the pairs' list empty, for a caller that writes the pairs its
        own way (the viewer's diff page) and should not pay for every flip's JSON.
        """
        data = {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "mode": self.mode,
            "alpha": self.alpha,
            "correction": "holm",
            "holm_family": self.family,
            "comparisons": sum(1 for _ in self.comparisons()),
            "verdicts": {
                v: self.count(v) for v in ("better", "worse", "no detectable difference", "no data")
            },
            "detect": self.detect,
            "power": POWER,
            "unmatched_a": self.unmatched_a,
            "unmatched_b": self.unmatched_b,
            "pairs": [p.to_json() for p in self.pairs] if pairs else [],
        }
        if self.regression is not None:
            data["regression"] = self.regression.to_json()
        return data
