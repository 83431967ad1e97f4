"""One side of a comparison: a stored run, or a baseline file, with what the diff needs of it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptbench.diff.pairing import record_line
from promptbench.diff.result import SideInfo
from promptbench.runner.runmeta import RUN_FILE
from promptbench.runner.store import RECORDS_FILE, iter_record_dicts, iter_records
from promptbench.runs import StoredRun
from promptbench.suite.regression import RegressionRule
from promptbench.types import Record


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

    def scored_lines(self) -> Iterator[Mapping[str, Any]]:
        """The records as ``records.jsonl`` lines: what a comparison folds (no Record built)."""
        if self.baseline_records is None:
            # No variables are read, nor any field beyond 64 bits: no search for one.
            return iter_record_dicts(self.path, exact_big_ints=False)
        return (record_line(r) for r in self.baseline_records)


def is_baseline_file(path: Path) -> bool:
    """Whether ``path`` looks like a baseline file rather than part of a run directory."""
    return path.is_file() and path.name not in (RUN_FILE, RECORDS_FILE)
