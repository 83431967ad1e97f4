"""Stored runs: list them newest first, find one from what the user typed, reopen it.

A run is found by its id, a unique prefix of it, its directory, or ``latest``.
Runs are ordered by ``started_at`` in ``run.json``, never by id: ids carry the
second a run started in, so two runs of one second do not sort by time.

Nothing here calls a model or prints; ``promptbench runs``, ``promptbench show``
and :func:`load_run` are built on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptbench.bulk import gc_paused
from promptbench.errors import RunStoreError
from promptbench.runner.runmeta import RUN_FILE, RunMeta, RunStatus, read_meta
from promptbench.runner.store import (
    RECORDS_FILE,
    RunInfo,
    corrupt_records,
    default_runs_dir,
    iter_record_dicts,
    iter_records,
)
from promptbench.stats import GateVerdict, Summary, run_verdict
from promptbench.stats.probes import ProbeReport, probe_report
from promptbench.suite.metricspec import PROBE_GATE_PREFIX
from promptbench.types import Record, messages_text

if TYPE_CHECKING:
    import pandas as pd

LATEST = "latest"


@dataclass(frozen=True)
class StoredRun:
    """A run directory and its ``run.json``."""

    run_dir: Path
    meta: RunMeta

    @property
    def run_id(self) -> str:
        """The run's id (its directory's name when run.json lacks it)."""
        return self.meta.run_id or self.run_dir.name

    @property
    def suite_name(self) -> str:
        """The suite's name."""
        return self.meta.suite.name

    @property
    def started_at(self) -> datetime:
        """When the run started (UTC); the epoch when unknown, so that it sorts last."""
        return self.meta.started

    @property
    def status(self) -> RunStatus:
        """running, finished, interrupted, failed or stopped_at_budget."""
        return self.meta.status

    @property
    def variants(self) -> list[str]:
        """The variants the run covered."""
        return list(self.meta.variants)

    @property
    def models(self) -> list[str]:
        """The models the run covered."""
        return list(self.meta.models)

    @property
    def info(self) -> RunInfo:
        """The run as the runner describes it."""
        return RunInfo(self.run_dir, self.meta)

    def records(self) -> Iterator[Record]:
        """The run's records, streamed from ``records.jsonl``."""
        return iter_records(self.run_dir)

    def summary(self) -> Summary:
        """The summary per variant × model, computed from the records in one pass."""
        # From the decoded lines, no Record built (Summary.of_lines): a few times faster.
        with gc_paused(), corrupt_records(self.run_dir):
            lines = iter_record_dicts(self.run_dir, exact_big_ints=False)  # no variables read
            return Summary.of_lines(lines, self.meta.suite.metrics, self.variants, self.models)

    def probes(self) -> ProbeReport:
        """The verdicts of the run's probes, from its records (empty when it ran none)."""
        kinds = self.meta.suite.probes
        selected = self.meta.options.probes
        if selected is not None:
            kinds = {name: kind for name, kind in kinds.items() if name in selected}
        if not kinds:
            return ProbeReport()
        return probe_report(self.records(), probes=kinds)

    def verdict(self, summary: Summary, probes: ProbeReport | None = None) -> GateVerdict:
        """The run's outcome on ``summary``, as the run gave it (:func:`run_verdict`).

        A probe's gate is judged on ``probes``, computed from the records when not given.
        """
        if probes is None and any(
            g.metric.startswith(PROBE_GATE_PREFIX) for g in self.meta.suite.gate
        ):
            probes = self.probes()
        return run_verdict(self.meta, summary, probes)


def listing_row(run: StoredRun) -> dict[str, Any]:
    """The run as ``promptbench runs`` lists it, from ``run.json`` alone (never the records).

    The pass rates and cost are the tallies the run wrote when it ended; a run still
    going, or written before there were tallies, lists none (``show`` computes them).
    """
    meta = run.meta
    tallies = {(g.variant, g.model): g for g in meta.groups or ()}
    order = [(v, m) for v in meta.variants for m in meta.models if (v, m) in tallies]
    order += [k for k in tallies if k not in order]
    groups = [
        {
            "variant": v,
            "model": m,
            "records": tallies[v, m].records,
            "pass_rate": tallies[v, m].pass_rate,
        }
        for v, m in order
    ]
    known = [c for g in tallies.values() if (c := g.cost) is not None]
    return {
        "run_id": run.run_id,
        "run_dir": str(run.run_dir),
        "suite": run.suite_name,
        "started_at": meta.started_at,
        "status": run.status,
        "variants": run.variants,
        "models": run.models,
        "records": meta.counts.records,
        "errors": meta.counts.errors,
        "groups": groups,
        "cost": sum(known) if known else None,  # None: no call had a known price
    }


def _runs_dir(runs_dir: str | Path | None) -> Path:
    return Path(runs_dir) if runs_dir is not None else default_runs_dir()


def list_runs(runs_dir: str | Path | None = None) -> list[StoredRun]:
    """Every readable run under ``runs_dir``, newest first by ``started_at``."""
    base = _runs_dir(runs_dir)
    if not base.is_dir():
        return []
    runs = []
    for child in base.iterdir():
        if not (child / RUN_FILE).is_file():
            continue
        try:
            runs.append(StoredRun(child, read_meta(child)))
        except RunStoreError:
            continue  # a torn or foreign directory is not a run to list
    runs.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
    return runs


def resolve_run(ref: str | Path, runs_dir: str | Path | None = None) -> StoredRun:
    """The run that ``ref`` names: ``latest``, a run directory, an id or a unique id prefix."""
    text = str(ref).strip()
    base = _runs_dir(runs_dir)
    if text == LATEST:
        runs = list_runs(base)
        if not runs:
            raise RunStoreError(f"no runs in {base}; run a suite first (promptbench run SUITE)")
        return runs[0]
    path = Path(text)
    if path.name in (RUN_FILE, RECORDS_FILE) and path.is_file():
        path = path.parent
    if (path / RUN_FILE).is_file():
        return StoredRun(path, read_meta(path))
    if text and (base / text / RUN_FILE).is_file():
        return StoredRun(base / text, read_meta(base / text))
    matches = [r for r in list_runs(base) if text and r.run_id.startswith(text)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(r.run_id for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise RunStoreError(
            f"'{text}' matches {len(matches)} runs ({shown}{more}); type more of the id"
        )
    raise RunStoreError(
        f"no run '{text}' in {base}; `promptbench runs` lists them "
        "(or give a run directory, or latest)"
    )


def load_run(
    path_or_id: str | Path = LATEST, *, runs_dir: str | Path | None = None
) -> pd.DataFrame:
    """A run's records as a pandas DataFrame, one row per record.

    ``path_or_id`` is a run directory, a run id or a unique prefix of one, or
    ``latest``; ids are looked up in ``runs_dir`` (default ``./runs`` or
    ``$PROMPTBENCH_RUNS_DIR``). Columns: ``case_id, variant, model, repeat``,
    ``var.<name>`` per variable, ``expected, prompt, output, passed``,
    ``score.<metric>`` and ``pass.<metric>`` per metric, ``latency_ms,
    prompt_tokens, completion_tokens, cost, cached, retries, error`` (the error's
    kind) and ``error_message``. ``df.attrs`` holds the run's ``run.json``.

    Example::

        df = promptbench.load_run("latest")
        df.groupby(["variant", "model"])["score.exact"].mean()
    """
    import pandas as pd

    run = resolve_run(path_or_id, runs_dir)
    var_names: dict[str, None] = dict.fromkeys(run.meta.suite.variables)
    metric_names: dict[str, None] = dict.fromkeys(run.meta.suite.metrics)
    rows = []
    for r in run.records():
        var_names.update(dict.fromkeys(r.vars))
        metric_names.update(dict.fromkeys(r.scores))
        rows.append(_flat(r))
    columns = [
        "case_id",
        "variant",
        "model",
        "repeat",
        *(f"var.{v}" for v in var_names),
        "expected",
        "prompt",
        "output",
        "passed",
        *(c for m in metric_names for c in (f"score.{m}", f"pass.{m}")),
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "cached",
        "retries",
        "error",
        "error_message",
    ]
    df = pd.DataFrame.from_records(rows, columns=columns)
    # Nullable dtypes: a pass/fail column with errors in it stays boolean, a score stays
    # numeric, and a missing value is <NA>, never a string or an object.
    types: dict[str, str] = {"repeat": "int64", "prompt_tokens": "int64"}
    types |= {"completion_tokens": "int64", "retries": "int64", "cached": "bool"}
    types |= {"passed": "boolean", "latency_ms": "Float64", "cost": "Float64"}
    for m in metric_names:
        types[f"score.{m}"] = "Float64"
        types[f"pass.{m}"] = "boolean"
    df = df.astype(types)
    df.attrs["run"] = run.meta.to_json()
    return df


def _flat(r: Record) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_id": r.case_id,
        "variant": r.variant,
        "model": r.model,
        "repeat": r.repeat,
        "expected": r.expected,
        "prompt": messages_text(r.transcript or r.messages),
        "output": r.output,
        "passed": r.passed,
        "latency_ms": r.latency_ms,
        "prompt_tokens": r.usage.prompt_tokens,
        "completion_tokens": r.usage.completion_tokens,
        "cost": r.cost,
        "cached": r.cached,
        "retries": r.retries,
        "error": r.error.kind if r.error else None,
        "error_message": r.error.message if r.error else None,
    }
    for name, value in r.vars.items():
        row[f"var.{name}"] = value
    for name, s in r.scores.items():
        row[f"score.{name}"] = None if s.error is not None else s.value
        row[f"pass.{name}"] = s.passed
    return row
