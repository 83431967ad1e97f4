"""Datasets with column mapping: Parquet (in batches), hub datasets saved locally, CSV/JSONL/YAML.

A missing column is one line naming the file, the column and the suite line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptbench.errors import SuiteError
from promptbench.suite import Suite, load_suite
from promptbench.suite import parquet as parquet_module
from promptbench.types import Case
from tests.helpers.project import Project

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SUITE = "suites/suite.yaml"
HEAD = """\
name: data
prompts:
  ask: "Q: {{ question }}"
models:
  m: {provider: mock}
"""

ROWS = [
    {"qid": "a1", "q": "two plus two", "answer": "4", "topic": "math"},
    {"qid": "a2", "q": "capital of France", "answer": "Paris", "topic": "geo"},
    {"qid": "a3", "q": "H2O is", "answer": "water", "topic": "chem"},
]


def write_suite(project: Project, cases_block: str) -> None:
    project.suite(HEAD + textwrap.dedent(cases_block).lstrip("\n"))


def load(project: Project, cases_block: str) -> Suite:
    write_suite(project, cases_block)
    return load_suite(SUITE)


def issues(project: Project, cases_block: str) -> list[str]:
    write_suite(project, cases_block)
    with pytest.raises(SuiteError) as info:
        load_suite(SUITE)
    return [str(i) for i in info.value.issues]


def write_parquet(path: Path, rows: list[dict[str, object]], row_group_size: int = 1000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


MAPPED = Case("a1", {"question": "two plus two"}, "4")


# --------------------------------------------------------------------------- Parquet


def test_parquet_file_read_directly_flat(project: Project) -> None:
    write_parquet(
        project.root / "data/qa.parquet", [{"id": "x", "question": "hi", "expected": "yo"}]
    )
    suite = load(project, "cases: data/qa.parquet\n")
    assert list(suite.cases) == [Case("x", {"question": "hi"}, "yo")]
    assert suite.cases.origin.endswith("qa.parquet")


def test_parquet_with_column_mapping(project: Project) -> None:
    write_parquet(project.root / "data/qa.parquet", ROWS)
    suite = load(
        project,
        """
        cases:
          file: data/qa.parquet
          vars: {question: q}
          id: qid
          expected: answer
        """,
    )
    cases = list(suite.cases)
    assert cases[0] == MAPPED and len(cases) == 3
    assert suite.cases.var_names == ["question"]  # only the mapped columns are vars


def test_parquet_is_read_in_batches_across_row_groups(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parquet_module, "BATCH_ROWS", 7)
    rows = [{"qid": f"r{i}", "q": f"question {i}", "answer": str(i)} for i in range(100)]
    write_parquet(project.root / "data/big.parquet", rows, row_group_size=30)
    seen: list[int] = []
    real = pq.ParquetFile.iter_batches

    def spy(self: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for batch in real(self, *args, **kwargs):
            seen.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    suite = load(
        project,
        "cases: {file: data/big.parquet, vars: [q], id: qid, expected: answer, limit: 60}\n",
    )
    cases = list(suite.cases)
    assert [c.id for c in cases] == [f"r{i}" for i in range(60)]
    assert cases[59].vars == {"q": "question 59"}
    assert seen and max(seen) <= 7  # never more than a batch at a time


def test_parquet_missing_column_is_one_line(project: Project) -> None:
    write_parquet(project.root / "data/qa.parquet", ROWS)
    found = issues(
        project,
        """
        cases:
          file: data/qa.parquet
          vars: {question: question_text}
          expected: answer
        """,
    )
    assert len(found) == 1
    line = found[0]
    assert line.startswith("data/qa.parquet: no column 'question_text'")
    assert "cases.vars.question (suites/suite.yaml:8)" in line
    assert "qid, q, answer, topic" in line


def test_parquet_dates_and_nested_values_become_json(project: Project) -> None:
    import datetime as dt

    write_parquet(
        project.root / "data/t.parquet",
        [{"question": "when", "day": dt.date(2026, 1, 2), "tags": ["a", "b"]}],
    )
    (case,) = list(load(project, "cases: data/t.parquet\n").cases)
    assert case.vars == {"question": "when", "day": "2026-01-02", "tags": ["a", "b"]}
    json.dumps(case.vars)


def test_not_a_parquet_file(project: Project) -> None:
    project.write("data/bad.parquet", "not parquet at all")
    (line,) = issues(project, "cases: data/bad.parquet\n")
    assert line.startswith("data/bad.parquet: not a readable Parquet file")


# --------------------------------------------------------------------------- text formats


def test_csv_mapping_and_missing_column(project: Project) -> None:
    project.write("data/qa.csv", "qid,q,answer\na1,two plus two,4\na2,capital of France,Paris\n")
    suite = load(
        project, "cases: {file: data/qa.csv, vars: {question: q}, id: qid, expected: answer}\n"
    )
    assert next(iter(suite.cases)) == MAPPED
    found = issues(
        project, "cases: {file: data/qa.csv, vars: {question: q}, id: qid, expected: ans}\n"
    )
    assert found == [
        "data/qa.csv:2: no column 'ans' (named by cases.expected (suites/suite.yaml:6)); "
        "the dataset's columns are: qid, q, answer"
    ]


def test_jsonl_mapping_keeps_other_columns_as_vars_without_vars(project: Project) -> None:
    project.jsonl("data/qa.jsonl", ROWS)
    suite = load(project, "cases: {file: data/qa.jsonl, id: qid, expected: answer}\n")
    first = next(iter(suite.cases))
    assert first == Case("a1", {"q": "two plus two", "topic": "math"}, "4")


def test_jsonl_missing_column_named_once_with_its_line(project: Project) -> None:
    rows = [dict(r) for r in ROWS]
    del rows[1]["q"]
    del rows[2]["q"]
    project.jsonl("data/qa.jsonl", rows)
    found = issues(project, "cases: {file: data/qa.jsonl, vars: {question: q}, id: qid}\n")
    assert len(found) == 1
    assert found[0].startswith("data/qa.jsonl:2: no column 'q' (named by cases.vars.question")


def test_yaml_dataset_mapping_with_limit(project: Project) -> None:
    project.write(
        "data/qa.yaml", "- {qid: a1, q: two plus two, answer: '4'}\n- {qid: a2, q: x, answer: y}\n"
    )
    suite = load(
        project,
        "cases: {file: data/qa.yaml, vars: {question: q}, id: qid, expected: answer, limit: 1}\n",
    )
    assert list(suite.cases) == [MAPPED]


def test_mapping_shape_errors(project: Project) -> None:
    project.jsonl("data/qa.jsonl", ROWS)
    (line,) = issues(project, "cases: {file: data/qa.jsonl, hf: a/b}\n")
    assert "give either file:" in line
    (line,) = issues(project, "cases: {file: data/qa.jsonl, split: test}\n")
    assert "split applies to hf: datasets only" in line
    (line,) = issues(project, "cases: {file: data/qa.jsonl, vars: {expected: answer}}\n")
    assert "map the column with expected:" in line
    (line,) = issues(project, "cases: {file: data/qa.jsonl, colums: [q]}\n")
    assert "unknown field" in line


# --------------------------------------------------------------------------- hub format, offline


datasets = pytest.importorskip("datasets")


def test_hf_local_directory_saved_with_save_to_disk(project: Project) -> None:
    ds = datasets.Dataset.from_list(ROWS)
    ds.save_to_disk(str(project.root / "data/saved"))
    suite = load(
        project,
        "cases: {hf: data/saved, vars: {question: q}, id: qid, expected: answer, limit: 2}\n",
    )
    assert [c.id for c in suite.cases] == ["a1", "a2"]
    assert next(iter(suite.cases)) == MAPPED
    assert suite.cases.origin == "hf:data/saved"


def test_hf_local_dataset_dict_picks_the_split(project: Project) -> None:
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(ROWS), "test": datasets.Dataset.from_list(ROWS[:1])}
    )
    dd.save_to_disk(str(project.root / "data/dd"))
    block = "cases: {hf: data/dd, split: test, vars: {question: q}, id: qid, expected: answer}\n"
    assert list(load(project, block).cases) == [MAPPED]
    (line,) = issues(project, block.replace("split: test", "split: dev"))
    assert line.startswith("suites/suite.yaml:6:")
    assert "no split 'dev'" in line and "train, test" in line


def test_hf_local_folder_of_parquet_files_is_streamed(project: Project) -> None:
    write_parquet(project.root / "data/pq/train-00000-of-00001.parquet", ROWS)
    suite = load(
        project,
        "cases: {hf: data/pq, split: train, vars: {question: q}, id: qid, expected: answer}\n",
    )
    assert next(iter(suite.cases)) == MAPPED
    assert suite.cases.origin == "hf:data/pq split=train"
    found = issues(project, "cases: {hf: data/pq, vars: {question: nope}}\n")
    assert len(found) == 1 and "no column 'nope'" in found[0] and found[0].startswith("data/pq")


def test_hf_revision_on_a_local_directory_is_refused(project: Project) -> None:
    write_parquet(project.root / "data/pq/train.parquet", ROWS)
    (line,) = issues(project, "cases: {hf: data/pq, revision: v1}\n")
    assert "revision applies to hub datasets" in line


def test_hf_missing_dataset_offline_is_one_clear_line(project: Project, tmp_path: Path) -> None:
    write_suite(project, "cases: {hf: nobody-here/no-such-dataset, split: test}\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "NO_COLOR": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run(  # noqa: PLW1510 (the return code is what is checked)
        [sys.executable, "-m", "promptbench", "validate", SUITE],
        capture_output=True,
        text=True,
        env=env,
        cwd=project.root,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "hf:nobody-here/no-such-dataset is not in the local cache and HF_HUB_OFFLINE is set"
        in lines[0]
    )
    assert "suites/suite.yaml:6:" in lines[0]


class FakeStream(list):  # type: ignore[type-arg]
    """What load_dataset(..., streaming=True) gives: iterable rows, known columns."""

    column_names = ("question", "answer")


class FakeDatasets:
    """Stands in for the datasets library where the hub would be asked (unit tests only)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def load_dataset(self, name: str, subset: str | None, **kwargs: object) -> FakeStream:
        self.calls.append({"name": name, "subset": subset, **kwargs})
        return FakeStream([{"question": "hi", "answer": "yo"}])


def test_hub_offline_reads_the_cache_and_says_so(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptbench.suite import hub

    fake = FakeDatasets()
    monkeypatch.setattr(hub, "_datasets", lambda: fake)
    monkeypatch.setattr(hub, "_resolve_revision", lambda *a: pytest.fail("asked the hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    suite = load(project, "cases: {hf: owner/qa, split: test, revision: v2, expected: answer}\n")
    assert list(suite.cases) == [Case("1", {"question": "hi"}, "yo")]
    assert suite.cases.note == "HF_HUB_OFFLINE is set: reading hf:owner/qa from the local cache"
    assert suite.cases.origin == "hf:owner/qa@v2 split=test"
    assert fake.calls == [
        {"name": "owner/qa", "subset": None, "split": "test", "revision": "v2", "streaming": True}
    ]


def test_hub_online_records_the_resolved_commit(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptbench.suite import hub

    fake = FakeDatasets()
    sha = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setattr(hub, "_datasets", lambda: fake)
    monkeypatch.setattr(hub, "_resolve_revision", lambda name, revision, at: sha)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    suite = load(project, "cases: {hf: owner/qa, subset: main, vars: [question], limit: 1}\n")
    assert suite.cases.origin == f"hf:owner/qa@{sha} subset=main split=train"
    assert suite.cases.note is None
    assert fake.calls[0]["revision"] == sha  # the data read is the commit recorded
    (line,) = issues(project, "cases: {hf: owner/qa, vars: {question: prompt}}\n")
    assert line.startswith("hf:owner/qa: no column 'prompt'") and "question, answer" in line
