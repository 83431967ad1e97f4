"""CI outputs shared by ``run`` and ``diff``: ``--baseline``, ``--junit``, ``--markdown``.

``run`` calls :meth:`RunCi.prepare` before any model is called (so that a bad baseline
file stops the run before it spends anything) and :meth:`RunCi.after` once per finished
suite; everything else about these options lives here, not in ``run.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptbench.cli._common import err, fail, out, user_errors
from promptbench.errors import PromptbenchError, UsageError

if TYPE_CHECKING:
    from promptbench.api import RunResult
    from promptbench.diff import DiffResult, RegressionReport, Source
    from promptbench.diff.sequential import SequentialMonitor
    from promptbench.report.diff_terminal import Only
    from promptbench.runner import Runner
    from promptbench.suite import Suite

BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Compare with this baseline file (promptbench baseline save) or run directory "
        "after the run, and exit 1 on a regression beyond the suite's gate.regression margins.",
        show_default=False,
    ),
]
JunitOpt = Annotated[
    Path | None,
    typer.Option("--junit", help="Write JUnit XML here, for CI test reports.", show_default=False),
]
MarkdownOpt = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        help="Write a Markdown report here (a PR comment, or $GITHUB_STEP_SUMMARY).",
        show_default=False,
    ),
]
SequentialOpt = Annotated[
    bool,
    typer.Option(
        "--sequential",
        help="With --baseline: call the cases in a random (seeded) order and stop as soon as "
        "the regression verdict is settled, by an anytime-valid test; run.json says how many "
        "cases it took and why it stopped.",
    ),
]

FLIPS_SHOWN = 5  # flipped cases printed after a run with --baseline (diff shows more)


def usage(message: str) -> UsageError:
    """A usage error to raise inside ``user_errors()`` (one red line, exit 2)."""
    return UsageError(message)


def _per_suite(path: Path, suite: str, multiple: bool) -> Path:
    # Several suites in one run: one file each, named like --csv names them.
    return path.with_name(f"{path.stem}-{suite}{path.suffix}") if multiple else path


def _write(path: Path, what: str, write: Any) -> None:
    try:
        write()
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}; choose another {what} path") from None
    err.print(f"wrote {path}", markup=False, soft_wrap=True)


def write_markdown(path: Path, text: str) -> None:
    """Write a Markdown report (UTF-8), or exit 2 naming the path."""

    def go() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    _write(path, "--markdown", go)


def write_diff_outputs(
    result: DiffResult,
    report: RegressionReport | None,
    *,
    markdown: Path | None,
    junit: Path | None,
    only: Only | None,
    limit: int,
) -> None:
    """``diff --markdown`` and ``diff --junit``."""
    if markdown is not None:
        from promptbench.report.markdown import diff_markdown

        write_markdown(markdown, diff_markdown(result, report, only=only, limit=limit))
    if junit is not None:
        from promptbench.report.junit import diff_junit, write_xml

        root = diff_junit(result, report)
        _write(junit, "--junit", lambda: write_xml(root, junit))


@dataclass
class RunCi:
    """What ``run`` was asked for beyond its table: a baseline to gate on, CI files."""

    baseline: Source | None
    junit: Path | None
    markdown: Path | None
    codes: list[int] = field(default_factory=list)  # 1 per suite that regressed
    _json: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id → its extra JSON
    sequential: bool = False
    _monitors: dict[int, SequentialMonitor] = field(default_factory=dict)  # id(runner) → it

    def monitor(self, suite: Suite, runner: Runner) -> SequentialMonitor | None:
        """With --sequential, the observer that settles the verdict and stops the run early."""
        if not self.sequential or self.baseline is None or not self._applies(suite):
            return None
        from promptbench.diff.sequential import SequentialMonitor, default_rules
        from promptbench.runner.runmeta import SequentialMeta

        rules = list(suite.regression) or default_rules(suite.metric_names)
        groups = [(v, m) for v in runner.variants for m in runner.model_names]
        monitor = SequentialMonitor(
            self.baseline.records(),
            rules,
            groups,
            runner.repeat,
            on_settled=lambda verdict: runner.request_stop(f"sequential verdict: {verdict}"),
        )
        runner.annotations["sequential"] = lambda: SequentialMeta.model_validate(
            monitor.to_json(runner.n_cases)
        )
        self._monitors[id(runner)] = monitor
        return monitor

    @classmethod
    def prepare(
        cls, baseline: Path | None, junit: Path | None, markdown: Path | None, suites: list[Suite]
    ) -> RunCi:
        """Read the baseline now, before any model is called; a bad one exits 2."""
        source = None
        if baseline is not None:
            from promptbench.diff import open_source

            with user_errors():
                source = open_source(baseline)
                name = source.info.suite
                if name and suites and all(s.name != name for s in suites):
                    given = ", ".join(repr(s.name) for s in suites)
                    raise usage(
                        f"{baseline} is a baseline of suite {name!r}, not of {given}; "
                        "save one for this suite with promptbench baseline save RUN PATH"
                    )
        return cls(source, junit, markdown)

    def _applies(self, suite: Suite) -> bool:
        return self.baseline is not None and self.baseline.info.suite in ("", suite.name)

    def after(
        self, result: RunResult, *, multiple: bool, show: bool, runner: Runner | None = None
    ) -> None:
        """Compare with the baseline, print and gate, write the CI files of one suite."""
        diff: DiffResult | None = None
        report: RegressionReport | None = None
        notes: list[str] = []
        monitor = self._monitors.get(id(runner)) if runner is not None else None
        if monitor is not None:
            # The verdict is the sequential test's: a fixed-sample test on cases that
            # stopped coming once the evidence was in would not be valid.
            self._after_sequential(result, monitor, show)
        elif self.baseline is not None and self._applies(result.suite):
            try:
                diff, report = self._compare(result)
            except PromptbenchError as exc:
                # Nothing in common with the baseline (every variant renamed, say): said
                # loudly, in the report too, but not a regression.
                notes.append(f"not compared with the baseline {self.baseline.info.source}: {exc}")
        elif self.baseline is not None:
            notes.append(
                f"{result.suite.name}: not compared; the baseline is of suite "
                f"{self.baseline.info.suite!r}"
            )
        for note in notes:
            err.print(note, style="yellow", markup=False, soft_wrap=True)
        if diff is not None and report is not None:
            assert self.baseline is not None
            self._json[result.info.run_id] = {
                "baseline": self.baseline.info.to_json(),
                "regression": report.to_json(),
                "diff": diff.to_json(),
            }
            if show:
                from promptbench.report.diff_terminal import print_diff, print_regression

                out.print()
                print_diff(out, diff, limit=FLIPS_SHOWN)
                print_regression(out, report)
            self.codes.append(0 if report.passed else 1)
        if self.junit is not None:
            self._junit(result, report, _per_suite(self.junit, result.suite.name, multiple))
        if self.markdown is not None:
            from promptbench.report.markdown import run_markdown

            text = run_markdown(
                title=f"{result.suite.name} · run {result.info.run_id}",
                summary=result.summary,
                verdict=result.verdict,
                diff=diff,
                regression=report,
                notes=notes,
                probes=result.probes,
            )
            write_markdown(_per_suite(self.markdown, result.suite.name, multiple), text)

    def _after_sequential(self, result: RunResult, monitor: SequentialMonitor, show: bool) -> None:
        recorded = result.info.meta.sequential
        data = recorded.model_dump() if recorded is not None else monitor.to_json()
        self._json[result.info.run_id] = {"sequential": data}
        self.codes.append(1 if monitor.regressed else 0)
        if not show:
            return
        found = [c for c in data["checks"] if c["verdict"] == "regression"]
        if monitor.verdict == "regression":
            what = ", ".join(f"{c['metric']} for {c['variant']} × {c['model']}" for c in found)
            line = f"✗ sequential check: a regression ({what}) after {data['cases_needed']} cases"
        elif monitor.verdict == "no regression":
            line = f"✓ sequential check: no regression, settled after {data['cases_needed']} cases"
        else:
            line = (
                f"✓ sequential check: not settled after all {data['cases_run']} cases; "
                "no regression shown"
            )
        available = data["cases_available"]
        if available:
            line += f" of {available}"
        out.print(line, markup=False, soft_wrap=True)

    def _compare(self, result: RunResult) -> tuple[DiffResult, RegressionReport]:
        from promptbench.diff import check_regressions, compare_sources, open_source

        assert self.baseline is not None
        new = open_source(result.run_dir)
        new.info = replace(new.info, label="this run")
        diff = compare_sources(self.baseline, new)
        report = check_regressions(diff, list(result.suite.regression))
        probe_rules = [r for r in result.suite.regression if r.metric.startswith("probe.")]
        if probe_rules:  # a probe's robustness against the baseline's, case by case
            from promptbench.diff.probes import probe_regressions

            checks = probe_regressions(
                self.baseline.records(), new.records(), probe_rules, alpha=report.alpha
            )
            report = replace(report, checks=[*report.checks, *checks])
        return diff, report

    def _junit(self, result: RunResult, report: RegressionReport | None, path: Path) -> None:
        from promptbench.report.junit import run_junit, write_xml
        from promptbench.runner import iter_records

        root = run_junit(
            iter_records(result.run_dir),
            suite_name=result.suite.name,
            repeats=result.info.meta.options.repeat or result.suite.repeat,
            verdict=result.verdict,
            regression=report,
            groups=list(result.summary.groups),
            probes=result.probes,
        )
        _write(path, "--junit", lambda: write_xml(root, path))

    def to_json(self, result: RunResult) -> dict[str, Any]:
        """The run's JSON, with the comparison against the baseline when there was one."""
        return {**result.to_json(), **self._json.get(result.info.run_id, {})}
