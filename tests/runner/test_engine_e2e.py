"""The runner end to end: the official openai SDK, over HTTP, to the loopback server.

No client is monkeypatched: every call goes through ``promptbench.providers.openai``
to ``promptbench.testing.openai_server`` running in a child process. Server-side
counters (``loopback.stats()``) are the ground truth for what was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest

from promptbench.api import prepare, run_suite
from promptbench.errors import SuiteError
from promptbench.runner import BaseObserver, Runner, RunOptions
from promptbench.suite import load_suite
from promptbench.types import Record
from tests.helpers.e2e import RECORD_FIELDS, by_key, echo_suite, qa_cases, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project, openai_model

# Each test that talks to a server runs once per transport (tests/conftest.py).
pytestmark = pytest.mark.each_transport

SECRET = "sk-e2e-DO-NOT-LEAK-7c1f0e"


# --------------------------------------------------------------------------- shape of a run


def test_every_variant_model_case_repeat_gives_one_record(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PB_E2E_KEY", SECRET)
    cases = qa_cases(3)
    path = project.suite(
        echo_suite(
            loopback.url,
            name="shape",
            prompts={
                "plain": "Q: {{ q }}",
                "chat": {"system": "Answer briefly.", "user": "Question {{ q }}"},
            },
            models={
                "free": openai_model(loopback.url, temperature=0),
                "priced": openai_model(
                    loopback.url,
                    model="priced-model",
                    api_key_env="PB_E2E_KEY",
                    price={"input": 1.0, "output": 2.0},
                ),
            },
            cases=cases,
            repeat=2,
        )
    )
    result = run_suite(path)

    recs = records(result)
    assert len(recs) == 2 * 2 * 3 * 2
    keyed = by_key(recs)
    expected_keys = set(
        itertools.product([c["id"] for c in cases], ["plain", "chat"], ["free", "priced"], [0, 1])
    )
    assert set(keyed) == expected_keys
    for (case_id, variant, model, _), r in keyed.items():
        assert set(r) == RECORD_FIELDS
        assert r["vars"] == {"q": case_id}
        if variant == "plain":
            assert r["messages"] == [{"role": "user", "content": f"Q: {case_id}"}]
            assert r["output"] == f"Q: {case_id}"
            assert r["scores"]["exact"]["value"] == 1.0
            assert r["passed"] is True
            # The server counts whitespace-separated words.
            assert r["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
        else:
            assert r["messages"] == [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": f"Question {case_id}"},
            ]
            assert r["output"] == f"Question {case_id}"
            assert r["scores"]["exact"]["passed"] is False
            assert r["passed"] is False
            assert r["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
        assert r["latency_ms"] > 0
        assert r["error"] is None
        assert r["cached"] is False
        assert r["retries"] == 0
        assert r["finish_reason"] == "stop"
        if model == "priced":
            tokens = r["usage"]
            want = (tokens["prompt_tokens"] * 1.0 + tokens["completion_tokens"] * 2.0) / 1e6
            assert r["cost"] == pytest.approx(want)
        else:
            assert r["cost"] is None

    stats = loopback.stats()
    assert stats["requests"] == 24
    assert stats["by_outcome"] == {"ok": 24}
    # Each rendered prompt went to 2 models x 2 repeats.
    assert stats["by_prompt"] == {f"{p}{c['id']}": 4 for c in cases for p in ("Q: ", "Question ")}

    meta = json.loads((result.run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["run_id"] == result.run_dir.name
    assert meta["status"] == "finished"
    assert meta["suite"]["name"] == "shape"
    assert meta["suite"]["hash"] == load_suite(path).hash
    assert len(meta["suite"]["hash"]) == 16
    assert meta["variants"] == {
        "plain": "[user]\nQ: {{ q }}",
        "chat": "[system]\nAnswer briefly.\n[user]\nQuestion {{ q }}",
    }
    assert set(meta["models"]) == {"free", "priced"}
    assert meta["models"]["priced"]["model"] == "priced-model"
    assert meta["models"]["priced"]["base_url"] == loopback.url
    assert meta["models"]["free"]["params"] == {"temperature": 0.0}
    for m in meta["models"].values():
        assert not {"api_key", "api_key_env", "api_key_file"} & set(m)
    assert meta["started_at"] and meta["finished_at"]
    assert meta["started_at"] <= meta["finished_at"]
    assert meta["counts"] == {"records": 24, "errors": 0, "cached": 0, "retries": 0}

    summary = result.summary.to_json()
    assert summary["records"] == 24
    assert [(g["variant"], g["model"], g["records"]) for g in summary["groups"]] == [
        ("plain", "free", 6),
        ("plain", "priced", 6),
        ("chat", "free", 6),
        ("chat", "priced", 6),
    ]


def test_api_key_never_written_to_the_run(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback server does not record request headers, so that the key reaches
    # the server is not checked here; that it is never written down is.
    monkeypatch.setenv("PB_E2E_KEY", SECRET)
    path = project.suite(
        echo_suite(loopback.url, model_params={"api_key_env": "PB_E2E_KEY"}, cases=qa_cases(2))
    )
    result = run_suite(path)
    assert result.verdict.outcome.value == "no_gate"
    from promptbench.report.csv_out import write_csv
    from promptbench.runner import iter_records

    csv_path = project.root / "out.csv"
    write_csv(csv_path, iter_records(result.run_dir), ["q"], ["exact"])
    for f in [*result.run_dir.iterdir(), csv_path]:
        assert SECRET not in f.read_text(encoding="utf-8"), f
    assert "PB_E2E_KEY" not in (result.run_dir / "run.json").read_text(encoding="utf-8")


def test_missing_api_key_env_is_a_usage_error_before_any_call(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PB_E2E_MISSING", raising=False)
    path = project.suite(echo_suite(loopback.url, model_params={"api_key_env": "PB_E2E_MISSING"}))
    with pytest.raises(SuiteError) as info:
        run_suite(path)
    assert str(info.value) == (
        "suites/suite.yaml: models.loop: the environment variable PB_E2E_MISSING is not set; "
        "export PB_E2E_MISSING=... or name another variable with api_key_env"
    )
    assert loopback.stats()["requests"] == 0
    assert project.runs == []


# --------------------------------------------------------------------------- retries


def test_429_waits_for_retry_after(loopback: LoopbackServer, project: Project) -> None:
    # The fast backoff would retry within 10 ms; the server asks for 0.8 s.
    loopback.configure(rules=[{"match": "q2", "faults": ["429:0.8"]}])
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(3)))
    result, wall = run(path)
    assert wall >= 0.8
    keyed = by_key(records(result))
    assert keyed[("q2", "plain", "loop", 0)]["retries"] == 1
    assert keyed[("q2", "plain", "loop", 0)]["output"] == "Q: q2"
    assert keyed[("q2", "plain", "loop", 0)]["passed"] is True
    assert [keyed[(c, "plain", "loop", 0)]["retries"] for c in ("q1", "q3")] == [0, 0]
    stats = loopback.stats()
    assert stats["by_outcome"] == {"429": 1, "ok": 3}
    assert stats["by_prompt"]["Q: q2"] == 2
    assert result.info.meta.counts.retries == 1


FAULTS = {
    "c5xx": ["500", "502", "503"],
    "cdrop": ["drop", "drop"],
    "cmalformed": ["malformed"],
    "chang": ["hang:3"],
    "cmix": ["503", "drop", "malformed"],
}


def test_retryable_faults_are_retried_until_the_call_succeeds(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(
        rules=[{"match": f"Q: {case} ", "faults": faults} for case, faults in FAULTS.items()]
    )
    cases = [{"id": c, "q": f"{c} ?"} for c in [*FAULTS, "clean"]]
    # A hung answer is abandoned after the model's timeout, then retried.
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=cases,
            model_params={"timeout": 0.5, "max_retries": 4},
            metrics=[{"exact": "Q: {{ q }}"}],
        )
    )
    result, _wall = run(path)
    keyed = by_key(records(result))
    assert len(keyed) == len(cases)
    for c in cases:
        r = keyed[(c["id"], "plain", "loop", 0)]
        assert r["error"] is None, r["error"]
        assert r["output"] == f"Q: {c['id']} ?"
        assert r["passed"] is True
        assert r["retries"] == len(FAULTS.get(c["id"], []))
    stats = loopback.stats()
    for case, faults in FAULTS.items():
        assert stats["by_prompt"][f"Q: {case} ?"] == len(faults) + 1
    assert stats["by_prompt"]["Q: clean ?"] == 1
    assert stats["by_outcome"] == {
        "500": 1,
        "502": 1,
        "503": 2,
        "drop": 3,
        "malformed": 2,
        "hang": 1,
        "ok": len(cases),
    }
    assert result.info.meta.counts.retries == sum(len(f) for f in FAULTS.values())
    assert result.info.meta.counts.errors == 0
    # chang's one retry above is the proof that the hang was cut off by the 0.5 s timeout:
    # had the client waited out the server's 3 s, the answer would have come with 0 retries.
    # (No upper bound on the wall time: on a shared, loaded machine it cannot be trusted.)


@pytest.mark.parametrize(
    ("status", "kind"), [(400, "client_error"), (401, "auth"), (404, "client_error")]
)
def test_client_errors_are_not_retried(
    loopback: LoopbackServer, project: Project, status: int, kind: str
) -> None:
    loopback.configure(rules=[{"match": "q2", "faults": [str(status)]}])
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(3)))
    result, _ = run(path)
    assert loopback.stats()["by_prompt"] == {"Q: q1": 1, "Q: q2": 1, "Q: q3": 1}
    keyed = by_key(records(result))
    bad = keyed[("q2", "plain", "loop", 0)]
    assert bad["error"]["kind"] == kind
    assert bad["error"]["status"] == status
    assert str(status) in bad["error"]["message"]
    assert bad["retries"] == 0
    assert bad["output"] is None
    assert bad["scores"] == {}
    assert bad["passed"] is None
    for c in ("q1", "q3"):
        assert keyed[(c, "plain", "loop", 0)]["passed"] is True
    assert result.info.status == "finished"
    (group,) = result.summary.groups.values()
    assert (group.records, group.passed, group.failed, group.call_errors) == (3, 2, 0, 1)


def test_a_call_failing_past_max_retries_is_an_error_record_not_a_failed_score(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "q1", "faults": ["500"] * 10}])
    path = project.suite(
        echo_suite(
            loopback.url, cases=qa_cases(2), model_params={"max_retries": 2}, max_error_rate=1.0
        )
    )
    result, _ = run(path)
    assert loopback.stats()["by_prompt"] == {"Q: q1": 3, "Q: q2": 1}
    keyed = by_key(records(result))
    bad = keyed[("q1", "plain", "loop", 0)]
    assert bad["error"] == {
        "kind": "server_error",
        "message": bad["error"]["message"],
        "status": 500,
    }
    assert bad["retries"] == 2
    assert (bad["output"], bad["scores"], bad["passed"]) == (None, {}, None)
    group = result.summary.to_json()["groups"][0]
    assert group["errors"] == 1
    assert group["error_kinds"] == {"server_error": 1}
    assert (group["passed"], group["failed"]) == (1, 0)
    assert group["metrics"]["exact"] == {
        "mean": 1.0,
        "pass_rate": 1.0,
        "passed": 1,
        "failed": 0,
        "errors": 0,
    }
    assert result.verdict.outcome.value == "no_gate"  # 50% errors allowed; no gate to check
    assert result.info.meta.counts.model_dump() == {
        "records": 2,
        "errors": 1,
        "cached": 0,
        "retries": 2,
    }


def test_too_many_errors_gives_no_verdict(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q1", "faults": ["400"]}])
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(5), gate={"exact": ">= 0.5"}))
    result, _ = run(path)
    assert result.verdict.outcome.value == "too_many_errors"  # 1 of 5 > 0.1
    result, _ = run(path, max_error_rate=0.25)
    assert result.verdict.outcome.value == "passed"


# --------------------------------------------------------------------------- concurrency


def test_suite_concurrency_bounds_calls_in_flight(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=100)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(40), concurrency=4))
    result, wall = run(path, use_cache=False)
    stats = loopback.stats()
    assert stats["requests"] == 40
    assert stats["max_in_flight"] == 4
    assert wall >= 0.95  # 40 calls / 4 at once x 100 ms
    assert result.summary.records == 40


def test_model_concurrency_bounds_calls_in_flight(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=100)
    path = project.suite(
        echo_suite(
            loopback.url, cases=qa_cases(20), concurrency=16, model_params={"concurrency": 2}
        )
    )
    _, wall = run(path, use_cache=False)
    stats = loopback.stats()
    assert stats["requests"] == 20
    assert stats["max_in_flight"] == 2
    assert wall >= 0.95  # 20 calls / 2 at once x 100 ms


def test_connections_are_kept_alive_one_per_call_in_flight(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=10)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(60), concurrency=4))
    run(path, use_cache=False)
    stats = loopback.stats()
    assert stats["requests"] == 60
    # 60 calls, 4 at a time: each connection carried many of them.
    assert 1 <= stats["connections"] <= 4


def test_concurrency_option_overrides_the_suite(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(latency_ms=50)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(12), concurrency=2))
    run(path, use_cache=False, concurrency=6)
    assert loopback.stats()["max_in_flight"] == 6


# --------------------------------------------------------------------------- cache


def test_second_identical_run_is_served_from_the_cache(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(latency_ms=20)
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=qa_cases(4),
            prompts={"a": "Q: {{ q }}", "b": "Again Q: {{ q }}"},
            repeat=2,
        )
    )
    first, _ = run(path)
    assert loopback.stats()["requests"] == 16
    second, _ = run(path)
    assert loopback.stats()["requests"] == 16  # not one more
    before, after = by_key(records(first)), by_key(records(second))
    assert set(before) == set(after)
    for key, r in after.items():
        assert r["cached"] is True
        assert r["latency_ms"] == before[key]["latency_ms"]
        assert r["latency_ms"] >= 20  # the original call's, not the replay's
        assert r["usage"] == before[key]["usage"]
        assert r["output"] == before[key]["output"]
        assert r["scores"] == before[key]["scores"]
    assert second.info.meta.counts.cached == 16
    assert second.summary.to_json()["groups"][0]["cached"] == 8

    third, _ = run(path, use_cache=False)
    assert loopback.stats()["requests"] == 32
    assert all(r["cached"] is False for r in records(third))


def test_changed_temperature_or_prompt_misses_the_cache(
    loopback: LoopbackServer, project: Project
) -> None:
    def suite(temperature: float, prompt_b: str) -> dict[str, object]:
        return echo_suite(
            loopback.url,
            cases=qa_cases(3),
            prompts={"a": "Q: {{ q }}", "b": prompt_b},
            model_params={"temperature": temperature},
        )

    path = project.suite(suite(0, "B {{ q }}"))
    run(path)
    assert loopback.stats()["requests"] == 6
    path = project.suite(suite(0.7, "B {{ q }}"))
    result, _ = run(path)
    assert loopback.stats()["requests"] == 12
    assert not any(r["cached"] for r in records(result))
    path = project.suite(suite(0.7, "B2 {{ q }}"))
    result, _ = run(path)
    assert loopback.stats()["requests"] == 15  # only variant b changed
    cached = {(r["variant"], r["cached"]) for r in records(result)}
    assert cached == {("a", True), ("b", False)}
    # Settings that do not change the output keep the cache.
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=qa_cases(3),
            prompts={"a": "Q: {{ q }}", "b": "B2 {{ q }}"},
            model_params={"temperature": 0.7, "timeout": 7, "max_retries": 1, "concurrency": 3},
        )
    )
    result, _ = run(path)
    assert loopback.stats()["requests"] == 15
    assert all(r["cached"] for r in records(result))


def test_repeats_are_distinct_calls_even_at_temperature_zero(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"replies": ["r0", "r1", "r2", "r3", "r4", "r5"]}])
    path = project.suite(
        echo_suite(
            loopback.url, cases=qa_cases(2), model_params={"temperature": 0}, repeat=3, metrics=[]
        )
    )
    result, _ = run(path, concurrency=1)
    stats = loopback.stats()
    assert stats["by_prompt"] == {"Q: q1": 3, "Q: q2": 3}
    recs = records(result)
    assert sorted(r["repeat"] for r in recs) == [0, 0, 1, 1, 2, 2]
    assert sorted(r["output"] for r in recs) == ["r0", "r1", "r2", "r3", "r4", "r5"]
    # Cached per repeat: a re-run replays each repeat's own answer.
    again, _ = run(path, concurrency=1)
    assert loopback.stats()["requests"] == 6
    first = {k: r["output"] for k, r in by_key(recs).items()}
    assert {k: r["output"] for k, r in by_key(records(again)).items()} == first
    # A higher repeat count calls only the new repeats.
    run(path, repeat=4)
    assert loopback.stats()["by_prompt"] == {"Q: q1": 4, "Q: q2": 4}


def test_errors_are_never_cached(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": "q2", "faults": ["500"] * 10}])
    path = project.suite(
        echo_suite(loopback.url, cases=qa_cases(3), model_params={"max_retries": 1})
    )
    first, _ = run(path)
    assert by_key(records(first))[("q2", "plain", "loop", 0)]["error"]["status"] == 500
    assert loopback.stats()["by_prompt"] == {"Q: q1": 1, "Q: q2": 2, "Q: q3": 1}
    loopback.reset()  # healthy again
    second, _ = run(path)
    assert loopback.stats()["by_prompt"] == {"Q: q2": 1}
    keyed = by_key(records(second))
    assert keyed[("q2", "plain", "loop", 0)]["error"] is None
    assert keyed[("q2", "plain", "loop", 0)]["cached"] is False
    assert keyed[("q2", "plain", "loop", 0)]["passed"] is True
    assert [keyed[(c, "plain", "loop", 0)]["cached"] for c in ("q1", "q3")] == [True, True]
    run(path)
    assert loopback.stats()["requests"] == 1


def test_exhausted_quota_is_not_retried(loopback: LoopbackServer, project: Project) -> None:
    # A 429 with code insufficient_quota does not clear up by waiting: retrying it
    # only makes the run slow. The default backoff is used, as a user would get it.
    loopback.configure(rules=[{"match": "q1", "faults": ["429-noretry"] * 5}])
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(2), max_error_rate=1))
    result, _ = run(path, backoff=None)
    assert loopback.stats()["by_prompt"] == {"Q: q1": 1, "Q: q2": 1}
    bad = by_key(records(result))[("q1", "plain", "loop", 0)]
    assert bad["error"]["kind"] == "quota"
    assert bad["error"]["status"] == 429
    assert bad["retries"] == 0


# --------------------------------------------------------------------------- interruption


class _Events(BaseObserver):
    def __init__(self) -> None:
        self.records = 0
        self.retries = 0

    def on_record(self, record: Record) -> None:
        self.records += 1

    def on_retry(self, model: str, attempt: int, reason: str, delay: float) -> None:
        self.retries += 1


def _interrupt(
    path: Path, *, after_records: int = 0, after_retries: int = 0, then: float = 0.0
) -> tuple[Runner, float]:
    """Run; once ``after_records`` and ``after_retries`` happened, wait ``then`` seconds and cancel
    the run's task, as asyncio.run does on Ctrl-C. Returns the runner and the seconds
    from the cancel to the end of the run."""
    _, runner = prepare(path, RunOptions())
    seen = runner.observer = _Events()
    box: list[float] = []

    async def go() -> None:
        task = asyncio.create_task(runner.run())
        while seen.records < after_records or seen.retries < after_retries:
            assert not task.done()
            await asyncio.sleep(0.005)
        await asyncio.sleep(then)
        task.cancel()
        start = time.perf_counter()
        with pytest.raises(asyncio.CancelledError):
            await task
        box.append(time.perf_counter() - start)

    asyncio.run(go())
    return runner, box[0]


def test_interrupt_finishes_calls_in_flight_and_starts_no_new_one(
    loopback: LoopbackServer, project: Project
) -> None:
    # Eight workers queue behind a model limit of one: on Ctrl-C only the call in
    # flight may finish; the queued ones must not start.
    loopback.configure(latency_ms=300)
    path = project.suite(
        echo_suite(loopback.url, cases=qa_cases(20), concurrency=8, model_params={"concurrency": 1})
    )
    runner, _ = _interrupt(path, after_records=1, then=0.15)  # half-way through the 2nd call
    assert runner.info is not None
    recs = records(runner.info.run_dir)
    stats = loopback.stats()
    assert stats["in_flight"] == 0
    assert stats["requests"] == len(recs) == 2
    assert all(r["passed"] for r in recs)
    meta = json.loads((runner.info.run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "interrupted"
    assert meta["counts"]["records"] == 2
    # ... and both were cached: a fresh run pays only for the rest ...
    loopback.configure(latency_ms=0)
    result, _ = run(path, resume=False)
    assert result.run_dir != runner.info.run_dir
    assert sum(r["cached"] for r in records(result)) == 2
    assert loopback.stats()["requests"] == 20
    # ... and so does taking up the interrupted run, even without the cache.
    loopback.reset()
    result, _ = run(path, use_cache=False)
    assert result.run_dir == runner.info.run_dir
    assert len(records(result)) == 20
    assert loopback.stats()["requests"] == 18


def test_interrupt_abandons_a_call_waiting_to_retry(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "q1", "faults": ["429:30"]}])
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(1)))
    runner, stopping = _interrupt(path, after_retries=1)
    assert stopping < 10.0  # not the 30 s the server asked for (wide: a shared machine)
    assert runner.info is not None
    assert records(runner.info.run_dir) == []  # abandoned: no record, so nothing to skip later
    assert loopback.stats()["requests"] == 1
