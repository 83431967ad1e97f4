"""The run store's records: written in batches, never torn, never twice."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from promptbench.errors import InfrastructureError, RunStoreError
from promptbench.runner.store import (
    FLUSH_RECORDS,
    RECORDS_FILE,
    RunWriter,
    iter_record_dicts,
    iter_record_offsets,
    iter_records,
)
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


ODD_LINES = [
    b'{"case_id": "c1", "score": NaN, "big": 123456789012345678901234}\n',
    b'{"case_id": "c2", "score": Infinity, "text": "\\u00e9 caf\\u00e9"}\n',
    b'{"case_id": "c3", "score": 0.5}\n',
]


def _lean_and_general(run_dir: Path) -> tuple[list[Any], list[Any]]:
    lean = list(iter_record_dicts(run_dir, exact_big_ints=False))
    general = [d for _, d in iter_record_offsets(run_dir, exact_big_ints=False)]
    return lean, general


def test_the_lean_reader_reads_what_the_general_one_reads(tmp_path: Path) -> None:
    # NaN and Infinity (orjson refuses them), a big integer, a torn last line.
    (tmp_path / RECORDS_FILE).write_bytes(b"".join(ODD_LINES) + b'{"case_id": "c4", "sc')
    lean, general = _lean_and_general(tmp_path)
    assert len(lean) == 3
    assert repr(lean) == repr(general)  # NaN != NaN: compared by repr
    assert math.isnan(lean[0]["score"]) and lean[1]["score"] == math.inf


@pytest.mark.parametrize("bad", [b"not json\n", b"[1, 2]\n", b'"text"\n'])
def test_the_lean_reader_refuses_what_the_general_one_refuses(tmp_path: Path, bad: bytes) -> None:
    (tmp_path / RECORDS_FILE).write_bytes(ODD_LINES[2] + bad)
    messages = []
    for read in (
        lambda: list(iter_record_dicts(tmp_path, exact_big_ints=False)),
        lambda: list(iter_record_offsets(tmp_path, exact_big_ints=False)),
    ):
        with pytest.raises(RunStoreError) as caught:
            read()
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "corrupt record" in messages[0]
