"""Proven against promptfoo itself: the same verdicts from both tools, config by config.

Each config in ``configs/`` is run by promptfoo (installed from npm at a pinned
version) against the loopback server, imported with ``promptbench import
promptfoo``, run by promptbench against the same server with the same scripted
answers, and promptfoo's results are imported with ``import promptfoo-results``.
Then for every record both runs have, every assertion that both tools judge
deterministically gets the same pass or fail, and so does every case whose
assertions are all of that kind and all converted.

Without promptfoo (no npm, no network) the tests skip; in CI (``CI`` set) they fail.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptbench.importers.promptfoo_asserts import (
    AssertContext,
    convert,
    flatten,
    is_deterministic,
)
from promptbench.importers.promptfoo_config import convert_config, read_config
from promptbench.suite import load_suite
from tests.helpers.e2e import by_key, invoke, no_traceback, records
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project
from tests.helpers.promptfoo import (
    CONFIGS,
    GRADER_REPLY,
    prepare,
    promptfoo_bin,
    run_promptfoo,
)

pytestmark = pytest.mark.slow

# Metrics that need a model, embeddings, or a price for an unknown server: not compared.
NOT_DETERMINISTIC = {"judge", "closedqa", "factuality", "semantic_similarity", "cost"}
RUN_BY_PROMPTFOO = sorted(
    p.name for p in CONFIGS.iterdir() if p.is_dir() and (p / "server.json").exists()
)


@pytest.fixture(scope="module")
def promptfoo() -> Path:
    binary = promptfoo_bin()
    if binary is None:
        why = "promptfoo could not be installed from npm (is npm there, the registry reachable?)"
        if os.environ.get("CI"):
            pytest.fail(f"CI needs promptfoo for these tests: {why}")
        pytest.skip(why)
    return binary


@pytest.fixture(scope="module")
def grader() -> Iterator[LoopbackServer]:
    """A second server for graders: every answer is a passing verdict."""
    with LoopbackServer.start(default_reply=GRADER_REPLY) as srv:
        yield srv


def test_at_least_ten_configs() -> None:
    assert len(RUN_BY_PROMPTFOO) >= 10, RUN_BY_PROMPTFOO


def _kinds(suite_path: Path) -> dict[tuple[str, str, str], tuple[str, bool]]:
    """(case, variant, metric name) -> (metric kind, whether it came from a python check)."""
    suite = load_suite(suite_path)
    out: dict[tuple[str, str, str], tuple[str, bool]] = {}
    for case in suite.iter_cases():
        for variant in suite.variants.values():
            for spec in suite.metrics_for(variant, case):
                out[(case.id, variant.name, spec.name)] = (spec.kind, spec.kind == "python")
    return out


def _comparable_cases(config: Path, suite_path: Path) -> set[str]:
    """Cases whose every assertion was converted and is judged from the output alone."""
    conversion = convert_config(read_config(config), config, suite_path, providers={"openai"})
    ctx = AssertContext(relative_path=str, grader=lambda spec: "grader")
    left_out: set[str] = set()
    for slot in conversion.slots:
        for a in flatten(slot.assertions):
            if convert(a, "", ctx).left_out or not is_deterministic(a):
                left_out.add(slot.case_id)
        for a in slot.assertions:  # a set with a threshold became separate metrics
            if isinstance(a, dict) and a.get("type") == "assert-set" and "threshold" in a:
                left_out.add(slot.case_id)
    return {slot.case_id for slot in conversion.slots} - left_out


def _compact(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {**m, "content": m["content"].replace('", "', '","').replace('": ', '":')} for m in messages
    ]


def compare(
    pf_records: list[dict[str, Any]],
    pb_records: list[dict[str, Any]],
    kinds: dict[tuple[str, str, str], tuple[str, bool]],
    cases_to_compare: set[str],
) -> dict[str, int]:
    """Assert equal verdicts; return how many assertions and cases were compared and passed."""
    pf, pb = by_key(pf_records), by_key(pb_records)
    assert set(pf) == set(pb), (sorted(set(pf) ^ set(pb)))[:10]
    counts = {"assertions": 0, "assertions_passed": 0, "cases": 0, "cases_passed": 0}
    problems = []
    for key, a in pf.items():
        b = pb[key]
        case, variant = key[0], key[1]
        assert a["error"] is None and b["error"] is None, (key, a["error"], b["error"])
        # The imported templates render what promptfoo's rendered, message for message;
        # but for nunjucks's dump made Jinja2's tojson, which spaces JSON out.
        if _compact(a["messages"]) != _compact(b["messages"]):
            problems.append(f"{key}: promptfoo sent {a['messages']}, promptbench {b['messages']}")
        for name, score in a["scores"].items():
            kind = kinds[(case, variant, name)][0]
            if kind in NOT_DETERMINISTIC:
                continue
            other = b["scores"][name]
            counts["assertions"] += 1
            counts["assertions_passed"] += bool(score["passed"])
            if score["passed"] != other["passed"]:
                problems.append(
                    f"{key} {name}: promptfoo {score['passed']} ({score['reason']}), "
                    f"promptbench {other['passed']} ({other['reason']}); output {a['output']!r}"
                )
        deterministic = all(
            kinds[(case, variant, n)][0] not in NOT_DETERMINISTIC for n in a["scores"]
        )
        if case in cases_to_compare and deterministic:
            counts["cases"] += 1
            counts["cases_passed"] += bool(a["passed"])
            if a["passed"] != b["passed"]:
                problems.append(f"{key}: case promptfoo {a['passed']}, promptbench {b['passed']}")
    assert not problems, "\n".join(problems)
    return counts


def import_and_run(
    name: str, binary: Path, project: Project, loopback: LoopbackServer, grader: LoopbackServer
) -> tuple[dict[str, Any], Path, dict[str, int], dict[str, Any]]:
    """promptfoo's run and promptbench's of config NAME, compared; returns the evidence."""
    prepared = prepare(name, project.root / "configs", loopback.url, grader.url)
    loopback.configure(rules=prepared.rules)
    pf_out = run_promptfoo(binary, prepared, project.root)

    suite_path = project.root / "suites" / f"{name}.yaml"
    imported = invoke("import", "promptfoo", str(prepared.config), "-o", str(suite_path), "--json")
    no_traceback(imported)
    report = json.loads(imported.stdout)
    assert report["invalid"] == [], report["invalid"]
    assert imported.exit_code == (1 if report["left_out"] else 0)

    ran = invoke("run", str(suite_path), "--no-cache", "--json", "-q")
    no_traceback(ran)
    assert ran.exit_code in (0, 1), ran.output
    pb_dir = Path(json.loads(ran.stdout)["run_dir"])

    stored = invoke(
        "import",
        "promptfoo-results",
        str(prepared.directory / "out.json"),
        "--suite",
        str(suite_path),
        "--config",
        str(prepared.config),
        "--json",
    )
    no_traceback(stored)
    assert stored.exit_code == 0, stored.output
    pf_dir = Path(json.loads(stored.stdout)["run_dir"])

    # diff pairs the two runs case by case: every group and case is on both sides.
    diffed = invoke("diff", str(pf_dir), str(pb_dir), "--json")
    no_traceback(diffed)
    assert diffed.exit_code == 0, diffed.output
    comparison = json.loads(diffed.stdout)
    assert comparison["unmatched_a"] == [] and comparison["unmatched_b"] == []
    assert comparison["pairs"]
    for pair in comparison["pairs"]:
        assert pair["only_a"] == pair["only_b"] == [], pair["label"]
        assert pair["cases_a"] == pair["cases_b"] > 0

    counts = compare(
        records(pf_dir),
        records(pb_dir),
        _kinds(suite_path),
        _comparable_cases(prepared.config, suite_path),
    )
    return pf_out, suite_path, counts, report


def _component(pf_out: dict[str, Any], description: str, kind: str) -> list[dict[str, Any]]:
    """promptfoo's results of the assertions of type ``kind`` in the test ``description``."""
    found = []
    for result in pf_out["results"]["results"]:
        if (result.get("testCase") or {}).get("description") != description:
            continue
        for comp in result["gradingResult"]["componentResults"]:
            if (comp.get("assertion") or {}).get("type") == kind:
                found.append(comp)
    assert found, (description, kind)
    return found


def _csv_levenshtein(pf_out: dict[str, Any]) -> None:
    # promptfoo's docs give CSV cells as type:value with no threshold, and a YAML
    # levenshtein defaults to 5 edits; promptfoo 0.121 gives a CSV levenshtein a
    # threshold of 0.75, so "1000 mL" against "1000 ml" (one edit) fails.
    for comp in _component(pf_out, "litre with typo", "levenshtein"):
        assert comp["assertion"]["threshold"] == 0.75
        assert comp["pass"] is False


def _levenshtein_at_threshold(pf_out: dict[str, Any]) -> None:
    # The docs: "levenshtein: Levenshtein distance is below a threshold". promptfoo
    # passes a distance equal to the threshold (two edits, threshold 2).
    comps = [
        c
        for c in _component(pf_out, "close to the reference", "levenshtein")
        if c["assertion"].get("threshold") == 2
    ]
    assert comps and all(c["pass"] is True for c in comps)


# Where promptfoo's behaviour differs from its documentation, checked on its own results.
DIFFERS_FROM_DOCS = {"03-csv": _csv_levenshtein, "08-scores": _levenshtein_at_threshold}


@pytest.mark.parametrize("name", RUN_BY_PROMPTFOO)
def test_same_verdicts_as_promptfoo(
    name: str, promptfoo: Path, project: Project, loopback: LoopbackServer, grader: LoopbackServer
) -> None:
    pf_out, _, counts, _ = import_and_run(name, promptfoo, project, loopback, grader)
    if name in DIFFERS_FROM_DOCS:
        DIFFERS_FROM_DOCS[name](pf_out)
    # A comparison of all-pass or all-fail verdicts would prove little: each config
    # has both, and compares something.
    assert counts["assertions"] > 0
    assert 0 < counts["assertions_passed"] < counts["assertions"], counts
