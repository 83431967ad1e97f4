"""Datasets: inline, CSV, JSONL, JSON and YAML; flat and explicit rows; errors with lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptbench.errors import SuiteError
from promptbench.suite.cases import CaseSource, from_file, from_list
from promptbench.suite.metricspec import MetricScope
from promptbench.suite.yamlpos import load_yaml
from promptbench.types import Case


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load(tmp_path: Path, name: str, content: str | bytes) -> CaseSource:
    return from_file(write(tmp_path, name, content), name, MetricScope(set()))


def errors(tmp_path: Path, name: str, content: str | bytes) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load(tmp_path, name, content)
    return [str(i) for i in info.value.issues]


def inline(yaml_text: str) -> CaseSource:
    src = load_yaml(yaml_text, "suite.yaml")
    return from_list(src.data["cases"], src, ("cases",), MetricScope(set()))


def inline_errors(yaml_text: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        inline(yaml_text)
    return [str(i) for i in info.value.issues]


# --------------------------------------------------------------------------- row shapes


def test_inline_flat_and_explicit_rows() -> None:
    source = inline(
        "cases:\n"
        "  - {q: what, expected: yes, metadata: {tag: a}}\n"
        "  - {id: named, vars: {q: why, n: 2}, expected: [1, 2], metadata: {tag: b}}\n"
        "  - {id: 7, q: how}\n"
    )
    assert list(source) == [
        Case("1", {"q": "what"}, True, {"tag": "a"}),
        Case("named", {"q": "why", "n": 2}, [1, 2], {"tag": "b"}),
        Case("7", {"q": "how"}),
    ]
    assert source.count == len(source) == 3
    assert source.var_names == ["q", "n"]


def test_ids_default_to_row_numbers() -> None:
    source = inline("cases:\n  - {q: a}\n  - {q: b}\n  - {id: x, q: c}\n  - {q: d}\n")
    assert [c.id for c in source] == ["1", "2", "x", "4"]


def test_context_holds_vars_expected_and_case_id() -> None:
    case = Case("c9", {"q": "hi"}, expected="HI", metadata={"k": 1})
    assert case.context() == {"case_id": "c9", "metadata": {"k": 1}, "expected": "HI", "q": "hi"}
    assert "expected" not in Case("c", {"q": 1}).context()


def test_per_case_metrics_are_parsed() -> None:
    source = inline(
        "cases:\n"
        "  - {q: a, metrics: [json_valid, {contains: x}]}\n"
        "  - {vars: {q: b}, metrics: [{regex: {pattern: '^b', name: starts_b}}]}\n"
    )
    first, second = list(source)
    assert [(m.kind, m.name, dict(m.params)) for m in first.metrics] == [
        ("json_valid", "json_valid", {}),
        ("contains", "contains", {"value": "x"}),
    ]
    assert [(m.kind, m.name) for m in second.metrics] == [("regex", "starts_b")]
    assert "metrics" not in first.vars


def test_duplicate_inline_ids_name_the_row_line() -> None:
    assert inline_errors("cases:\n  - {id: a, q: 1}\n  - {id: b, q: 2}\n  - {id: a, q: 3}\n") == [
        "suite.yaml:4:5: cases[2]: duplicate case id 'a' (also case 1); give every case its own id"
    ]


def test_row_errors_inline() -> None:
    got = inline_errors(
        "cases:\n"
        "  - just text\n"
        "  - {id: true, q: 1}\n"
        "  - {q: 1, metadata: [x]}\n"
        "  - {q: 1, metrics: json_valid}\n"
        "  - {q: 1, two words: 2}\n"
        "  - {vars: {ok: 1, 9lives: 2}}\n"
        "  - {vars: {q: 1}, expectd: 2}\n"
        "  - {q: 1, metrics: [exactt]}\n"
    )
    assert got == [
        "suite.yaml:2:5: cases[0]: a case is a mapping of vars, got str",
        "suite.yaml:3:10: cases[1].id: a case id is a string or a number",
        "suite.yaml:4:22: cases[2].metadata: metadata must be a mapping",
        "suite.yaml:5:21: cases[3].metrics: metrics must be a list",
        "suite.yaml:6:12: cases[4].two words: var name 'two words' cannot be used in a "
        "template; use letters, digits and _",
        "suite.yaml:7:20: cases[5].vars.9lives: var name '9lives' cannot be used in a "
        "template; use letters, digits and _",
        "suite.yaml:8:20: cases[6].expectd: unknown field; did you mean 'expected'?",
        "suite.yaml:9:22: cases[7].metrics[0]: unknown metric 'exactt'; did you mean "
        "'exact'? (promptbench metrics lists them)",
    ]


# --------------------------------------------------------------------------- CSV


def test_csv_flat_rows(tmp_path: Path) -> None:
    source = load(
        tmp_path,
        "c.csv",
        'id,question,expected\nq1,"Paris, France?",yes\n\nq2,"two\nlines",no\n',
    )
    assert list(source) == [
        Case("q1", {"question": "Paris, France?"}, "yes"),
        Case("q2", {"question": "two\nlines"}, "no"),
    ]
    assert (source.count, source.var_names, source.origin) == (2, ["question"], "c.csv")


def test_csv_without_id_column_numbers_rows_and_strips_the_bom(tmp_path: Path) -> None:
    source = load(tmp_path, "c.csv", "\ufeffa,b\r\n1,2\r\n3,4\r\n".encode())
    assert list(source) == [Case("1", {"a": "1", "b": "2"}), Case("2", {"a": "3", "b": "4"})]


def test_csv_ragged_row_names_the_line(tmp_path: Path) -> None:
    assert errors(tmp_path, "c.csv", "id,q,expected\n1,a,b\n2,c\n3,d,e,f\n") == [
        "c.csv:3: row has 2 fields but the header has 3; quote fields that contain commas",
        "c.csv:4: row has 4 fields but the header has 3; quote fields that contain commas",
    ]


def test_csv_duplicate_ids_name_the_line(tmp_path: Path) -> None:
    assert errors(tmp_path, "c.csv", "id,q\n1,a\n2,b\n1,c\n") == [
        "c.csv:4: duplicate case id '1' (also at line 2); give every case its own id"
    ]


def test_csv_not_utf8_names_the_line(tmp_path: Path) -> None:
    content = b"q\nfine\nalso fine\n" + "café\n".encode("latin-1")
    assert errors(tmp_path, "c.csv", content) == [
        "c.csv:4: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


@pytest.mark.parametrize("header", ["a,a", "a,", " ,b"])
def test_csv_bad_header(tmp_path: Path, header: str) -> None:
    assert errors(tmp_path, "c.csv", f"{header}\n1,2\n") == [
        "c.csv:1: the header row needs unique, non-empty column names"
    ]


def test_csv_unterminated_quote(tmp_path: Path) -> None:
    assert errors(tmp_path, "c.csv", 'a\n1\n"open\n') == [
        "c.csv:3: CSV error: a quoted field in this row is never closed; close its quote"
    ]


@pytest.mark.parametrize("content", ["", "a,b\n", "a\n\n\n"])
def test_csv_empty(tmp_path: Path, content: str) -> None:
    assert errors(tmp_path, "c.csv", content) == [
        "c.csv: the dataset has no cases; add at least one"
    ]


# --------------------------------------------------------------------------- JSONL


def test_jsonl_flat_and_explicit_rows(tmp_path: Path) -> None:
    rows = [
        {"city": "Paris", "expected": "France", "metadata": {"src": "atlas"}},
        {},
        {"id": "b", "vars": {"city": "Rome"}, "metrics": [{"icontains": "italy"}]},
    ]
    text = "\n".join(json.dumps(r) if r else "" for r in rows) + "\n"
    source = load(tmp_path, "c.jsonl", text)
    first, second = list(source)
    assert first == Case("1", {"city": "Paris"}, "France", {"src": "atlas"})
    assert (second.id, second.vars) == ("b", {"city": "Rome"})
    assert [(m.kind, dict(m.params)) for m in second.metrics] == [("icontains", {"value": "italy"})]
    assert (source.count, source.var_names) == (2, ["city"])


def test_jsonl_invalid_line_names_line_and_column(tmp_path: Path) -> None:
    assert errors(tmp_path, "c.jsonl", '{"q": 1}\n{"q": 2,}\n{"q": 3}\n{q: 4}\n') == [
        "c.jsonl:2:9: invalid JSON: Expecting property name enclosed in double quotes",
        "c.jsonl:4:2: invalid JSON: Expecting property name enclosed in double quotes",
    ]


def test_jsonl_row_errors_name_their_line(tmp_path: Path) -> None:
    text = (
        '{"q": 1, "metrics": [{"containz": "x"}]}\n'
        "[1, 2]\n"
        '{"id": 1.5, "q": 1}\n'
        '{"vars": {"2x": 1}}\n'
        '{"id": "a", "q": 1}\n'
        '{"id": "a", "q": 2}\n'
    )
    assert errors(tmp_path, "c.jsonl", text) == [
        "c.jsonl:1:1: metrics[0].containz: unknown metric 'containz'; did you mean "
        "'contains'? (promptbench metrics lists them)",
        "c.jsonl:2:1: a case is a mapping of vars, got list",
        "c.jsonl:3:1: id: a case id is a string or a number",
        "c.jsonl:4:1: vars.2x: var name '2x' cannot be used in a template; "
        "use letters, digits and _",
        "c.jsonl:6: duplicate case id 'a' (also at line 5); give every case its own id",
    ]


def test_jsonl_not_utf8_names_the_line(tmp_path: Path) -> None:
    assert errors(tmp_path, "c.jsonl", b'{"q": 1}\n{"q": "\xff"}\n') == [
        "c.jsonl:2: not UTF-8 text (byte 0xff); save the file as UTF-8"
    ]


# --------------------------------------------------------------------------- JSON / YAML


def test_json_list_and_cases_key(tmp_path: Path) -> None:
    rows = [{"q": 1}, {"id": "z", "vars": {"q": 2}, "expected": 3}]
    expected = [Case("1", {"q": 1}), Case("z", {"q": 2}, 3)]
    assert list(load(tmp_path, "a.json", json.dumps(rows))) == expected
    assert list(load(tmp_path, "b.json", json.dumps({"cases": rows}))) == expected


def test_json_errors(tmp_path: Path) -> None:
    assert errors(tmp_path, "a.json", '[{"q": 1},\n {"q": 2]') == [
        "a.json:2:9: invalid JSON: Expecting ',' delimiter"
    ]
    assert errors(tmp_path, "b.json", '{"q": 1}') == [
        "b.json: a dataset file holds a list of cases (or {cases: [...]})"
    ]
    assert errors(tmp_path, "c.json", "[]") == [
        "c.json: the dataset has no cases; add at least one"
    ]
    assert errors(tmp_path, "d.json", b'["caf\xe9"]') == [
        "d.json:1: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


def test_yaml_file_rows_are_located(tmp_path: Path) -> None:
    source = load(tmp_path, "c.yaml", "- {q: 1}\n- id: b\n  q: 2\n")
    assert [c.id for c in source] == ["1", "b"]
    assert errors(tmp_path, "d.yml", "cases:\n  - {id: a, q: 1}\n  - {id: a, q: 2}\n") == [
        "d.yml:3:5: cases[1]: duplicate case id 'a' (also case 1); give every case its own id"
    ]
    assert errors(tmp_path, "e.yaml", "- {q: 1\n") == [
        "e.yaml:2:1: YAML syntax error: did not find expected ',' or '}' (while parsing a "
        "flow mapping that starts at line 1); check the indentation and quoting there"
    ]


def test_unknown_extension(tmp_path: Path) -> None:
    assert errors(tmp_path, "cases.tsv", "a\tb\n") == [
        "cases.tsv: unknown dataset format '.tsv'; use .csv, .jsonl, .json, .yaml, .yml or .parquet"
    ]


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("c.csv", "id,q,extra\na,1,x\nb,2,y\n"),
        ("c.jsonl", '{"id": "a", "q": "1", "extra": "x"}\n{"id": "b", "q": "2", "extra": "y"}\n'),
        ("c.yaml", "- {id: a, q: '1', extra: x}\n- {id: b, q: '2', extra: y}\n"),
    ],
)
def test_sources_iterate_twice_with_count_and_var_names(
    tmp_path: Path, name: str, content: str
) -> None:
    source = load(tmp_path, name, content)
    first = list(source)
    assert first == list(source)
    assert first == [Case("a", {"q": "1", "extra": "x"}), Case("b", {"q": "2", "extra": "y"})]
    assert (source.count, len(source), source.var_names) == (2, 2, ["q", "extra"])


def test_small_datasets_are_kept_in_memory(tmp_path: Path) -> None:
    source = load(tmp_path, "c.jsonl", '{"q": "old"}\n')
    write(tmp_path, "c.jsonl", '{"q": "new"}\n')
    assert [c.vars["q"] for c in source] == ["old"]  # read once, when the suite loaded


def test_large_csv_and_jsonl_are_streamed_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promptbench.suite.cases.KEEP_IN_MEMORY", 0)
    source = load(tmp_path, "c.jsonl", '{"q": "old"}\n')
    iterator = iter(source)
    # The file is read again on every pass: a run holds one row at a time.
    write(tmp_path, "c.jsonl", '{"q": "new"}\n')
    assert [c.vars["q"] for c in iterator] == ["new"]


def test_stream_raises_when_the_file_turns_bad_during_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("promptbench.suite.cases.KEEP_IN_MEMORY", 0)
    source = load(tmp_path, "c.jsonl", '{"q": 1}\n')
    write(tmp_path, "c.jsonl", "[1]\n")
    with pytest.raises(SuiteError) as info:
        list(source)
    assert [str(i) for i in info.value.issues] == [
        "c.jsonl:1:1: a case is a mapping of vars, got list"
    ]


def test_duplicate_ids_of_a_streamed_dataset_are_found_by_their_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past KEEP_IN_MEMORY ids are kept as 8-byte hashes; a hash seen twice is looked up again.
    monkeypatch.setattr("promptbench.suite.cases.KEEP_IN_MEMORY", 2)
    rows = "".join(f'{{"id": "{i}", "q": "x"}}\n' for i in ("a", "b", "c", "d", "e", "b", "f"))
    with pytest.raises(SuiteError) as info:
        load(tmp_path, "c.jsonl", rows)
    assert [str(i) for i in info.value.issues] == [
        "c.jsonl:6: duplicate case id 'b' (also at line 2); give every case its own id"
    ]
    unique = "".join(f'{{"id": "{i}", "q": "x"}}\n' for i in "abcdefg")
    assert [c.id for c in load(tmp_path, "c.jsonl", unique)] == list("abcdefg")
