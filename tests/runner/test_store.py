"""The run store's records: written in batches, never torn, never twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptbench.errors import InfrastructureError
from promptbench.runner.store import FLUSH_RECORDS, RunWriter, iter_records
from promptbench.suite import Suite, load_suite
from promptbench.types import Record
from tests.helpers.project import Project


def _suite(project: Project) -> Suite:
    path = project.suite(
        {
            "name": "store",
            "prompts": {"p": "Q: {{ q }}"},
            "models": {"m": {"provider": "mock"}},
            "cases": [{"id": "c1", "q": "x"}],
        }
    )
    return load_suite(path)


def _writer(project: Project, suite: Suite, resume: Path | None = None) -> RunWriter:
    return RunWriter(
        project.root / "runs", suite, options={}, variants=["p"], models=["m"], resume=resume
    )


def _record(i: int) -> Record:
    return Record(f"c{i}", "p", "m", 0, {"q": "x"}, (), output=f"answer {i}")


def _lines(writer: RunWriter) -> list[str]:
    return writer.info.records_path.read_text(encoding="utf-8").splitlines()


def test_records_are_written_in_batches_and_at_the_end(project: Project) -> None:
    writer = _writer(project, _suite(project))
    for i in range(10):
        writer.write(_record(i))
    assert _lines(writer) == [] and writer.pending == 10  # gathered, not yet written
    writer.flush()
    assert len(_lines(writer)) == 10 and writer.pending == 0
    for i in range(10, 10 + FLUSH_RECORDS):
        writer.write(_record(i))
    assert len(_lines(writer)) == 10 + FLUSH_RECORDS  # a full batch goes at once
    writer.write(_record(9999))
    writer.finish("finished", {"records": 11 + FLUSH_RECORDS})
    ids = [r.case_id for r in iter_records(writer.info.run_dir)]
    assert ids == [f"c{i}" for i in range(10 + FLUSH_RECORDS)] + ["c9999"]  # each once, in order


def test_a_refused_batch_leaves_no_torn_line_and_resuming_appends(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = _suite(project)
    writer = _writer(project, suite)
    writer.write(_record(0))
    writer.flush()
    batch = [_record(i) for i in range(1, 4)]
    for r in batch:
        writer.write(r)
    real = writer._records.write

    def half_then_full(text: str) -> int:
        real(text[: len(text) // 2])  # part of the batch reaches the file, then the disk is full
        writer._records.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer._records, "write", half_then_full)
    with pytest.raises(InfrastructureError, match="No space left on device"):
        writer.flush()
    kept = _lines(writer)
    assert all(json.loads(line) for line in kept)  # whole lines only: the torn one was cut
    assert writer.info.records_path.read_bytes().endswith(b"\n")
    writer.finish("failed", {"records": len(kept)})
    again = _writer(project, suite, resume=writer.info.run_dir)
    again.write(_record(3))
    again.finish("finished", {"records": len(kept) + 1})
    ids = [r.case_id for r in iter_records(writer.info.run_dir)]
    assert len(ids) == len(set(ids)) == len(kept) + 1
