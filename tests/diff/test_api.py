"""``promptbench.compare`` returns what ``diff --json`` prints; diff's options are checked once."""

from __future__ import annotations

import json

import pytest

import promptbench
from promptbench.diff import DiffOptions, DiffResult
from promptbench.errors import UsageError
from tests.helpers.e2e import echo_suite, invoke, latest_run, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


@pytest.fixture
def two_runs(project: Project, loopback: LoopbackServer) -> tuple[str, str]:
    """Two runs of a two-variant suite; in the second, variant b answers every case wrongly."""
    suite = echo_suite(
        loopback.url,
        cases=qa_cases(12, "c"),
        prompts={"a": "Q: {{ q }}", "b": "A: {{ q }}"},
        metrics=[{"icontains": "{{ q }}"}],
        gate={"regression": {"metric": "icontains", "margin": 0.1}},
    )
    path = str(project.suite(suite))
    assert invoke("run", path, "-q").exit_code == 0
    first = latest_run(project).name
    loopback.configure(rules=[{"match": "A: ", "reply": "no idea"}])
    assert invoke("run", path, "-q", "--no-cache").exit_code == 0
    return first, latest_run(project).name


def test_compare_within_one_run_is_what_diff_json_prints(two_runs: tuple[str, str]) -> None:
    _, second = two_runs
    result = promptbench.compare(second, variants=("a", "b"))
    assert isinstance(result, DiffResult)
    printed = invoke("diff", second, "--variants", "a", "b", "--json")
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == result.to_json()
    assert result.count("worse") > 0  # the comparison found the drop: not an empty equality


def test_compare_with_the_regression_gate_is_what_diff_json_prints(
    two_runs: tuple[str, str],
) -> None:
    first, second = two_runs
    result = promptbench.compare(first, second, fail_on_regression=True)
    assert result.regression is not None and not result.regression.passed
    printed = invoke("diff", first, second, "--fail-on-regression", "--json")
    assert printed.exit_code == 1
    assert json.loads(printed.stdout) == result.to_json()
    assert "regression" in result.to_json()
    assert "regression" not in promptbench.compare(first, second).to_json()


@pytest.mark.parametrize("alpha", [0.0, -0.1, 0.51, 2.0])
def test_alpha_is_checked_once_with_one_limit(two_runs: tuple[str, str], alpha: float) -> None:
    first, second = two_runs
    cli = invoke("diff", first, second, "--alpha", str(alpha))
    assert cli.exit_code == 2
    assert "--alpha:" in cli.output and "Traceback" not in cli.output
    with pytest.raises(UsageError, match="alpha"):
        promptbench.compare(first, second, alpha=alpha)
    with pytest.raises(ValueError, match="alpha"):
        DiffOptions(alpha=alpha)


def test_the_highest_alpha_allowed_is_accepted_everywhere(two_runs: tuple[str, str]) -> None:
    first, second = two_runs
    assert invoke("diff", first, second, "--alpha", "0.5").exit_code == 0
    assert promptbench.compare(first, second, alpha=0.5).alpha == 0.5


def test_options_of_diff_are_a_strict_model() -> None:
    with pytest.raises(ValueError, match="extra"):
        DiffOptions(alhpa=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="not both"):
        DiffOptions(variants=("a", "b"), models=("x", "y"))
    with pytest.raises(ValueError, match="with itself"):
        DiffOptions(variants=("a", "a"))
    with pytest.raises(UsageError, match="alhpa"):
        promptbench.compare("latest", alhpa=0.1)


@pytest.mark.parametrize("detect", ["0", "1.5"])
def test_detect_is_checked_by_the_same_model(two_runs: tuple[str, str], detect: str) -> None:
    first, second = two_runs
    cli = invoke("diff", first, second, "--detect", detect)
    assert cli.exit_code == 2
    assert "--detect:" in cli.output and "Traceback" not in cli.output
    with pytest.raises(UsageError, match="detect"):
        promptbench.compare(first, second, detect=float(detect))
