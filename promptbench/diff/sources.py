"""One side of a comparison: a stored run, or a baseline file, with what the diff needs of it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptbench.diff.result import SideInfo
from promptbench.errors import RunStoreError
from promptbench.runner.runmeta import RUN_FILE
from promptbench.runner.store import RECORDS_FILE, iter_record_dicts, iter_records
from promptbench.runs import StoredRun
from promptbench.suite.regression import RegressionRule
from promptbench.types import CallError, ProbeTag, Record, Score


@dataclass
class Source:
    """One side of a comparison: its identity, its suite's metrics and rules, its records."""

    info: SideInfo
    metric_names: list[str]  # the suite's metrics, in its order
    regression_rules: list[RegressionRule]  # the suite's gate.regression, as recorded
    path: Path  # the run directory, or the baseline file
    baseline_records: list[Record] | None = None  # a baseline's, already read

    @classmethod
    def of_run(cls, run: StoredRun, label: str) -> Source:
        """A stored run as a side; its records are streamed when asked for."""
        info = SideInfo(
            label=label,
            source=run.run_id,
            kind="run",
            suite=run.suite_name,
            suite_hash=run.meta.suite.hash,
        )
        suite = run.meta.suite
        return cls(info, list(suite.metrics), suite.regression_rules(), run.run_dir)

    def records(self) -> Iterator[Record]:
        """The records, streamed from a run or from the baseline read earlier."""
        if self.baseline_records is None:
            return iter_records(self.path)
        return iter(self.baseline_records)

    def scored_records(self) -> Iterator[Record]:
        """The records as a comparison reads them: :func:`scored_records`, or the baseline's."""
        if self.baseline_records is None:
            return scored_records(self.path)
        return iter(self.baseline_records)


def scored_records(run_dir: Path) -> Iterator[Record]:
    """A run's records without their prompts, variables and judges' details, streamed.

    What ``diff`` and ``baseline save`` read of a record is its identity, its scores,
    its output and its error; building the rest (the messages above all) is most of the
    cost of reading a big run, so it is left out: ``messages=()`` and ``vars={}``.
    """
    path = run_dir / RECORDS_FILE
    for data in iter_record_dicts(run_dir):
        try:
            yield scored_record(data)
        except (ValueError, KeyError) as exc:
            raise RunStoreError(f"{path}: corrupt record: {exc}") from None


def scored_record(data: Mapping[str, Any]) -> Record:
    """One ``records.jsonl`` line as :func:`scored_records` reads it (see Record.from_json)."""
    err = data.get("error")
    probe = data.get("probe")
    return Record(
        data["case_id"],
        data["variant"],
        data["model"],
        data["repeat"],
        {},
        (),
        output=data.get("output"),
        scores={
            name: Score(
                name,
                s.get("value"),
                s.get("passed"),
                s.get("reason", ""),
                s.get("error"),
                s.get("weight", 1.0),
            )
            for name, s in (data.get("scores") or {}).items()
        },
        passed=data.get("passed"),
        error=CallError(err["kind"], err["message"], err.get("status")) if err else None,
        probe=ProbeTag.from_json(probe) if probe else None,
    )


def is_baseline_file(path: Path) -> bool:
    """Whether ``path`` looks like a baseline file rather than part of a run directory."""
    return path.is_file() and path.name not in (RUN_FILE, RECORDS_FILE)
