"""``promptbench validate``: check suites without calling a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import JsonOpt, err, out, user_errors
from promptbench.errors import SuiteError


def validate(
    suites: Annotated[list[Path], typer.Argument(help="Suite YAML files.", metavar="SUITE...")],
    as_json: JsonOpt = False,
    no_user_code: Annotated[
        bool,
        typer.Option(
            "--no-user-code",
            help="Refuse a suite that would run Python from its files, and import none of it.",
        ),
    ] = False,
) -> None:
    """Check suites: schema, files, templates rendered for every case; no model is called.

    Every problem is printed on one line as file:line:column: field: what is wrong.

    Example: promptbench validate suites/triage.yaml
    """
    from promptbench.runner.options import RunOptions
    from promptbench.runner.plan import plan
    from promptbench.suite import load_suite

    results = []
    code = 0
    for path in suites:
        try:
            with user_errors():
                suite = load_suite(path, user_code=not no_user_code)
                issues = suite.render_issues()
                if issues:
                    raise SuiteError(issues)
        except typer.Exit as exc:
            code = max(code, exc.exit_code)
            results.append({"suite": str(path), "valid": False})
            continue
        if suite.cases.note:
            err.print(f"note: {suite.cases.note}", markup=False, soft_wrap=True)
        # A probe's twins are cases too: they are called like the originals.
        twins = sum(len(suite.probes.twins(c)) for c in suite.cases) if suite.probes else 0
        cases = suite.cases.count + twins
        evaluated = [name for name, m in suite.models.items() if not m.judge_only]
        records = len(suite.variants) * len(evaluated) * cases * suite.repeat
        # Calls as the dry run counts them: turns, tool steps, a simulated user, judges.
        plans = plan(suite, RunOptions(use_cache=False))
        calls = sum(p.calls for p in plans)
        exact = all(p.exact for p in plans)
        info = {
            "suite": str(path),
            "valid": True,
            "name": suite.name,
            "variants": list(suite.variants),
            "models": list(suite.models),
            "cases": suite.cases.count,
            "cases_origin": suite.cases.origin,
            "repeat": suite.repeat,
            **({"twins": twins} if suite.probes else {}),
            "records": records,
            "calls": calls,
            "calls_exact": exact,
            "metrics": suite.metric_names,
            "gate": [str(g) for g in suite.gate],
        }
        results.append(info)
        if not as_json:
            out.print(
                f"[green]✓[/green] {path}: {_n(len(suite.variants), 'variant')} × "
                f"{_n(len(evaluated), 'model')} × {_cases(suite.cases.count, twins)} × "
                f"{_n(suite.repeat, 'repeat')} = {_calls(records, calls, exact)}; "
                f"metrics: {', '.join(suite.metric_names) or 'none'}",
                soft_wrap=True,
            )
    if as_json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    raise typer.Exit(code)


def _calls(records: int, calls: int, exact: bool) -> str:
    """``60 calls``, or the records and then the calls when a record makes more than one."""
    if exact and calls == records:
        return _n(calls, "call")
    return f"{_n(records, 'record')}, {'' if exact else 'at most '}{_n(calls, 'call')}"


def _cases(count: int, twins: int) -> str:
    if not twins:
        return _n(count, "case")
    return f"({_n(count, 'case')} + {_n(twins, 'probe twin')})"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
