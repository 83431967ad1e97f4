"""A user's own function as a metric: ``python: checks.py:fn``."""

from __future__ import annotations

import pytest

from promptbench.errors import SuiteError
from promptbench.suite import load_suite
from tests.helpers.e2e import run
from tests.helpers.project import Project

CHECKS = """
from promptbench.types import Score

def has_digit(output):
    return any(c.isdigit() for c in output)

def ratio(output, expected):
    return len(output) / max(len(output), len(expected))

def with_reason(output, vars, args):
    return output.startswith(args["prefix"]), f"wanted {args['prefix']!r} for {vars['q']}"

def as_dict(output):
    return {"score": 0.25, "reason": "a quarter"}

def as_score(output):
    return Score("x", 1.0, True, "full")

async def is_async(output):
    return True

def boom(output):
    raise RuntimeError("kaboom")

def wrong_type(output):
    return "yes"
"""


def suite(project: Project, metric: object, **extra: object) -> object:
    project.write("suites/checks.py", CHECKS)
    return project.suite(
        {
            "name": "py",
            "prompts": {"p": "{{ q }}"},
            "models": {"m": {"provider": "mock", "answers": {"one": "Answer 1", "two": "answer"}}},
            "cases": [
                {"id": "one", "q": "one", "expected": "Answer 1"},
                {"id": "two", "q": "two", "expected": "Answer 2"},
            ],
            "metrics": [metric],
            **extra,
        }
    )


def scores(project: Project, name: str) -> dict[str, dict[str, object]]:
    return {r["case_id"]: r["scores"][name] for r in project.records()}


def test_bool_function(project: Project) -> None:
    run(suite(project, {"python": "checks.py:has_digit"}))  # type: ignore[arg-type]
    got = scores(project, "python")
    assert got["one"]["passed"] is True and got["one"]["value"] == 1.0
    assert got["two"]["passed"] is False and got["two"]["value"] == 0.0


def test_float_with_threshold_and_expected(project: Project) -> None:
    run(suite(project, {"python": {"ref": "checks.py:ratio", "threshold": 0.9}}))  # type: ignore[arg-type]
    got = scores(project, "python")
    assert got["one"]["value"] == 1.0 and got["one"]["passed"] is True
    assert got["two"]["value"] == pytest.approx(6 / 8) and got["two"]["passed"] is False


def test_tuple_reason_vars_and_args(project: Project) -> None:
    run(suite(project, {"python": {"ref": "checks.py:with_reason", "args": {"prefix": "Ans"}}}))  # type: ignore[arg-type]
    got = scores(project, "python")
    assert got["one"] == {"value": 1.0, "passed": True, "reason": "wanted 'Ans' for one"}
    assert got["two"]["passed"] is False


@pytest.mark.parametrize(
    ("fn", "value", "passed", "reason"),
    [
        ("as_dict", 0.25, False, "a quarter"),
        ("as_score", 1.0, True, "full"),
        ("is_async", 1.0, True, ""),
    ],
)
def test_other_return_shapes(
    project: Project, fn: str, value: float, passed: bool, reason: str
) -> None:
    run(suite(project, {"python": {"ref": f"checks.py:{fn}", "name": "mine"}}))  # type: ignore[arg-type]
    got = scores(project, "mine")["one"]
    assert (got["value"], got["passed"], got["reason"]) == (value, passed, reason)


@pytest.mark.parametrize(
    ("fn", "error"),
    [
        ("boom", "RuntimeError: kaboom"),
        ("wrong_type", "metric returned str; return a bool, a float or a Score"),
    ],
)
def test_raising_or_wrong_answer_is_an_error_verdict(project: Project, fn: str, error: str) -> None:
    run(suite(project, {"python": f"checks.py:{fn}"}))  # type: ignore[arg-type]
    got = scores(project, "python")["one"]
    assert got["passed"] is None and got["error"] == error
    assert project.records()[0]["passed"] is None


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope.py:f", "file 'nope.py' not found"),
        ("checks.py:missing", "checks.py has no function 'missing'; it has: Score, as_dict"),
        ("checks.py", "write the function as file.py:function_name"),
    ],
)
def test_bad_references_stop_the_suite_loading(project: Project, ref: str, message: str) -> None:
    path = suite(project, {"python": ref})
    with pytest.raises(SuiteError) as info:
        load_suite(path)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "metrics[0].python" in str(info.value)


def test_a_file_that_fails_to_import_is_a_suite_error(project: Project) -> None:
    path = suite(project, {"python": "broken.py:f"})
    project.write("suites/broken.py", "import does_not_exist_anywhere\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)  # type: ignore[arg-type]
    assert "broken.py: importing it raised ModuleNotFoundError" in str(info.value)


def test_loading_user_code_writes_no_bytecode_into_the_project(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as in a plain interpreter
    path = suite(project, {"python": "checks.py:has_digit"})
    project.write("suites/checks.py", CHECKS + "\n# fresh\n")  # not imported before
    load_suite(path)  # type: ignore[arg-type]
    assert not (project.root / "suites" / "__pycache__").exists()
    assert sys.dont_write_bytecode is False  # restored
