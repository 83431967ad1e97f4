"""Stored runs whose records take every shape a reader of raw lines must handle.

For the tests that hold a fast reader of ``records.jsonl`` lines (the summary, the report's
rows, the viewer's index, the ranking) to the general path through :class:`Record`: call
errors with and without an HTTP status, metric errors, records with no verdict or no
metric, probes' twins, conversations with tool calls, images, repeats, a cell written
twice, a group only some cases reach, a metric only some records have, variables that
are not strings (an integer beyond 64 bits among them), non-finite figures, and lines
in the old format (written before usage, cost_saved, cached or retries existed). Seeded:
the same arguments give the same bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from promptbench.runner.runmeta import ModelMeta, RunMeta, SuiteMeta, write_meta
from promptbench.types import (
    CallError,
    Image,
    Message,
    ProbeTag,
    Record,
    Score,
    ToolCall,
    Usage,
)

OLD_KEYS = ("usage", "cost_saved", "cached", "retries", "finish_reason", "cost")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _score(rng: random.Random, name: str) -> Score:
    roll = rng.random()
    if roll < 0.08:
        return Score(name, None, None, error=f"{name} raised")
    if roll < 0.12:
        return Score(name, None, None, reason="no verdict")  # passed None, no error
    if roll < 0.16:
        return Score(name, None, rng.random() < 0.5, reason="verdict only")
    value = rng.choice([0.0, 1.0, 0.25, round(rng.random(), 3)])
    passed = value >= 0.5
    return Score(name, value, passed, "" if passed else f"{name} wanted more", weight=1.0)


def varied_record(
    rng: random.Random,
    case: int,
    variant: str,
    model: str,
    repeat: int,
    image: Path | None,
    *,
    twin: bool = False,
) -> Record:
    """One record of case ``case``, of a shape drawn by ``rng`` (``twin``: a probe's twin)."""
    case_id = f"c{case}"
    vars_: dict[str, Any] = {"q": f"Question {case} <b>&</b>", "n": case}
    if case % 7 == 0:
        vars_["extra"] = {"nested": [1, 2.5, None], "text": "ünïcode"}
    if case % 11 == 0:
        vars_["big"] = 12345678901234567890123  # beyond 64 bits: read exactly
    user = Message("user", f"Q{case}: {vars_['q']}")
    if image is not None and case % 5 == 0:
        user = Message(
            "user", f"Look at {case}", images=(Image(str(image), None, None, "image/png"),)
        )
    if case % 13 == 0:
        user = Message("user", "see", images=(Image(None, "data:image/png;base64,AAAA"),))
    messages = (Message("system", "Be brief."), user)
    roll = rng.random()
    if roll < 0.06:
        status = rng.choice([None, 429, 503])
        return Record(
            case_id,
            variant,
            model,
            repeat,
            vars_,
            messages,
            error=CallError(rng.choice(["timeout", "rate_limit"]), "the server said no", status),
            retries=rng.randint(0, 3),
            latency_ms=rng.choice([None, 12.5]),
        )
    scores: dict[str, Score] = {}
    if roll > 0.1:
        scores["exact"] = _score(rng, "exact")
        if rng.random() < 0.8:
            scores["sim"] = _score(rng, "sim")
        if case % 9 == 0:
            scores["judge"] = _score(rng, "judge")  # a metric only some records have
    if not scores:
        passed: bool | None = None
    elif any(s.verdict == "error" for s in scores.values()):
        passed = None
    else:
        passed = all(bool(s.passed) for s in scores.values())
    transcript: tuple[Message, ...] = ()
    calls = 1
    if case % 17 == 0:
        call = ToolCall.parse("t1", "lookup", '{"city": "Paris"}')
        transcript = (
            *messages,
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", "sunny", tool_call_id="t1", name="lookup"),
            Message("assistant", "It is sunny."),
            Message("user", "And tomorrow?"),
            Message("assistant", "Rain."),
        )
        calls = 3
    probe = None
    if twin:
        probe = ProbeTag("typos", "robustness", case_id, details={"changed": ["q"]})
        case_id = f"{case_id}~typos"
    latency = rng.choice([None, float("nan"), round(rng.uniform(1, 900), 1), 3])
    cost = rng.choice([None, 0.0, round(rng.uniform(0, 0.01), 6), 1])
    return Record(
        case_id,
        variant,
        model,
        repeat,
        vars_,
        messages,
        expected=rng.choice([None, f"answer {case}", 42, ["a", "b"]]),
        output=rng.choice([None, "", f"Answer {case}: </script> ok", f"about {case}"]),
        scores=scores,
        passed=passed,
        usage=Usage(rng.randint(0, 50), rng.randint(0, 20)),
        latency_ms=latency,
        cost=cost,
        cost_saved=rng.choice([0.0, 0.002]),
        cached=rng.random() < 0.2,
        retries=rng.choice([0, 0, 1]),
        probe=probe,
        transcript=transcript,
        calls=calls,
    )


def varied_lines(seed: int, cases: int, image: Path | None = None) -> list[dict[str, Any]]:
    """The JSON lines of a varied run (see the module doc), as ``records.jsonl`` holds them."""
    rng = random.Random(seed)
    lines: list[dict[str, Any]] = []
    for case in range(cases):
        for variant in ("terse", "guided"):
            for model in ("mini", "tiny"):
                if model == "tiny" and case % 6 == 5:
                    continue  # a group some cases do not reach
                for repeat in range(2 if case % 4 == 0 else 1):
                    r = varied_record(rng, case, variant, model, repeat, image)
                    line = r.to_json()
                    if rng.random() < 0.15:  # written by an older promptbench
                        for key in OLD_KEYS:
                            if rng.random() < 0.6:
                                line.pop(key, None)
                    if rng.random() < 0.03 and line.get("error") is None:
                        line["error"] = {}  # falsy: no error, as Record.from_json reads it
                    lines.append(line)
                    if case % 3 == 0:  # a probe's twin of the case, paired with it
                        twin = varied_record(rng, case, variant, model, repeat, image, twin=True)
                        lines.append(twin.to_json())
                    if case % 23 == 0 and repeat == 0:  # the cell written twice
                        again = varied_record(rng, case, variant, model, repeat, image)
                        lines.append(again.to_json())
    rng.shuffle(lines)  # records arrive in any order (concurrency)
    return lines


def write_varied_run(
    runs_dir: Path,
    run_id: str,
    cases: int = 120,
    *,
    seed: int = 0,
    image: bool = True,
    probes: bool = True,
) -> Path:
    """A stored run of :func:`varied_lines` (an image file beside it when ``image``).

    ``probes``: the run says it ran the ``typos`` probe, so that readers judge its twins.
    """
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    picture = None
    if image:
        picture = run_dir.parent / f"{run_id}.png"
        picture.write_bytes(PNG)
    with (run_dir / "records.jsonl").open("w", encoding="utf-8") as fh:
        for line in varied_lines(seed, cases, picture):
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")  # NaN as Python writes it
    meta = RunMeta(
        run_id=run_id,
        status="finished",
        started_at="2026-01-01T00:00:00+00:00",
        suite=SuiteMeta(
            name="varied",
            hash="0" * 16,
            metrics=["exact", "sim"],
            variables=["q"],
            repeat=1,
            probes={"typos": "robustness"} if probes else {},
        ),
        variants={"terse": "Q: {{ q }}", "guided": "Answer. Q: {{ q }}"},
        models={
            "mini": ModelMeta(provider="mock", model="mini"),
            "tiny": ModelMeta(provider="mock", model="tiny"),
        },
    )
    write_meta(run_dir, meta)
    return run_dir
