"""Summaries over hand-made records: rates, means, percentiles, cost and tokens per group."""

from __future__ import annotations

import math
from typing import Any

import pytest

from promptbench.stats.summary import GroupSummary, Summary
from promptbench.types import CallError, Record, Score, Usage


def score(value: float | None, passed: bool | None, error: str | None = None) -> Score:
    return Score("m", value, passed, error=error)


def rec(
    passed: bool | None = True,
    *,
    variant: str = "v",
    model: str = "m",
    scores: dict[str, Score] | None = None,
    latency: float | None = 100.0,
    cost: float | None = 0.01,
    usage: Usage | None = None,
    error: str | None = None,
    **extra: Any,
) -> Record:
    if scores is None:
        scores = {} if passed is None else {"exact": score(float(passed), passed)}
    return Record(
        case_id="c",
        variant=variant,
        model=model,
        repeat=0,
        vars={},
        messages=(),
        output=None if error else "out",
        scores={} if error else scores,
        passed=None if error else passed,
        usage=usage or Usage(10, 5),
        latency_ms=None if error else latency,
        cost=None if error else cost,
        error=CallError(error, f"{error} happened", 429) if error else None,
        **extra,
    )


def group(*records: Record) -> GroupSummary:
    g = GroupSummary("v", "m")
    for r in records:
        g.add(r)
    return g


# --------------------------------------------------------------------------- verdicts


def test_pass_rate_excludes_call_errors_and_records_without_verdict() -> None:
    metric_error = {"exact": score(None, None, "boom")}
    g = group(
        rec(True),
        rec(True),
        rec(True),
        rec(False),
        rec(None, scores=metric_error),
        rec(None, scores={}),
        rec(error="rate_limit"),
        rec(error="rate_limit"),
        rec(error="timeout"),
    )
    assert (g.records, g.passed, g.failed, g.no_verdict, g.call_errors) == (9, 3, 1, 2, 3)
    assert g.pass_rate == 0.75
    assert g.error_rate == 3 / 9
    assert g.error_kinds == {"rate_limit": 2, "timeout": 1}


def test_pass_rate_is_none_without_any_verdict() -> None:
    g = group(rec(error="timeout"), rec(None, scores={}))
    assert g.pass_rate is None
    assert g.error_rate == 0.5
    assert GroupSummary("v", "m").error_rate == 0.0


def test_metric_means_exclude_metric_errors_and_are_never_nan() -> None:
    g = group(
        rec(scores={"exact": score(1.0, True), "judge": score(0.8, True)}),
        rec(scores={"exact": score(0.0, False), "judge": score(None, None, "unparseable")}),
        rec(scores={"exact": score(None, None, "boom"), "judge": score(None, None, "x")}),
        rec(error="timeout"),
    )
    exact, judge = g.metrics["exact"], g.metrics["judge"]
    assert (exact.mean, exact.scored, exact.passed, exact.failed, exact.errors) == (
        0.5,
        2,
        1,
        1,
        1,
    )
    assert exact.pass_rate == 0.5
    assert (judge.mean, judge.errors, judge.pass_rate) == (0.8, 2, 1.0)
    only_errors = group(rec(scores={"x": score(None, None, "e")}))
    assert only_errors.metrics["x"].mean is None
    assert only_errors.metrics["x"].pass_rate is None
    assert only_errors.figure("x") is None


def test_mean_is_of_values_not_of_verdicts() -> None:
    g = group(rec(scores={"sim": score(0.9, False)}), rec(scores={"sim": score(0.6, True)}))
    assert g.metrics["sim"].mean == pytest.approx(0.75)
    assert g.metrics["sim"].pass_rate == 0.5


# --------------------------------------------------------------------------- latency


def test_latency_percentiles_by_nearest_rank() -> None:
    g = group(*(rec(latency=float(ms)) for ms in [50, 10, 40, 20, 30, 100, 60, 90, 70, 80]))
    assert g.latency(0.5) == 50.0
    assert g.latency(0.95) == 100.0
    assert g.latency(0.0) == 10.0
    assert g.latency(1.0) == 100.0
    twenty = group(*(rec(latency=float(ms)) for ms in range(1, 21)))
    assert (twenty.latency(0.5), twenty.latency(0.95)) == (10.0, 19.0)
    three = group(*(rec(latency=float(ms)) for ms in (300, 100, 200)))
    assert (three.latency(0.5), three.latency(0.95)) == (200.0, 300.0)


def test_latency_ignores_call_errors_and_missing_latencies() -> None:
    g = group(rec(latency=5.0), rec(error="timeout"), rec(latency=None))
    assert list(g.latencies) == [5.0]
    assert group(rec(error="timeout")).latency(0.5) is None


# --------------------------------------------------------------------------- cost, tokens


def test_cost_and_tokens() -> None:
    g = group(
        rec(cost=0.25, usage=Usage(100, 20)),
        rec(cost=0.5, usage=Usage(200, 40)),
        rec(error="timeout", usage=Usage(7, 7)),
    )
    assert g.cost == 0.75
    assert (g.prompt_tokens, g.completion_tokens, g.tokens) == (300, 60, 360)
    assert g.figure("total_tokens") == 360.0


def test_cost_is_none_when_no_price_is_known() -> None:
    assert group(rec(cost=None), rec(cost=None)).cost is None
    assert group(rec(cost=None), rec(cost=0.5)).cost == 0.5


def test_free_calls_have_a_known_cost_of_zero() -> None:
    assert group(rec(cost=0.0)).cost == 0.0
    assert group(rec(cost=0.0), rec(cost=None)).cost == 0.0


def test_cached_records_cost_nothing_and_the_cost_gate_sees_their_price() -> None:
    g = group(
        rec(cost=0.25),
        rec(cost=0.0, cost_saved=0.5, cached=True),
        rec(cost=0.0, cost_saved=0.25, cached=True),
    )
    assert g.cost == 0.25  # spent
    assert g.cost_saved == 0.75
    # total_cost judges what the calls cost, whatever the cache held.
    assert g.figure("total_cost") == 1.0
    assert g.to_json([])["cost_saved"] == 0.75


def test_cached_and_retries_count_every_record() -> None:
    g = group(rec(cached=True), rec(retries=2), rec(error="timeout", retries=4))
    assert (g.cached, g.retries) == (1, 6)


# --------------------------------------------------------------------------- figures


def test_figures_a_gate_can_name() -> None:
    g = group(
        rec(True, latency=10.0, cost=0.1, scores={"exact": score(1.0, True)}),
        rec(False, latency=30.0, cost=0.2, scores={"exact": score(0.0, False)}),
        rec(error="timeout"),
    )
    assert g.figure("exact") == 0.5
    assert g.figure("pass_rate") == 0.5
    assert g.figure("error_rate") == pytest.approx(1 / 3)
    assert g.figure("latency_p50") == 10.0
    assert g.figure("latency_p95") == 30.0
    assert g.figure("total_cost") == pytest.approx(0.3)
    assert g.figure("total_tokens") == 30.0
    assert g.figure("nonsense") is None


def test_group_to_json() -> None:
    g = group(
        rec(True, latency=10.0, cost=0.1, scores={"exact": score(1.0, True)}),
        rec(error="timeout"),
    )
    data = g.to_json(["exact", "missing"])
    assert data == {
        "variant": "v",
        "model": "m",
        "records": 2,
        "passed": 1,
        "failed": 0,
        "no_verdict": 0,
        "pass_rate": 1.0,
        "errors": 1,
        "error_rate": 0.5,
        "error_kinds": {"timeout": 1},
        "cached": 0,
        "retries": 0,
        "metrics": {
            "exact": {"mean": 1.0, "pass_rate": 1.0, "passed": 1, "failed": 0, "errors": 0}
        },
        "latency_ms": {"p50": 10.0, "p95": 10.0},
        "tokens": {"prompt": 10, "completion": 5, "total": 15},
        "cost": 0.1,
        "cost_saved": 0.0,
    }


# --------------------------------------------------------------------------- summary


def test_groups_follow_the_suite_order_not_arrival_order() -> None:
    summary = Summary(["exact"], variants=["terse", "guided"], models=["mini", "llama"])
    for variant, model in [("guided", "llama"), ("terse", "llama"), ("guided", "mini")]:
        summary.on_record(rec(variant=variant, model=model))
    summary.add(rec(variant="terse", model="mini"))
    assert list(summary.groups) == [
        ("terse", "mini"),
        ("terse", "llama"),
        ("guided", "mini"),
        ("guided", "llama"),
    ]


def test_of_drops_groups_without_records_and_learns_metric_names() -> None:
    records = [
        rec(variant="b", model="x", scores={"new_metric": score(1.0, True)}),
        rec(variant="a", model="x", error="timeout"),
        rec(variant="z", model="x"),  # not in the suite's list: appended
    ]
    summary = Summary.of(records, ["exact"], variants=["a", "b"], models=["x", "y"])
    assert list(summary.groups) == [("a", "x"), ("b", "x"), ("z", "x")]
    assert summary.metric_names == ["exact", "new_metric"]
    assert (summary.records, summary.call_errors) == (3, 1)
    assert summary.error_rate == pytest.approx(1 / 3)


def test_summary_to_json_has_every_group_and_no_nan() -> None:
    summary = Summary.of(
        [
            rec(None, scores={"exact": score(None, None, "boom")}, variant="a"),
            rec(error="timeout", variant="b"),
        ],
        ["exact"],
    )
    data = summary.to_json()
    assert (data["records"], data["errors"], data["error_rate"]) == (2, 1, 0.5)
    assert [(g["variant"], g["pass_rate"]) for g in data["groups"]] == [("a", None), ("b", None)]
    assert data["groups"][0]["metrics"]["exact"]["mean"] is None

    def no_nan(value: Any) -> None:
        if isinstance(value, float):
            assert not math.isnan(value)
        elif isinstance(value, dict):
            for v in value.values():
                no_nan(v)
        elif isinstance(value, list):
            for v in value:
                no_nan(v)

    no_nan(data)


def test_empty_summary() -> None:
    summary = Summary.of([])
    assert (summary.records, summary.error_rate, summary.groups) == (0, 0.0, {})


# --------------------------------------------------------------------------- from raw lines


def _summary_json(s: Summary) -> str:
    import json

    out = s.to_json()
    out["latencies"] = {f"{k[0]}/{k[1]}": list(g.latencies) for k, g in s.groups.items()}
    out["costs"] = {f"{k[0]}/{k[1]}": [g.cost_total, g.cost_unknown] for k, g in s.groups.items()}
    return json.dumps(out)  # NaN written: equal when both paths hold NaN


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_of_lines_is_of_records_on_every_shape_of_record(seed: int) -> None:
    import json

    from tests.helpers.varied_runs import varied_lines

    lines = [json.loads(json.dumps(x)) for x in varied_lines(seed, 80)]
    args = (["exact", "sim"], ["terse", "guided"], ["mini", "tiny", "gone"])
    fast = Summary.of_lines(lines, *args)
    general = Summary.of((Record.from_json(x) for x in lines), *args)
    assert _summary_json(fast) == _summary_json(general)
    assert fast.metric_names == general.metric_names and "judge" in fast.metric_names


def test_of_lines_refuses_a_line_that_is_not_a_record() -> None:
    with pytest.raises(KeyError):
        Summary.of_lines([{"variant": "v", "model": "m", "repeat": 0}])
    with pytest.raises(KeyError):
        Summary.of_lines([{"case_id": "c", "model": "m", "repeat": 0}])


def test_of_lines_of_hypothesis_lines() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    score = st.fixed_dictionaries(
        {},
        optional={
            "value": st.one_of(st.none(), st.floats(0, 1), st.integers(0, 1)),
            "passed": st.one_of(st.none(), st.booleans()),
            "error": st.one_of(st.none(), st.text(max_size=3)),
        },
    )
    line = st.fixed_dictionaries(
        {
            "case_id": st.sampled_from(["a", "b"]),
            "variant": st.sampled_from(["v", "w"]),
            "model": st.just("m"),
            "repeat": st.just(0),
        },
        optional={
            "scores": st.one_of(st.none(), st.dictionaries(st.sampled_from(["x", "y"]), score)),
            "passed": st.one_of(st.none(), st.booleans()),
            "error": st.one_of(
                st.none(), st.just({}), st.just({"kind": "timeout", "message": "late"})
            ),
            "latency_ms": st.one_of(st.none(), st.floats(0, 100)),
            "cost": st.one_of(st.none(), st.floats(0, 1)),
            "cost_saved": st.one_of(st.none(), st.floats(0, 1)),
            "usage": st.one_of(st.none(), st.just({"prompt_tokens": 3})),
            "cached": st.booleans(),
            "retries": st.integers(0, 2),
            "probe": st.one_of(
                st.none(), st.just({}), st.just({"name": "p", "kind": "k", "origin": "a"})
            ),
        },
    )

    @settings(max_examples=300, deadline=None)
    @given(st.lists(line, max_size=12))
    def check(lines: list[dict[str, Any]]) -> None:
        fast = Summary.of_lines(lines, ["y"])
        general = Summary.of((Record.from_json(x) for x in lines), ["y"])
        assert _summary_json(fast) == _summary_json(general)

    check()
