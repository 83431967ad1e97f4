"""Datasets: an inline list, or a CSV, JSONL, JSON, YAML or Parquet file.

A row is either flat (every column is a var, except ``id``, ``expected``,
``metadata`` and ``metrics``) or explicit (``{id, vars, expected, metadata,
metrics}``); a :class:`ColumnMap` says otherwise which columns are which. Rows
without an id are numbered from 1. CSV, JSONL and Parquet files (and hub datasets,
:mod:`promptbench.suite.hub`) are streamed: a run holds one row at a time, so memory
stays flat in the size of the dataset; JSON and YAML files are read whole.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from promptbench.errors import Issue, SuiteError
from promptbench.suite.columns import RESERVED, ColumnMap
from promptbench.suite.metricspec import MetricScope, parse_metrics
from promptbench.suite.schema import CaseRow
from promptbench.suite.validation import suggest, validate
from promptbench.suite.yamlpos import KeyPath, Located, Pos, format_path, load_yaml
from promptbench.types import Case, SimulatedUser

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".parquet": "parquet",
    ".pq": "parquet",
}
MAX_ISSUES = 20
KEEP_IN_MEMORY = 20_000  # cases; a larger CSV or JSONL dataset is streamed
MAX_WHOLE_FILE_BYTES = 100_000_000  # JSON and YAML datasets are parsed whole: keep them sane
TOO_DEEP = "invalid JSON: the values nest too deeply; flatten them"


def row_to_case(
    row: Any, index: int, src: Located, path: KeyPath, issues: list[Issue], scope: MetricScope
) -> Case | None:
    """Turn one row into a Case, adding issues when it is malformed."""
    if not isinstance(row, dict):
        issues.append(src.issue(path, f"a case is a mapping of vars, got {type(row).__name__}"))
        return None
    if "vars" in row:
        parsed = validate(CaseRow, row, src, path, issues)
        if parsed is None:
            return None
        case_id, variables = parsed.id, dict(parsed.vars)
        expected, metadata, raw_metrics = parsed.expected, parsed.metadata, parsed.metrics
        threshold = parsed.threshold
        turns = tuple(parsed.turns or ())
        user = None
        if parsed.user is not None:
            sim = parsed.user
            if scope.models is not None and sim.model not in scope.models:
                issues.append(
                    src.issue(
                        (*path, "user", "model"),
                        f"no model named '{sim.model}' in the suite; "
                        + suggest(sim.model, sorted(scope.models)),
                    )
                )
                return None
            user = SimulatedUser(sim.model, sim.persona, sim.goal, sim.max_turns)
    else:
        turns, user = (), None
        threshold = None  # flat rows: a "threshold" column is a var like any other
        variables = {k: v for k, v in row.items() if k not in RESERVED}
        case_id, expected = row.get("id"), row.get("expected")
        metadata, raw_metrics = row.get("metadata") or {}, row.get("metrics") or []
        if not isinstance(metadata, dict):
            issues.append(src.issue((*path, "metadata"), "metadata must be a mapping"))
            return None
        if not isinstance(raw_metrics, list):
            issues.append(src.issue((*path, "metrics"), "metrics must be a list"))
            return None
    if case_id is None:
        case_id = str(index + 1)
    elif isinstance(case_id, bool) or not isinstance(case_id, (str, int)):
        issues.append(src.issue((*path, "id"), "a case id is a string or a number"))
        return None
    vars_path = (*path, "vars") if "vars" in row else path
    for key in variables:
        if not isinstance(key, str) or not key.isidentifier():
            issues.append(
                src.issue(
                    (*vars_path, key),
                    f"var name {key!r} cannot be used in a template; use letters, digits and _",
                    prefer_key=True,
                )
            )
            return None
    specs = parse_metrics(raw_metrics, src, (*path, "metrics"), issues, scope.fork())
    return Case(
        str(case_id),
        variables,
        expected,
        metadata,
        tuple(specs),
        threshold,
        turns=turns,
        user=user,
    )


class CaseSource:
    """The cases of a suite; iterable more than once.

    ``origin`` says where they come from (a file, or ``hf:OWNER/NAME@commit``) and goes
    into the run's metadata; ``note`` is something the user should be told before the
    run (such as: offline, read from the local cache).
    """

    def __init__(
        self,
        origin: str,
        count: int,
        var_names: list[str],
        factory: Callable[[], Iterator[Case]],
        note: str | None = None,
    ) -> None:
        self.origin = origin
        self.count = count
        self.var_names = var_names
        self._factory = factory
        self.note = note

    def __iter__(self) -> Iterator[Case]:
        return self._factory()

    def __len__(self) -> int:
        return self.count


def from_list(
    rows: list[Any],
    src: Located,
    base: KeyPath,
    scope: MetricScope,
    columns: ColumnMap | None = None,
) -> CaseSource:
    """Cases written inline in the suite (or read whole from a JSON or YAML file)."""
    issues: list[Issue] = []
    cases: list[Case] = []
    mapping = columns or ColumnMap()
    for i, written in enumerate(rows):
        pos = src.pos((*base, i))
        row = mapping.apply(written, src.file, pos.line if pos else None, issues)
        if row is None:
            continue
        if row is not written:  # mapped: errors point at the row, not into a shape it lacks
            row_src = Located(src.file, row)
            if pos is not None:
                row_src.values[()] = pos
            case = row_to_case(row, i, row_src, (), issues, scope)
        else:
            case = row_to_case(row, i, src, (*base, i), issues, scope)
        if case is not None:
            cases.append(case)
        if len(issues) >= MAX_ISSUES:
            break
    _check(cases, src, base, issues)
    return CaseSource(src.file, len(cases), _var_names(cases), lambda: iter(cases))


def _var_names(cases: list[Case]) -> list[str]:
    names: dict[str, None] = {}
    for case in cases:
        names.update(dict.fromkeys(case.vars))
    return list(names)


def _check(cases: list[Case], src: Located, base: KeyPath, issues: list[Issue]) -> None:
    seen: dict[str, int] = {}
    for i, case in enumerate(cases):
        if case.id in seen:
            issues.append(
                src.issue(
                    (*base, i),
                    f"duplicate case id '{case.id}' (also case {seen[case.id] + 1}); "
                    "give every case its own id",
                )
            )
        seen.setdefault(case.id, i)
    if not cases and not issues:
        issues.append(src.issue(base, "the dataset has no cases; add at least one"))
    if issues:
        raise SuiteError(issues[:MAX_ISSUES])


def from_file(
    path: Path,
    shown: str,
    scope: MetricScope,
    columns: ColumnMap | None = None,
    limit: int | None = None,
) -> CaseSource:
    """Cases from a file; the format comes from its extension. ``limit``: the first N rows."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SuiteError.one(
            shown,
            f"unknown dataset format '{path.suffix}'; use .csv, .jsonl, .json, .yaml, .yml "
            "or .parquet",
        )
    if fmt == "parquet":
        from promptbench.suite import parquet

        rows = parquet.rows(path, shown, columns or ColumnMap())
        return from_rows(_limited(rows, limit), shown, shown, scope, columns, unit="row")
    if fmt in ("json", "yaml"):
        size = path.stat().st_size
        if size > MAX_WHOLE_FILE_BYTES:
            raise SuiteError.one(
                shown,
                f"the file is {size / 1e6:,.1f} MB, over the limit of "
                f"{MAX_WHOLE_FILE_BYTES // 1_000_000} MB for .{fmt} datasets, which are read "
                "whole; write the cases as .jsonl or .csv, which are streamed",
            )
        text = _read_text(path, shown)
        if fmt == "json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SuiteError.one(
                    shown, f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno
                ) from None
            except RecursionError:
                raise SuiteError.one(shown, TOO_DEEP) from None
            src = Located(shown, data)
        else:
            src = load_yaml(text, shown)
        data = src.data
        if isinstance(data, dict) and isinstance(data.get("cases"), list):
            return from_list(data["cases"][:limit], src, ("cases",), scope, columns)
        if not isinstance(data, list):
            raise SuiteError.one(shown, "a dataset file holds a list of cases (or {cases: [...]})")
        return from_list(data[:limit], src, (), scope, columns)
    reader = _jsonl_rows if fmt == "jsonl" else _csv_rows
    rows = _limited(lambda issues: reader(path, shown, issues), limit)
    return from_rows(rows, shown, shown, scope, columns)


RowReader = Callable[[list[Issue]], Iterator[tuple[int, Any, Located]]]


def _limited(reader: RowReader, limit: int | None) -> RowReader:
    if limit is None:
        return reader
    return lambda issues: itertools.islice(reader(issues), limit)


def from_rows(
    reader: RowReader,
    shown: str,
    origin: str,
    scope: MetricScope,
    columns: ColumnMap | None = None,
    *,
    unit: str = "line",
    note: str | None = None,
) -> CaseSource:
    """Cases from a stream of rows, each with its line (or row number) and a Located for errors.

    ``reader(issues)`` starts the stream again each time it is called; parse problems
    go to ``issues``. One pass validates, counts and collects var names. A dataset of
    up to KEEP_IN_MEMORY cases is kept from it (it is read several times: checked,
    rendered, run); a larger one is streamed from its source each time, so that
    memory stays flat however large it is.
    """
    mapping = columns or ColumnMap()
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    hashed = IdHashes()  # past KEEP_IN_MEMORY cases: ids as 8-byte hashes, not strings
    names: dict[str, None] = {}
    kept: list[Case] | None = []
    count = 0
    for line, raw, src in reader(issues):
        row = mapping.apply(raw, shown, line if unit == "line" else None, issues)
        case = None if row is None else row_to_case(row, count, src, (), issues, scope)
        count += 1
        if kept is not None and case is not None:
            kept.append(case)
            if len(kept) > KEEP_IN_MEMORY:
                kept = None
        if case is not None:
            if hashed:
                hashed.add(case.id)
            elif case.id in seen:
                issues.append(_duplicate(src.file, case.id, seen[case.id], line, unit))
            else:
                seen[case.id] = line
                if len(seen) > KEEP_IN_MEMORY:
                    hashed.extend(seen)
                    seen.clear()
            names.update(dict.fromkeys(case.vars))
        if len(issues) >= MAX_ISSUES:
            break
    if hashed and not issues:
        twice = hashed.repeated()
        if twice:  # rare: find which ids, and where, in a second pass over those alone
            issues += _duplicates(reader, mapping, shown, unit, scope, twice)
    if not count and not issues:
        issues.append(Issue(shown, "the dataset has no cases; add at least one"))
    if issues:
        raise SuiteError(issues[:MAX_ISSUES])
    if kept is not None:
        cases = kept
        return CaseSource(origin, count, list(names), lambda: iter(cases), note)

    def stream() -> Iterator[Case]:
        errors: list[Issue] = []
        for i, (line, raw, src) in enumerate(reader(errors)):
            row = mapping.apply(raw, shown, line if unit == "line" else None, errors)
            case = None if row is None else row_to_case(row, i, src, (), errors, scope)
            if case is None or errors:  # the data changed under the run
                raise SuiteError(errors or [Issue(shown, "the dataset changed during the run")])
            yield case

    return CaseSource(origin, count, list(names), stream, note)


def _duplicate(file: str, case_id: str, first: int, line: int, unit: str) -> Issue:
    return Issue(
        file,
        f"duplicate case id '{case_id}' (also at {unit} {first}); give every case its own id",
        line=line if unit == "line" else None,
    )


def _duplicates(
    reader: RowReader,
    mapping: ColumnMap,
    shown: str,
    unit: str,
    scope: MetricScope,
    twice: set[int],
) -> list[Issue]:
    """The duplicate ids among those whose hash came twice (a collision is no duplicate)."""
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for i, (line, raw, src) in enumerate(reader([])):
        row = mapping.apply(raw, shown, line if unit == "line" else None, [])
        case = None if row is None else row_to_case(row, i, src, (), [], scope)
        if case is None or id_hash(case.id) not in twice:
            continue
        if case.id in first:
            issues.append(_duplicate(src.file, case.id, first[case.id], line, unit))
            if len(issues) >= MAX_ISSUES:
                break
        else:
            first[case.id] = line
    return issues


def id_hash(case_id: str) -> int:
    """A case id as a signed 64-bit hash, the same in every process (unlike ``hash``)."""
    digest = hashlib.blake2b(case_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class IdHashes:
    """The ids of a large dataset, 8 bytes each, to find one given twice.

    A million ids as strings in a dict take over 100 MB; as hashes in an array, 8 MB.
    """

    def __init__(self) -> None:
        self._hashes = array("q")

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def add(self, case_id: str) -> None:
        self._hashes.append(id_hash(case_id))

    def extend(self, case_ids: Iterable[str]) -> None:
        self._hashes.extend(id_hash(c) for c in case_ids)

    def repeated(self) -> set[int]:
        """The hashes that came more than once."""
        import numpy as np  # pandas' dependency: sorts 8-byte ints without a Python object each

        ordered = np.sort(np.frombuffer(self._hashes, dtype=np.int64))
        same = ordered[1:] == ordered[:-1]
        return {int(h) for h in ordered[1:][same]}


def _read_text(path: Path, shown: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError.one(shown, f"cannot read the file: {exc.strerror}") from None
    return _decode(data, shown)


def _decode(data: bytes, shown: str, first_line: int = 1) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + data[: exc.start].count(b"\n")
        raise SuiteError.one(
            shown,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            line=line,
        ) from None


def _jsonl_rows(path: Path, shown: str, issues: list[Issue]) -> Iterator[tuple[int, Any, Located]]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            text = _decode(raw, shown, n).strip()
            if not text:
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                issues.append(Issue(shown, f"invalid JSON: {exc.msg}", line=n, column=exc.colno))
                continue
            except RecursionError:
                issues.append(Issue(shown, TOO_DEEP, line=n))
                continue
            yield n, row, _row_src(shown, n, row)


def _csv_rows(path: Path, shown: str, issues: list[Issue]) -> Iterator[tuple[int, Any, Located]]:
    with path.open("rb") as raw:
        # Decoded line by line (as newline="" would split them), so a bad byte names its line.
        lines = (_decode(b, shown, n) for n, b in enumerate(raw, start=1))
        done = 0  # the lines before the row being read
        try:
            reader = csv.reader(lines, strict=True)
            header = next(reader, None)
            if header is None:
                return
            if any(not h.strip() for h in header) or len(set(header)) != len(header):
                issues.append(
                    Issue(shown, "the header row needs unique, non-empty column names", line=1)
                )
                return
            done = reader.line_num
            for row in reader:
                line = reader.line_num
                if row and len(row) != len(header):
                    issues.append(
                        Issue(
                            shown,
                            f"row has {len(row)} fields but the header has "
                            f"{len(header)}; quote fields that contain commas",
                            line=line,
                        )
                    )
                elif row:
                    data = dict(zip(header, row, strict=True))
                    yield line, data, _row_src(shown, line, data)
                done = reader.line_num
        except csv.Error as exc:
            issues.append(Issue(shown, _csv_problem(exc), line=done + 1))


def _csv_problem(exc: csv.Error) -> str:
    """What a CSV parse error means, and what to do."""
    text = str(exc)
    if "unexpected end of data" in text:
        return "CSV error: a quoted field in this row is never closed; close its quote"
    if "field larger than field limit" in text:
        return (
            f"CSV error: a field in this row is longer than {csv.field_size_limit():,} "
            "characters; keep long texts in a JSONL dataset"
        )
    return f"CSV error: {text}; quote fields that contain commas, quotes or line breaks"


def _row_src(shown: str, line: int, row: Any) -> Located:
    """A Located for one row: every field error points at the row's line."""
    src = Located(shown, row)
    src.values[()] = Pos(line, 1)
    return src


__all__ = ["CaseSource", "ColumnMap", "format_path", "from_file", "from_list", "from_rows"]
