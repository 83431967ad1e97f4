"""Helpers for end-to-end tests: suites aimed at the loopback server, runs, CLI calls."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from promptbench.api import RunResult, prepare, run_prepared
from promptbench.cli import app
from promptbench.runner import RunOptions
from promptbench.runner.retry import Backoff
from tests.helpers.project import Project, openai_model

# Retries within a few milliseconds, so fault tests stay fast; a server's Retry-After
# is still honoured as given.
FAST_BACKOFF = Backoff(base=0.01, cap=0.05)

RECORD_FIELDS = {
    "case_id",
    "variant",
    "model",
    "repeat",
    "vars",
    "expected",
    "messages",
    "output",
    "scores",
    "passed",
    "usage",
    "latency_ms",
    "cost",
    "cost_saved",
    "error",
    "cached",
    "retries",
    "finish_reason",
}


def qa_cases(n: int, prefix: str = "q") -> list[dict[str, Any]]:
    """``n`` cases ``{id: q1, q: q1}``; the loopback server echoes, so ``Q: q1`` is correct."""
    return [{"id": f"{prefix}{i}", "q": f"{prefix}{i}"} for i in range(1, n + 1)]


def echo_suite(
    url: str,
    *,
    cases: list[dict[str, Any]] | str | None = None,
    prompts: dict[str, Any] | None = None,
    models: dict[str, dict[str, Any]] | None = None,
    model_params: dict[str, Any] | None = None,
    metrics: list[Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A suite whose prompt is ``Q: {{ q }}``, scored by ``exact`` against that same text.

    The loopback server answers with the last user message, so every case passes
    unless a rule tells the server otherwise.
    """
    return {
        "name": extra.pop("name", "e2e"),
        "prompts": prompts or {"plain": "Q: {{ q }}"},
        "models": models or {"loop": openai_model(url, **(model_params or {}))},
        "cases": qa_cases(3) if cases is None else cases,
        "metrics": metrics if metrics is not None else [{"exact": "Q: {{ q }}"}],
        **extra,
    }


def run(
    path: Path, *, backoff: Backoff | None = FAST_BACKOFF, **options: Any
) -> tuple[RunResult, float]:
    """Run a suite through the real engine; return the result and the wall time in seconds."""
    suite, runner = prepare(path, RunOptions(**options))
    if backoff is not None:
        runner.backoff = backoff
    start = time.perf_counter()
    result = run_prepared(suite, runner)
    return result, time.perf_counter() - start


def records(result_or_dir: RunResult | Path) -> list[dict[str, Any]]:
    """The records of a run as written to ``records.jsonl``."""
    run_dir = result_or_dir if isinstance(result_or_dir, Path) else result_or_dir.run_dir
    text = (run_dir / "records.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]  # not splitlines: U+2028


def latest_run(project: Project) -> Path:
    """The run that finished last.

    Run ids sort by the second they started in, so two runs started in the same
    second do not sort by time; the moment ``run.json`` was last written does.
    """
    runs = project.runs
    assert runs, "no run directory"
    return max(runs, key=lambda d: (d / "run.json").stat().st_mtime_ns)


def by_key(recs: list[dict[str, Any]]) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    """Records by (case_id, variant, model, repeat), checking that no key is repeated."""
    keys = Counter((r["case_id"], r["variant"], r["model"], r["repeat"]) for r in recs)
    dupes = [k for k, n in keys.items() if n > 1]
    assert not dupes, f"duplicate records: {dupes}"
    return {(r["case_id"], r["variant"], r["model"], r["repeat"]): r for r in recs}


def invoke(*args: str, input: str | None = None) -> Result:
    """Run ``promptbench ARGS`` in-process with Typer's CliRunner (stdout and stderr apart)."""
    return CliRunner().invoke(app, list(args), input=input)


def no_traceback(result: Result) -> None:
    """Assert that a command ended through its exit code, not an escaped exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert "Traceback" not in result.output


__all__ = [
    "FAST_BACKOFF",
    "RECORD_FIELDS",
    "Project",
    "by_key",
    "echo_suite",
    "invoke",
    "latest_run",
    "no_traceback",
    "qa_cases",
    "records",
    "run",
]
