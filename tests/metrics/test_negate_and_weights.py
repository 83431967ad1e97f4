"""``not_`` negates any metric; weights and case thresholds decide a case's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from promptbench.errors import SuiteError
from promptbench.suite import load_suite
from tests.helpers.e2e import run
from tests.helpers.project import Project


def suite(project: Project, metrics: list[Any], **extra: Any) -> Any:
    return project.suite(
        {
            "name": "neg",
            "prompts": {"p": "{{ q }}"},
            "models": {
                "m": {
                    "provider": "mock",
                    "answers": {"one": "Sorry, I cannot.", "two": "Here it is: 42"},
                }
            },
            "cases": extra.pop("cases", [{"id": "one", "q": "one"}, {"id": "two", "q": "two"}]),
            "metrics": metrics,
            **extra,
        }
    )


def test_not_inverts_value_and_verdict(project: Project) -> None:
    run(suite(project, [{"not_": {"icontains": "sorry"}}, {"icontains": "sorry"}]))
    got = {r["case_id"]: r["scores"] for r in project.records()}
    assert got["one"]["not_icontains"]["passed"] is False
    assert got["one"]["not_icontains"]["value"] == 0.0
    assert got["one"]["icontains"]["passed"] is True
    assert got["two"]["not_icontains"]["passed"] is True
    assert got["two"]["not_icontains"]["reason"] == "not (missing 'sorry')"


def test_not_keeps_errors_as_errors(project: Project) -> None:
    project.write("suites/checks.py", "def boom(output):\n    raise ValueError('no')\n")
    run(suite(project, [{"not_": {"python": "checks.py:boom"}}]))
    score = project.records()[0]["scores"]["not_python"]
    assert score["passed"] is None and score["error"] == "ValueError: no"


def test_not_not_is_refused(project: Project) -> None:
    with pytest.raises(SuiteError, match="not_ inside not_"):
        load_suite(suite(project, [{"not_": {"not_": {"contains": "x"}}}]))


def test_weighted_case_threshold(project: Project) -> None:
    metrics = [
        {"contains": {"value": "42", "weight": 3}},
        {"icontains": {"value": "here", "weight": 1}},
        {"contains": {"value": "never", "weight": 1, "name": "never"}},
    ]
    # two: 42 yes (3) + here yes (1) + never no (1) = 4/5 = 0.8
    run(suite(project, metrics, threshold=0.8))
    two = next(r for r in project.records() if r["case_id"] == "two")
    assert two["passed"] is True
    run(suite(project, metrics, threshold=0.85))
    two = next(r for r in project.records() if r["case_id"] == "two")
    assert two["passed"] is False
    # Without a threshold every metric must pass.
    run(suite(project, metrics))
    two = next(r for r in project.records() if r["case_id"] == "two")
    assert two["passed"] is False


def test_per_case_threshold_overrides_the_suite(project: Project) -> None:
    cases = [{"id": "two", "vars": {"q": "two"}, "threshold": 0.5}]
    run(
        suite(
            project,
            [{"contains": "42"}, {"contains": {"value": "never", "name": "n"}}],
            cases=cases,
            threshold=0.9,
        )
    )
    assert project.records()[0]["passed"] is True


def test_per_variant_metrics(project: Project) -> None:
    path = project.suite(
        {
            "name": "pv",
            "prompts": {
                "a": {"user": "{{ q }}", "metrics": [{"contains": "42"}]},
                "b": {"user": "{{ q }}"},
            },
            "models": {"m": {"provider": "mock", "answers": {"two": "42"}}},
            "cases": [{"id": "two", "q": "two"}],
            "metrics": ["json_valid"],
        }
    )
    run(path)
    by_variant = {r["variant"]: set(r["scores"]) for r in project.records()}
    assert by_variant == {"a": {"json_valid", "contains"}, "b": {"json_valid"}}
