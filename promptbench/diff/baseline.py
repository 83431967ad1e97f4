"""Baseline files, and opening either side of a diff: a stored run or a baseline file.

A baseline is a run's results reduced to what a comparison needs, in a file meant to
be committed next to the suite::

    {
      "format": "promptbench-baseline",
      "version": 1,
      "suite": {"name", "hash", "metrics", "repeat", "regression"},
      "run": {"run_id", "started_at", "commit", "promptbench"},
      "variants": [...], "models": {"mini": {"provider", "model"}},
      "records": [
        {"case_id", "variant", "model", "repeat", "passed",
         "scores": {"exact": {"value", "passed"}}, "output", "error"},
        ...
      ]
    }

Stable: keys sorted, records ordered by variant, model, case id (naturally: q2 before
q10) and repeat, one record per line, and no time of saving; the same run saved twice
gives the same bytes, and a re-baselined suite shows a readable ``git diff``. No
secrets: no model settings beyond provider and model name (no base URL, no key or where
a key lives), no environment, no variables of the cases, no error messages (a
provider's message can quote part of a key) — a call error keeps its kind only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptbench.bulk import gc_paused
from promptbench.diff.pairing import natural_key
from promptbench.diff.result import SideInfo
from promptbench.diff.sources import Source
from promptbench.errors import RunStoreError, UsageError
from promptbench.runner.store import iter_record_dicts
from promptbench.runs import StoredRun
from promptbench.suite.regression import RegressionRule
from promptbench.types import CallError, ProbeTag, Record, Score

FORMAT = "promptbench-baseline"
VERSION = 1


def _record_json(d: Mapping[str, Any], outputs: bool) -> dict[str, Any]:
    """A baseline's record from a ``records.jsonl`` line (as Record.from_json reads it)."""
    scores: dict[str, Any] = {}
    for name, s in (d.get("scores") or {}).items():
        entry: dict[str, Any] = {"value": s.get("value"), "passed": s.get("passed")}
        if s.get("error") is not None:
            entry["error"] = True  # the message stays out: see the module docstring
        scores[name] = entry
    err = d.get("error")
    out: dict[str, Any] = {
        "case_id": d["case_id"],
        "variant": d["variant"],
        "model": d["model"],
        "repeat": d["repeat"],
        "passed": d.get("passed"),
        "scores": scores,
        "error": err["kind"] if err else None,
    }
    if outputs:
        out["output"] = d.get("output")
    if d.get("probe"):  # a probe's twin: which probe, of which original case
        out["probe"] = ProbeTag.from_json(d["probe"]).to_json()
    return out


def baseline_json(run: StoredRun, *, outputs: bool = True) -> tuple[str, int]:
    """The baseline file's text for ``run``, and how many records it holds."""
    meta = run.meta
    head = {
        "format": FORMAT,
        "version": VERSION,
        "suite": {
            "name": meta.suite.name,
            "hash": meta.suite.hash,
            "metrics": list(meta.suite.metrics),
            "repeat": meta.suite.repeat,
            "regression": [r.rule().to_json() for r in meta.suite.regression],
        },
        "run": {
            "run_id": run.run_id,
            "started_at": meta.started_at,
            "status": run.status,
            "commit": meta.git.commit if meta.git else None,
            "promptbench": meta.promptbench,
        },
        "variants": run.variants,
        "models": {
            name: {"provider": m.provider, "model": m.model} for name, m in meta.models.items()
        },
    }
    try:
        # Read as lines, no Record built: a baseline keeps a few fields of each record.
        with gc_paused():
            read = iter_record_dicts(run.run_dir, exact_big_ints=False)  # no variables read
            records = [_record_json(d, outputs) for d in read]
    except (KeyError, TypeError, AttributeError) as exc:  # a line that is not a record
        raise RunStoreError(f"{run.run_dir}: corrupt record: {exc!r}") from None
    records.sort(key=lambda d: (d["variant"], d["model"], natural_key(d["case_id"]), d["repeat"]))
    text = json.dumps(head, indent=2, sort_keys=True, ensure_ascii=False)
    lines = ",\n".join(
        "    " + json.dumps(d, sort_keys=True, ensure_ascii=False, allow_nan=False) for d in records
    )
    body = f'"records": [\n{lines}\n  ]' if records else '"records": []'
    return text[: text.rindex("}")].rstrip() + f",\n  {body}\n}}\n", len(records)


def save_baseline(run: StoredRun, path: Path, *, outputs: bool = True) -> int:
    """Write ``run`` as a baseline file at ``path`` (atomically); return the record count."""
    text, n = baseline_json(run, outputs=outputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return n


def _record_from(d: dict[str, Any]) -> Record:
    scores = {
        name: Score(
            name,
            s.get("value"),
            None if s.get("error") else s.get("passed"),
            error="error in the baseline run" if s.get("error") else None,
        )
        for name, s in (d.get("scores") or {}).items()
    }
    err = d.get("error")
    return Record(
        case_id=str(d["case_id"]),
        variant=str(d["variant"]),
        model=str(d["model"]),
        repeat=int(d.get("repeat", 0)),
        vars={},
        messages=(),
        output=d.get("output"),
        scores=scores,
        passed=d.get("passed"),
        error=CallError(str(err), "call error in the baseline run") if err else None,
        probe=ProbeTag.from_json(d["probe"]) if isinstance(d.get("probe"), dict) else None,
    )


def load_baseline(path: Path, label: str | None = None) -> Source:
    """Read a baseline file; a UsageError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such baseline file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a promptbench baseline (unreadable JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(
            f"{path}: not a promptbench baseline; write one with promptbench baseline save RUN PATH"
        )
    if data.get("version") != VERSION:
        raise UsageError(
            f"{path}: baseline version {data.get('version')!r} is not supported "
            f"(this promptbench reads version {VERSION}); save the baseline again"
        )
    records = data.get("records")
    required = ("case_id", "variant", "model")
    if not isinstance(records, list) or not all(
        isinstance(d, dict) and all(k in d for k in required) for d in records
    ):
        raise UsageError(f"{path}: corrupt baseline: every record needs case_id, variant, model")
    suite = data.get("suite") or {}
    info = SideInfo(
        label=label or str(path),
        source=str(path),
        kind="baseline",
        suite=str(suite.get("name", "")),
        suite_hash=str(suite.get("hash", "")),
    )
    stored_rules = suite.get("regression") or []
    rules = [r for d in stored_rules if (r := RegressionRule.from_json(d)) is not None]
    metrics = [str(m) for m in suite.get("metrics") or []]
    return Source(info, metrics, rules, path, [_record_from(d) for d in records])
