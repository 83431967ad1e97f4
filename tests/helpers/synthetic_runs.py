"""Stored runs written record by record, of any size, with what a diff must handle.

A run made here is a directory with ``run.json`` (a real :class:`RunMeta`) and
``records.jsonl`` (each line :meth:`Record.to_json`), as ``promptbench run`` leaves it,
without calling a model: for commands that read runs (diff, baseline save) at sizes a
test cannot run. Seeded: the same arguments give the same bytes.

What the records hold, so that every branch of the comparison is exercised: two
variants × two models; a binary metric ``exact`` and a continuous ``sim``; per case
some repeats; now and then a call error, a metric error, a probe's twin, a case on one
side only.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from promptbench.runner.runmeta import ModelMeta, RunMeta, SuiteMeta, write_meta
from promptbench.types import CallError, Message, ProbeTag, Record, Score

# A prompt of a few lines, as real suites send: records of about a kilobyte.
SYSTEM = (
    "You are a careful assistant that answers arithmetic questions.\n"
    "Answer with the number alone: no words, no punctuation, no units.\n"
    "If the question is not arithmetic, answer 'n/a'. Never explain the answer.\n"
)


def synthetic_record(
    rng: random.Random, case: int, variant: str, model: str, repeat: int, p_pass: float
) -> Record:
    """One scored record; about one in 40 a call error, one in 50 a metric error."""
    case_id = f"q{case}"
    question = Message("user", f"Question {case}: what is {case} + {case}?")
    messages = (Message("system", SYSTEM), question)
    if rng.random() < 0.025:
        return Record(
            case_id,
            variant,
            model,
            repeat,
            {"n": case},
            messages,
            error=CallError("timeout", "the server took too long"),
        )
    ok = rng.random() < p_pass
    sim = round(min(1.0, max(0.0, rng.gauss(0.7 if ok else 0.4, 0.15))), 4)
    if rng.random() < 0.02:
        exact = Score("exact", None, None, error="could not score")
    else:
        exact = Score("exact", float(ok), ok, "" if ok else f"expected {2 * case}")
    scores = {"exact": exact, "sim": Score("sim", sim, sim >= 0.5, f"similarity {sim}")}
    passed = None if exact.error else ok and sim >= 0.5
    probe = None
    if rng.random() < 0.03:
        probe = ProbeTag("typos", "robustness", case_id)
        case_id = f"{case_id}~typos"
    return Record(
        case_id,
        variant,
        model,
        repeat,
        {"n": case},
        messages,
        expected=str(2 * case),
        output=str(2 * case) if ok else f"about {case}",
        scores=scores,
        passed=passed,
        latency_ms=round(rng.uniform(20, 400), 1),
        probe=probe,
    )


def write_synthetic_run(
    runs_dir: Path,
    run_id: str,
    cases: int,
    *,
    seed: int,
    p_pass: float = 0.7,
    repeats: int = 1,
    skip_every: int = 97,
) -> Path:
    """A run of ``cases`` cases × 2 variants × 2 models × ``repeats``; see the module doc.

    Every ``skip_every``-th case (shifted by the seed) is left out, so that two runs
    have cases the other lacks.
    """
    rng = random.Random(seed)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    with (run_dir / "records.jsonl").open("w", encoding="utf-8") as fh:
        for case in range(cases):
            if (case + seed) % skip_every == 0:
                continue
            for variant in ("terse", "guided"):
                for model in ("mini", "tiny"):
                    shift = 0.05 if variant == "guided" else 0.0
                    for repeat in range(repeats):
                        r = synthetic_record(rng, case, variant, model, repeat, p_pass + shift)
                        fh.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
    started = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seed)
    meta = RunMeta(
        run_id=run_id,
        status="finished",
        started_at=started.isoformat(),
        suite=SuiteMeta(name="synthetic", hash="0" * 16, metrics=["exact", "sim"], repeat=repeats),
        variants={"terse": "Q: {{ n }}", "guided": "Answer with a number. Q: {{ n }}"},
        models={
            "mini": ModelMeta(provider="mock", model="mini"),
            "tiny": ModelMeta(provider="mock", model="tiny"),
        },
    )
    write_meta(run_dir, meta)
    return run_dir
