"""promptfoo's tests: read from the config or from files, and expanded as promptfoo expands them.

promptfoo numbers what it runs: for each test (inline and file tests first, then
every scenario's config × tests), for each repeat, for each combination of its
array vars, one ``testIdx``. :func:`expand` walks the same order, so the results
importer can map a result's ``testIdx`` back to the imported case and repeat.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.importers.promptfoo_asserts import ASSERTION_TYPES, LeftOut, split_values

__all__ = ["Loaded", "Test", "expand", "from_csv_row", "load_tests", "var_combinations"]

_SPECIAL_ASSERT_PREFIXES = (
    ("javascript:", "javascript"),
    ("fn:", "javascript"),
    ("eval:", "javascript"),
    ("grade:", "llm-rubric"),
    ("llm-rubric:", "llm-rubric"),
    ("python:", "python"),
)
# The CSV types that promptfoo gives a default threshold of 0.75 (similar: 0.8).
_CSV_THRESHOLD_TYPES = {
    "answer-relevance",
    "classifier",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "cost",
    "latency",
    "levenshtein",
    "perplexity-score",
    "perplexity",
    "rouge-n",
    "similar",
    "starts-with",
}


@dataclass
class Test:
    """One promptfoo test as promptfoo holds it, and where it came from."""

    data: dict[str, Any]
    where: str


@dataclass
class Loaded:
    """Tests read from a config's ``tests``, and what could not be read."""

    tests: list[Test] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def assertion_from_string(expected: str) -> dict[str, Any]:
    """A CSV ``__expected`` cell as an assertion, read as promptfoo 0.121 reads it.

    ``contains:foo``, ``not-icontains:bar``, ``levenshtein(3):text``, ``grade:rubric``,
    ``python:expr``, ``javascript:expr``; anything else means ``equals``.
    """
    import re

    for prefix, kind in _SPECIAL_ASSERT_PREFIXES:
        if expected.startswith(prefix):
            return {"type": kind, "value": expected[len(prefix) :].strip()}
    if expected.startswith("file://") and (expected.endswith(".py") or ".py:" in expected):
        return {"type": "python", "value": expected.removeprefix("file://").strip()}
    pattern = r"^(not-)?(" + "|".join(re.escape(t) for t in sorted(ASSERTION_TYPES))
    pattern += r")(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$"
    match = re.match(pattern, expected)
    if not match:
        return {"type": "equals", "value": expected}
    negate, kind, threshold, value = match.groups()
    full = f"not-{kind}" if negate else kind
    out: dict[str, Any] = {"type": full}
    if kind in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        out["value"] = split_values(value) if value else value
    elif kind in ("is-json", "contains-json"):
        out["value"] = value
    else:
        out["value"] = value.strip() if value is not None else None
    if kind in _CSV_THRESHOLD_TYPES:
        # Documented nowhere: a CSV levenshtein or starts-with gets 0.75 (similar 0.8), so a
        # CSV "levenshtein:text" allows 0 edits, not the 5 of a YAML one.
        out["threshold"] = float(threshold) if threshold else (0.8 if kind == "similar" else 0.75)
    if out.get("value") is None:
        del out["value"]
    return out


def from_csv_row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a promptfoo test: ``__expected*``, ``__description``, ``__metric``, ..."""
    vars_: dict[str, Any] = {}
    asserts: list[dict[str, Any]] = []
    test: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    metric = None
    for raw_key, cell in row.items():
        key = (raw_key or "").strip()
        value = cell or ""
        if key.startswith("__expected"):
            if value.strip():
                asserts.append(assertion_from_string(value.strip()))
        elif key == "__description":
            test["description"] = value
        elif key == "__metric":
            metric = value
        elif key == "__threshold":
            with contextlib.suppress(ValueError):
                test["threshold"] = float(value)
        elif key in ("__prefix", "__suffix"):
            test.setdefault("options", {})[key[2:]] = value
        elif key.startswith("__metadata:"):
            if value.strip():
                metadata[key.removeprefix("__metadata:").removesuffix("[]")] = value
        elif key.startswith("__"):
            test.setdefault("unknown_columns", []).append(key)
        else:
            vars_[key] = value
    if metric:
        for a in asserts:
            a["metric"] = metric
    test["vars"] = vars_
    test["assert"] = asserts
    if metadata:
        test["metadata"] = metadata
    return test


def _read_file(path: Path, where: str, out: Loaded) -> None:
    import yaml

    out.files.append(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                out.tests.append(Test(from_csv_row(row), f"{path.name}: row {i + 2}"))
        return
    if suffix in (".jsonl", ".ndjson"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.strip():
                out.tests.append(Test(json.loads(line), f"{path.name}: line {i + 1}"))
        return
    if suffix in (".json", ".yaml", ".yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            out.tests.append(Test(item, f"{path.name}: [{i}]"))
        return
    out.left_out.append(
        LeftOut(
            where,
            f"tests from {path.name}",
            "tests generated by code or read from this format are not imported; "
            "export them as CSV, JSONL or YAML",
        )
    )


def _paths(spec: str, base: Path) -> list[Path]:
    pattern = spec.removeprefix("file://")
    if any(c in pattern for c in "*?["):
        # promptfoo takes a glob's files in the order the file system gives; sorted here.
        return [Path(p) for p in sorted(glob.glob(str(base / pattern), recursive=True))]
    return [base / pattern]


def load_tests(spec: Any, base: Path, where: str) -> Loaded:
    """Every test a config's ``tests`` (or a scenario's) names: inline, files, globs."""
    out = Loaded()
    items = spec if isinstance(spec, list) else [spec]
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(spec, list) else where
        if isinstance(item, dict):
            out.tests.append(Test(item, at))
        elif isinstance(item, str):
            paths = _paths(item, base)
            if not paths:
                out.left_out.append(LeftOut(at, f"no file matches {item}", "check the path"))
            for path in paths:
                if path.suffix in (".py", ".js", ".ts") or ":" in path.name:
                    out.left_out.append(
                        LeftOut(at, f"tests generated by {path.name}", "write them to a file")
                    )
                elif not path.is_file():
                    out.left_out.append(LeftOut(at, f"{item}: file not found", "check the path"))
                else:
                    _read_file(path, at, out)
        else:
            out.left_out.append(LeftOut(at, "a test that is not a mapping", "remove it"))
    return out


def var_combinations(vars_: dict[str, Any], base: Path) -> list[dict[str, Any]]:
    """Every combination of a test's array vars, in promptfoo's order.

    An array expands only when its first item is a string; a ``file://`` glob
    expands to one combination per file.
    """
    combos: list[dict[str, Any]] = [{}]
    for key, value in vars_.items():
        if isinstance(value, str) and value.startswith("file://"):
            values: list[Any] = [f"file://{p}" for p in sorted(glob.glob(value[7:], root_dir=base))]
            values = values or [value]
        elif isinstance(value, list) and value and isinstance(value[0], str):
            values = value
        else:
            values = [value]
        combos = [{**c, key: v} for c in combos for v in values]
    return combos


def expand(
    tests: list[Test], scenarios: list[Any], default: dict[str, Any], where: str
) -> list[Test]:
    """Tests then scenario tests, merged as promptfoo merges them (before defaultTest)."""
    out = list(tests) if tests or not scenarios else []
    if not tests and not scenarios:
        out = [Test({}, "tests")]
    for s, scenario in enumerate(scenarios):
        if not isinstance(scenario, dict):
            continue
        for c, data in enumerate(scenario.get("config") or []):
            for t, test in enumerate(scenario.get("tests") or [{}]):
                merged = {
                    **default,
                    **data,
                    **test,
                    "vars": {**(data.get("vars") or {}), **(test.get("vars") or {})},
                    "options": {**(data.get("options") or {}), **(test.get("options") or {})},
                    "assert": [*(data.get("assert") or []), *(test.get("assert") or [])],
                    "metadata": {**(data.get("metadata") or {}), **(test.get("metadata") or {})},
                }
                for k in ("vars", "options", "metadata"):
                    if not merged[k]:
                        del merged[k]
                at = f"{where}[{s}].config[{c}] × tests[{t}]"
                out.append(Test(merged, at))
    return out
