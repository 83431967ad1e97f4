"""A promptfoo results file (``promptfoo eval -o out.json``) as a stored promptbench run.

The results carry the config they were made from. Converting that config as
``import promptfoo`` does gives the suite, and the map from promptfoo's numbering
(``testIdx``, ``promptIdx``) to the suite's cases, repeats, variants and models;
each assertion's result becomes the score of the metric converted from it. The
run is written through the run store's writer, so ``promptbench diff`` compares
it with a promptbench run of the imported suite case by case.

A record's verdict is promptfoo's own (``success``), so that a comparison shows
what changed on moving; its scores are those of the assertions the suite has.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptbench.errors import UsageError
from promptbench.importers import promptfoo_asserts as asserts
from promptbench.importers.promptfoo_config import CaseSlot, Conversion
from promptbench.types import CallError, Message, Record, Score, Usage

if TYPE_CHECKING:
    from promptbench.runner.store import RunInfo
    from promptbench.suite import Suite

__all__ = ["ImportedResults", "read_results", "records_from_results"]

_SECRET = re.compile(r"(sk-[A-Za-z0-9_-]{6,}|Bearer\s+\S+|api[_-]?key[=:]\s*\S+)", re.IGNORECASE)
ERROR = 2  # promptfoo's ResultFailureReason.ERROR: the call failed; 1 is a failed assertion


@dataclass
class ImportedResults:
    """What a promptfoo results file holds that the importer uses."""

    config: dict[str, Any]
    results: list[dict[str, Any]]
    prompts: list[dict[str, Any]]
    version: str | None = None
    eval_id: str | None = None
    skipped: list[str] = field(default_factory=list)


def read_results(path: Path) -> ImportedResults:
    """Read ``out.json``; a UsageError naming the file when it is not promptfoo's output."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such file; give promptfoo's -o output (a .json file)"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not JSON ({exc}); give promptfoo's -o output as .json") from None
    body = data.get("results") if isinstance(data, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise UsageError(
            f"{path}: not a promptfoo results file (no results.results); "
            "write one with promptfoo eval -o out.json"
        )
    config = data.get("config")
    if not isinstance(config, dict):
        raise UsageError(f"{path}: the results hold no config; pass the config with --config")
    meta = data.get("metadata") or {}
    return ImportedResults(
        config=config,
        results=body["results"],
        prompts=list(body.get("prompts") or []),
        version=meta.get("promptfooVersion") if isinstance(meta, dict) else None,
        eval_id=data.get("evalId"),
    )


def _redact(text: str) -> str:
    return _SECRET.sub("[REDACTED]", text)


def _messages(prompt: Any) -> tuple[Message, ...]:
    raw = prompt.get("raw") if isinstance(prompt, dict) else None
    if not isinstance(raw, str):
        return ()
    stripped = raw.strip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list) and all(isinstance(m, dict) for m in data):
            return tuple(Message(str(m.get("role")), str(m.get("content"))) for m in data)
    return (Message("user", raw),)


def _components(result: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """Per-assertion results in assertion order, an assert-set's children in its place.

    promptfoo lists the test's assertions first (an assert-set as one entry holding
    its children), then repeats the children of every set flattened; the repeats are
    left out here.
    """
    grading = result.get("gradingResult") or {}
    top = list(grading.get("componentResults") or [])[:count]
    out: list[dict[str, Any]] = []
    for comp in top:
        # An assert-set's entry names no assertion; it holds its children's results.
        if isinstance(comp, dict) and "componentResults" in comp and "assertion" not in comp:
            out.extend(_components({"gradingResult": comp}, 10**6))
        else:
            out.append(comp)
    return out


def _score(name: str, comp: dict[str, Any], weight: float) -> Score:
    value = comp.get("score")
    number = float(value) if isinstance(value, (int, float)) else None
    if number is not None:
        number = min(max(number, 0.0), 1.0)
    passed = comp.get("pass")
    return Score(
        name,
        number,
        bool(passed) if isinstance(passed, bool) else None,
        _redact(str(comp.get("reason") or ""))[:500],
        None if isinstance(passed, bool) else "promptfoo gave no verdict",
        weight,
    )


def records_from_results(
    imported: ImportedResults, conversion: Conversion, suite: Suite
) -> list[Record]:
    """One record per promptfoo result, in the suite's names."""
    cases = {case.id: case for case in suite.iter_cases()}
    prompt_of = _prompt_positions(imported.prompts, conversion)
    ctx = asserts.AssertContext(relative_path=lambda p: p, grader=lambda spec: "grader")
    records: list[Record] = []
    find = _SlotFinder(conversion.slots)
    ordered = sorted(imported.results, key=lambda r: (r.get("testIdx", 0), r.get("promptIdx", 0)))
    for result in ordered:
        prompt_idx = result.get("promptIdx")
        if not isinstance(prompt_idx, int):
            raise UsageError("a result has no promptIdx; is this promptfoo's -o output?")
        where = prompt_of.get(prompt_idx)
        slot = find(result)
        if where is None:
            imported.skipped.append(
                f"result of test {result.get('testIdx')}: its prompt or provider was left out"
            )
            continue
        variant_name, model_name = where
        repeat = find.repeat(slot.case_id, prompt_idx)
        case = cases[slot.case_id]
        specs = list(suite.metrics_for(suite.variants[variant_name], case))
        scores: dict[str, Score] = {}
        flat = asserts.flatten(slot.assertions)
        comps = _components(result, len(slot.assertions))
        queue = list(specs)
        for assertion, comp in zip(flat, comps, strict=False):
            made = asserts.convert(assertion, "", ctx)
            for _ in made.entries:
                if not queue:
                    raise UsageError(
                        f"the suite has fewer metrics than test {result.get('testIdx')}'s "
                        "assertions; "
                        "import the suite again from the same config"
                    )
                spec = queue.pop(0)
                scores[spec.name] = _score(spec.name, comp, spec.weight)
        response = result.get("response") or {}
        output = response.get("output")
        if output is not None and not isinstance(output, str):
            output = json.dumps(output, ensure_ascii=False)
        usage = result.get("tokenUsage") or response.get("tokenUsage") or {}
        error = None
        if result.get("failureReason") == ERROR:
            error = CallError("unknown", _redact(str(result.get("error") or "error"))[:500])
        cost = result.get("cost")
        records.append(
            Record(
                case_id=slot.case_id,
                variant=variant_name,
                model=model_name,
                repeat=repeat,
                vars=dict(case.vars),
                messages=_messages(result.get("prompt")),
                expected=case.expected,
                output=output,
                scores=scores if error is None else {},
                passed=None if error is not None else bool(result.get("success")),
                usage=Usage(int(usage.get("prompt") or 0), int(usage.get("completion") or 0)),
                latency_ms=float(result["latencyMs"])
                if result.get("latencyMs") is not None
                else None,
                cost=float(cost) if isinstance(cost, (int, float)) else None,
                error=error,
                cached=bool(response.get("cached")),
                finish_reason=response.get("finishReason"),
            )
        )
    return records


def _key(vars_: Any, description: Any) -> str:
    return json.dumps([vars_, description or None], sort_keys=True, default=str)


class _SlotFinder:
    """Which imported case a result is, and which repeat of it.

    ``testIdx`` says it when the config's tests are numbered as here; when they are
    not (promptfoo takes a glob's files in the file system's order, which need not be
    sorted), the result is found by its vars and description instead.
    """

    def __init__(self, slots: list[CaseSlot]) -> None:
        self.slots = slots
        self.by_key: dict[str, CaseSlot] = {}
        for slot in slots:
            self.by_key.setdefault(_key(slot.vars, slot.description), slot)
        self.seen: dict[tuple[str, int], int] = {}

    def __call__(self, result: dict[str, Any]) -> CaseSlot:
        idx = result.get("testIdx")
        test = result.get("testCase") or {}
        reported = result.get("vars") or test.get("vars") or {}
        if isinstance(idx, int) and 0 <= idx < len(self.slots):
            slot = self.slots[idx]
            if all(reported.get(k) == v for k, v in slot.vars.items()):
                return slot
        found = self.by_key.get(_key(reported, test.get("description")))
        if found is None:
            raise UsageError(
                f"result of test {idx} (vars {json.dumps(reported)[:80]}) is no test of the "
                "config; pass the config the results were made with (--config)"
            )
        return found

    def repeat(self, case_id: str, prompt_idx: int) -> int:
        """The repeat of this (case, prompt column): results come in testIdx order."""
        n = self.seen.get((case_id, prompt_idx), 0)
        self.seen[(case_id, prompt_idx)] = n + 1
        return n


def _prompt_positions(
    prompts: list[dict[str, Any]], conversion: Conversion
) -> dict[int, tuple[str, str]]:
    """PromptIdx -> (variant, model): promptfoo numbers prompts provider by provider."""
    models = {m.key: m for m in conversion.models}
    seen: dict[str, int] = {}
    out: dict[int, tuple[str, str]] = {}
    for idx, prompt in enumerate(prompts):
        key = str(prompt.get("provider", ""))
        position = seen.get(key, 0)
        seen[key] = position + 1
        model = models.get(key)
        if model is None or model.entry is None or position >= len(conversion.variants):
            continue
        variant = conversion.variants[position]
        if variant.entry is None:
            continue
        out[idx] = (variant.name, model.name)
    return out


def write_run(
    records: list[Record], suite: Suite, runs_dir: Path, source: Path, imported: ImportedResults
) -> RunInfo:
    """Store the records as a run of ``suite`` through the run store's writer."""
    from promptbench.runner.store import RunWriter

    variants = list(dict.fromkeys(r.variant for r in records)) or list(suite.variants)
    models = list(dict.fromkeys(r.model for r in records)) or [
        n for n, m in suite.models.items() if not m.judge_only
    ]
    options = {
        "imported_from": "promptfoo",
        "source": str(source),
        "promptfoo_version": imported.version,
        "promptfoo_eval_id": imported.eval_id,
    }
    writer = RunWriter(runs_dir, suite, options=options, variants=variants, models=models)
    counts = {"records": 0, "errors": 0, "cached": 0, "retries": 0}
    for record in records:
        writer.write(record)
        counts["records"] += 1
        counts["errors"] += record.error is not None
        counts["cached"] += record.cached
    writer.flush()  # records are written in batches: a disk fault is raised here, not lost
    return writer.finish("finished", counts)
