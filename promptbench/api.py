"""Run a suite from Python: what the CLI does, without the terminal."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.errors import Issue, SuiteError, UsageError
from promptbench.runner import Observer, Observers, RunInfo, Runner, RunOptions
from promptbench.stats import GateVerdict, Summary, run_verdict
from promptbench.stats.probes import ProbeReport, probe_report, report_json
from promptbench.suite import Suite, load_suite


@dataclass
class RunResult:
    """A finished run: where its records are, its summary and its verdict."""

    info: RunInfo
    suite: Suite
    summary: Summary
    verdict: GateVerdict
    probes: ProbeReport = field(default_factory=ProbeReport)  # the probes' verdicts

    @property
    def run_dir(self) -> Path:
        """The run's directory."""
        return self.info.run_dir

    def to_json(self) -> dict[str, Any]:
        """The run as JSON: identity, summary and verdict."""
        return {
            "run_id": self.info.run_id,
            "run_dir": str(self.info.run_dir),
            "suite": self.suite.name,
            "status": self.info.status,
            "outcome": self.verdict.outcome.value,
            "summary": self.summary.to_json(),
            "gate": self.verdict.to_json(),
            **({"probes": report_json(self.probes)} if self.probes else {}),
        }


def prepare(path: str | Path, options: RunOptions) -> tuple[Suite, Runner]:
    """Load and check a suite, and set up its runner; raises before anything is written."""
    suite = load_suite(path, user_code=options.user_code)
    issues = suite.render_issues()  # one line per problem, naming the suite file
    if issues:
        raise SuiteError(issues)
    runner = Runner(suite, options)
    # Keys and runtimes are checked for every suite before the first call of any.
    shown = os.path.relpath(suite.path) if suite.path.is_relative_to(Path.cwd()) else suite.path
    for name in runner.model_names:
        try:
            suite.models[name].preflight()
        except UsageError as exc:
            raise SuiteError([Issue(str(shown), str(exc), field=f"models.{name}")]) from None
    return suite, runner


def run_prepared(suite: Suite, runner: Runner, observers: Iterable[Observer] = ()) -> RunResult:
    """Run a prepared suite to the end; KeyboardInterrupt propagates after records are saved."""
    summary = Summary(suite.metric_names, runner.variants, runner.model_names)
    runner.observer = Observers([summary, *observers])
    info = asyncio.run(runner.run())
    summary.drop_empty()
    probes = ProbeReport()
    if runner.probes:
        from promptbench.runner import iter_records

        kinds = {name: p.kind for name, p in runner.probes.probes.items()}
        similar = [n for n, p in runner.probes.probes.items() if getattr(p, "similarity", False)]
        similarity: Callable[[list[str], list[str]], list[float]] | None = None
        if similar:  # the embed extra, checked when the suite loaded
            from promptbench.metrics.semantic import cosines as similarity
        probes = probe_report(
            iter_records(info.run_dir), probes=kinds, similarity=similarity, similar=similar
        )
    # The same function as `show`, `merge` and the reports: they cannot disagree.
    return RunResult(info, suite, summary, run_verdict(info.meta, summary, probes), probes)


def run_suite(path: str | Path, **options: Any) -> RunResult:
    """Run the suite at ``path``; ``options`` are those of ``promptbench run`` (RunOptions).

    Example::

        result = promptbench.run_suite("suites/qa.yaml", models=["tiny"], limit=5)
        print(result.summary.to_json())
    """
    try:
        run_options = RunOptions(**options)
    except Exception as exc:
        raise UsageError(f"invalid run option: {exc}") from None
    suite, runner = prepare(path, run_options)
    return run_prepared(suite, runner)
