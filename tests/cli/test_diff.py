"""``promptbench diff`` on real runs: the loopback server (and the mock provider) answer.

Variant ``a`` asks ``Q: qN`` and the server echoes it, which ``exact`` accepts. Variant
``b`` asks ``Say Q: qN``; its echo fails unless a rule makes the server answer ``Q: qN``.
So rules script exactly which cases flip.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.e2e import echo_suite, invoke, latest_run, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


def two_variants(url: str, n: int = 6, **extra: Any) -> dict[str, Any]:
    return echo_suite(
        url, prompts={"a": "Q: {{ q }}", "b": "Say Q: {{ q }}"}, cases=qa_cases(n), **extra
    )


def script_b(loopback: LoopbackServer, b_right: range, a_wrong: tuple[str, ...] = ()) -> None:
    """B answers right on ``b_right`` (1-based); A answers wrong on ``a_wrong``."""
    rules: list[dict[str, Any]] = [
        {"match": f"Say Q: q{i}", "reply": f"Q: q{i}"} for i in b_right
    ]  # first match wins: B's rules before A's, as "Q: q3" is inside "Say Q: q3"
    rules += [{"match": f"Q: {c}", "reply": "no idea"} for c in a_wrong]
    loopback.configure(rules=rules)


@pytest.fixture
def one_run(loopback: LoopbackServer, project: Project) -> Project:
    """One run: q1, q2 pass on a and fail on b; q3 fails on a and passes on b; q4-q6 pass."""
    script_b(loopback, range(3, 7), a_wrong=("q3",))
    result = invoke("run", str(project.suite(two_variants(loopback.url))), "-q")
    assert result.exit_code == 0, result.output
    return project


def test_variants_table_flips_outputs_and_word_diff(one_run: Project) -> None:
    result = invoke("diff", "--variants", "a", "b")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "A: a (run " in out and "B: b (run " in out
    assert "a × loop → b × loop" in out
    assert "pass_rate   83.3%   66.7%" in out  # 5/6 → 4/6
    assert "no detectable difference" in out  # 3 discordant cases prove nothing
    assert "paired cases: 6 · only in A: 0 · only in B: 0" in out
    assert "flipped cases: 2 pass → fail, 1 fail → pass" in out
    # Largest score change first (all ±1 here), then by case id.
    assert out.index("▼ q1") < out.index("▼ q2") < out.index("▲ q3")
    assert "why B fails: exact:" in out
    # Both outputs, and the word diff without colour (NO_COLOR): B inserted a word.
    assert "word diff: {+Say +}Q: q1" in out
    assert "word diff: [-no idea-]{+Q: q3+}" in out
    assert "to see a 5-point change in pass rate at 80% power you need ~" in out
    assert "0 worse, 0 better, 2 no detectable difference" in out


def test_only_and_limit_filter_the_report(one_run: Project) -> None:
    regressions = invoke("diff", "--variants", "a", "b", "--only", "regressions").stdout
    assert "▼ q1" in regressions and "▼ q2" in regressions and "▲ q3" not in regressions
    assert "no metric is worse" in regressions
    improvements = invoke("diff", "--variants", "a", "b", "--only", "improvements").stdout
    assert "▲ q3" in improvements and "▼" not in improvements
    flips = invoke("diff", "--variants", "a", "b", "--only", "flips").stdout
    assert "▼ q1" in flips and "▲ q3" in flips and "p (Holm)" not in flips
    limited = invoke("diff", "--variants", "a", "b", "--limit", "1").stdout
    assert "▼ q1" in limited and "▼ q2" not in limited and "showing 1 (--limit)" in limited


def test_json_is_the_whole_result(one_run: Project) -> None:
    result = invoke("diff", "--variants", "a", "b", "--json", "--only", "regressions")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "variants"
    assert (data["a"]["label"], data["b"]["label"]) == ("a", "b")
    assert data["alpha"] == 0.05 and data["correction"] == "holm"
    assert data["holm_family"] == 1  # pass_rate is exact case for case: one test
    (pair,) = data["pairs"]
    assert pair["a"] == {"variant": "a", "model": "loop"}
    assert [m["name"] for m in pair["metrics"]] == ["pass_rate", "exact"]
    rate = pair["metrics"][0]
    assert rate["mean_a"] == pytest.approx(5 / 6) and rate["mean_b"] == pytest.approx(4 / 6)
    assert rate["n_paired"] == 6 and rate["test"] == "mcnemar-exact"
    assert rate["verdict"] == "no detectable difference"
    # --only shapes the report for people; the JSON keeps everything.
    assert [(f["case_id"], f["direction"]) for f in pair["flips"]] == [
        ("q1", "regression"),
        ("q2", "regression"),
        ("q3", "improvement"),
    ]
    assert pair["flips"][0]["output_a"] == "Q: q1"
    assert pair["flips"][0]["output_b"] == "Say Q: q1"


def test_models_of_one_run(project: Project) -> None:
    suite = {
        "name": "models",
        "prompts": {"p": "Q: {{ q }}"},
        "models": {
            "good": {"provider": "mock"},  # echoes: passes exact
            "bad": {"provider": "mock", "answers": {"q2": "nope"}},
        },
        "cases": qa_cases(4),
        "metrics": [{"exact": "Q: {{ q }}"}],
    }
    assert invoke("run", str(project.suite(suite)), "-q").exit_code == 0
    result = invoke("diff", "--models", "good", "bad", "--json")
    assert result.exit_code == 0, result.output
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["label"] == "p × good → p × bad"
    assert [f["case_id"] for f in pair["flips"]] == ["q2"]
    assert pair["flips"][0]["output_b"] == "nope"


def test_run_against_run_by_directory_and_id_prefix_counts_unpaired(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(5)))
    assert invoke("run", str(path), "-q").exit_code == 0
    first = latest_run(project)
    loopback.configure(rules=[{"match": "q1", "reply": "wrong"}])
    second_result = invoke("run", str(path), "-q", "--no-cache", "-c", "q1", "-c", "q2", "-c", "q3")
    assert second_result.exit_code == 0
    second = latest_run(project)
    # The shortest prefix of B's id that is not one of A's: a unique prefix.
    prefix = next(
        second.name[:k] for k in range(1, 99) if not first.name.startswith(second.name[:k])
    )
    result = invoke("diff", str(first), prefix)
    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "paired cases: 3 · only in A: 2 (q4, q5) · only in B: 0" in result.stdout
    assert "▼ q1" in result.stdout
    data = json.loads(invoke("diff", str(first), second.name, "--json").stdout)
    assert data["mode"] == "runs" and data["b"]["source"] == second.name
    assert data["pairs"][0]["only_a"] == ["q4", "q5"]
    assert data["pairs"][0]["metrics"][0]["unpaired_a"] == ["q4", "q5"]


def test_groups_only_on_one_side_are_reported(loopback: LoopbackServer, project: Project) -> None:
    script_b(loopback, range(1, 7))
    path = project.suite(two_variants(loopback.url))
    assert invoke("run", str(path), "-q").exit_code == 0
    first = latest_run(project)
    assert invoke("run", str(path), "-q", "-v", "a").exit_code == 0
    result = invoke("diff", str(first), "latest")
    assert result.exit_code == 0, result.output
    assert "not compared, only in A: b × loop" in result.stdout
    data = json.loads(invoke("diff", str(first), "latest", "--json").stdout)
    assert data["unmatched_a"] == ["b × loop"] and data["unmatched_b"] == []


def test_repeats_give_pass_at_k_and_flaky_cases_apart(
    loopback: LoopbackServer, project: Project
) -> None:
    # b: q1 and q3 always right; q2 right on 2 of its 3 repeats, whatever their order.
    loopback.configure(
        rules=[
            {"match": "Say Q: q1", "reply": "Q: q1"},
            {"match": "Say Q: q2", "replies": ["Q: q2", "no", "Q: q2"]},
            {"match": "Say Q: q3", "reply": "Q: q3"},
        ]
    )
    path = project.suite(two_variants(loopback.url, n=3, repeat=3))
    assert invoke("run", str(path), "-q").exit_code == 0
    result = invoke("diff", "--variants", "a", "b", "--json")
    (pair,) = json.loads(result.stdout)["pairs"]
    assert pair["metrics"][0]["max_repeats"] == 3 and pair["metrics"][0]["n_paired"] == 3
    assert pair["flips"] == []
    assert pair["flaky"] == [
        {"case_id": "q2", "passes_a": 3, "runs_a": 3, "rate_a": 1.0}
        | {"passes_b": 2, "runs_b": 3, "rate_b": pytest.approx(2 / 3)}
    ]
    rb = pair["repeats_b"]
    assert rb["pass_at_k"]["1"] == pytest.approx(8 / 9)
    assert rb["pass_at_k"]["3"] == pytest.approx(1.0)
    assert rb["pass_hat_k"]["3"] == pytest.approx(2 / 3)
    assert rb["flaky"] == ["q2"]
    text = invoke("diff", "--variants", "a", "b").stdout
    assert "pass@k A" in text and "pass^k B" in text
    assert "flaky (the verdict changes across repeats; not counted as flips): q2 3/3 → 2/3" in text


# --------------------------------------------------------------------------- exit codes


def test_fail_on_regression_exits_1_on_a_real_drop_only(
    loopback: LoopbackServer, project: Project
) -> None:
    # 30 cases; b is right on q1-q9 only: 21 cases flip pass → fail, none the other way.
    script_b(loopback, range(1, 10))
    assert invoke("run", str(project.suite(two_variants(loopback.url, n=30))), "-q").exit_code == 0
    plain = invoke("diff", "--variants", "a", "b")
    assert plain.exit_code == 0  # a verdict is a report, not a failure, unless asked
    assert "worse" in plain.stdout
    gated = invoke("diff", "--variants", "a", "b", "--fail-on-regression")
    no_traceback(gated)
    assert gated.exit_code == 1, gated.output
    assert "✗ regression pass_rate (margin 0) for a × loop → b × loop" in gated.stdout
    same = invoke("diff", "--variants", "a", "a2", "--fail-on-regression")
    assert same.exit_code == 2  # no such variant


def test_fail_on_regression_passes_when_nothing_changed(
    loopback: LoopbackServer, project: Project
) -> None:
    script_b(loopback, range(1, 10))
    assert invoke("run", str(project.suite(two_variants(loopback.url, n=9))), "-q").exit_code == 0
    result = invoke("diff", "--variants", "a", "b", "--fail-on-regression", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["regression"]["passed"] is True
    assert data["regression"]["default_rules"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variants", "a", "nope"], "has no variant 'nope'; it has: a, b"),
        (["--variants", "a", "a"], "compare two different variants"),
        (["latest"], "give two runs or baseline files (A B)"),
        (["latest", "latest", "latest"], "at most two runs"),
        (["--variants", "a", "b", "--models", "x", "y"], "give --variants or --models, not both"),
        (["latest", "latest", "--variants", "a", "b"], "inside ONE run"),
        (["no-such-run", "latest"], "no run 'no-such-run'"),
        (["missing.json", "latest"], "missing.json: no such baseline file"),
        (["--variants", "a", "b", "-m", "nope"], "has no model 'nope'"),
    ],
)
def test_bad_usage_exits_2_with_one_line(one_run: Project, args: list[str], message: str) -> None:
    result = invoke("diff", *args)
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
