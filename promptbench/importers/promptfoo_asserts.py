"""promptfoo assertions as promptbench metric entries.

One function, :func:`convert`, turns one assertion into the metric entries of a
suite (an ``assert-set`` into one per child) or says why it cannot. The config
importer uses it to write suites, and the results importer to line promptfoo's
per-assertion results up with the metrics of the imported suite, so the two can
never disagree about which assertion became which metric.

Semantics are promptfoo 0.121's, read from its source: ``equals`` compares exactly
(no trimming), ``starts-with`` does not skip leading whitespace, ``levenshtein``'s
threshold is a maximum edit distance (default 5), ``rouge-n`` is ROUGE-1 on
lowercased text (default threshold 0.75), ``bleu`` defaults to 0.5, ``similar``
to 0.75, a script's number passes above 0 unless a threshold is set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptbench.importers.nunjucks import to_jinja
from promptbench.importers.yamltext import Noted

__all__ = [
    "CHECKS_FILE",
    "AssertContext",
    "Converted",
    "LeftOut",
    "convert",
    "flatten",
    "split_values",
]

CHECKS_FILE = "promptfoo_checks.py"  # written beside a suite that needs it


@dataclass(frozen=True)
class LeftOut:
    """Something of the config that the suite does not have, where it was, and what to do."""

    where: str
    what: str
    instead: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}; {self.instead}"


@dataclass
class AssertContext:
    """What converting an assertion needs from the config around it."""

    relative_path: Callable[[str], str]  # a promptfoo file path, as the suite must write it
    grader: Callable[[Any], str]  # the suite model that grades (options.provider or default)
    needs_checks: bool = False  # set when an entry calls promptfoo_checks.py


@dataclass
class Converted:
    """The metric entries made from one assertion, and what was left out of it."""

    entries: list[Any] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)


# Assertions whose only meaning needs a model, a service or JavaScript.
_NO_METRIC = {
    "javascript": "write a python: metric instead",
    "webhook": "write a python: metric that calls the webhook",
    "select-best": "compare the variants with promptbench diff --variants A B instead",
    "max-score": "compare the variants with promptbench diff --variants A B instead",
    "human": "promptbench has no human grading; judge with a model: metric",
}
# promptfoo's assertion types scored without a model or a service.
DETERMINISTIC = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "contains-all",
        "icontains-any",
        "icontains-all",
        "starts-with",
        "regex",
        "is-json",
        "contains-json",
        "levenshtein",
        "rouge-n",
        "bleu",
        "word-count",
        "python",
        "is-refusal",
    }
)
# The rest of promptfoo's assertion types (a CSV cell's ``__expected`` may name any of them).
_NOT_DETERMINISTIC = frozenset(
    {
        "similar",
        "latency",
        "cost",
        "llm-rubric",
        "factuality",
        "model-graded-closedqa",
        "g-eval",
        "answer-relevance",
        "classifier",
        "context-faithfulness",
        "context-recall",
        "context-relevance",
        "perplexity",
        "perplexity-score",
        "is-xml",
        "contains-xml",
        "is-sql",
        "contains-sql",
        "is-html",
        "contains-html",
        "moderation",
        "webhook",
        "select-best",
        "finish-reason",
        "javascript",
    }
)
ASSERTION_TYPES = DETERMINISTIC | _NOT_DETERMINISTIC


def split_values(value: Any) -> list[str]:
    """A contains-any/-all value: a list, or text split at commas as promptfoo splits it.

    Fields may be double-quoted to hold commas (``"a, b", c``).
    """
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    out: list[str] = []
    i = 0
    while i < len(text):
        while i < len(text) and (text[i].isspace() or text[i] == ","):
            i += 1
        if i >= len(text):
            break
        if text[i] == '"':
            i += 1
            buf = []
            while i < len(text):
                if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
                    buf.append(text[i + 1])
                    i += 2
                elif text[i] == '"' and i + 1 < len(text) and text[i + 1] == '"':
                    buf.append('"')
                    i += 2
                elif text[i] == '"':
                    i += 1
                    break
                else:
                    buf.append(text[i])
                    i += 1
            out.append("".join(buf))
        else:
            end = text.find(",", i)
            end = len(text) if end == -1 else end
            out.append(text[i:end].strip())
            i = end
    return out


def flatten(assertions: list[Any]) -> list[Any]:
    """Assertions with every assert-set replaced by its children, in order."""
    out: list[Any] = []
    for a in assertions:
        if isinstance(a, dict) and a.get("type") == "assert-set":
            out.extend(flatten(list(a.get("assert") or [])))
        else:
            out.append(a)
    return out


def _template(value: Any, notes: list[str]) -> Any:
    if not isinstance(value, str):
        return value
    converted = to_jinja(value)
    notes.extend(converted.changes)
    return converted.text


def _short(value: Any, limit: int = 50) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _js_regex(pattern: str, notes: list[str]) -> str:
    # JavaScript's named groups (?<name>...) are Python's (?P<name>...).
    new = re.sub(r"\(\?<(?![=!])(\w+)>", r"(?P<\1>", pattern)
    if new != pattern:
        notes.append("JavaScript named groups (?<n>) written (?P<n>)")
    return new


def _schema(value: Any, ctx: AssertContext) -> Any:
    """A schema given inline (a mapping or YAML/JSON text) or as file://."""
    if isinstance(value, str) and value.startswith("file://"):
        return ctx.relative_path(value.removeprefix("file://"))
    if isinstance(value, str):
        import yaml

        return yaml.safe_load(value)
    return value


def convert(assertion: Any, where: str, ctx: AssertContext) -> Converted:
    """The metric entries for one promptfoo assertion (several for an assert-set)."""
    result = Converted()
    if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
        result.left_out.append(
            LeftOut(where, "an assertion without a type", "give it a type: ... or remove it")
        )
        return result
    kind: str = assertion["type"]
    if kind == "assert-set":
        _assert_set(assertion, where, ctx, result)
        return result
    negate = kind.startswith("not-")
    base = kind.removeprefix("not-")
    if assertion.get("transform"):
        result.left_out.append(
            LeftOut(
                where,
                f"{kind} assertion with a transform: {_short(assertion['transform'])}",
                "transforms run JavaScript; check the transformed output in a python: metric",
            )
        )
        return result
    if base in _NO_METRIC:
        what = f"{base} assertion"
        if "value" in assertion:
            what += f": {_short(assertion['value'])}"
        result.left_out.append(LeftOut(where, what, _NO_METRIC[base]))
        return result
    notes: list[str] = []
    made = _metric(base, assertion, ctx, notes)
    if isinstance(made, str):
        result.left_out.append(LeftOut(where, f"{kind} assertion", made))
        return result
    name, params = made
    if assertion.get("metric"):
        params["name"] = str(assertion["metric"])
    weight = assertion.get("weight")
    if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight != 1:
        params["weight"] = weight
    entry: Any = {name: params}
    if negate:
        entry = {"not_": entry}
    note = f"promptfoo {kind}" + (": " + "; ".join(dict.fromkeys(notes)) if notes else "")
    result.entries.append(Noted(entry, note))
    return result


def _assert_set(assertion: dict[str, Any], where: str, ctx: AssertContext, out: Converted) -> None:
    children = list(assertion.get("assert") or [])
    if assertion.get("threshold") is not None:
        out.left_out.append(
            LeftOut(
                where,
                f"assert-set threshold {assertion['threshold']}: its "
                f"{len(children)} assertions are written as separate metrics, each of which "
                "must pass",
                "give the case a threshold: to accept a weighted mean instead",
            )
        )
    for i, child in enumerate(children):
        inner = convert(child, f"{where}.assert[{i}]", ctx)
        if isinstance(child, dict) and assertion.get("metric") and not child.get("metric"):
            for entry in inner.entries:
                _name_entry(entry, str(assertion["metric"]))
        out.entries.extend(inner.entries)
        out.left_out.extend(inner.left_out)


def _name_entry(entry: Noted, name: str) -> None:
    inner = entry.value
    if "not_" in inner:
        inner = inner["not_"]
    params = next(iter(inner.values()))
    params.setdefault("name", name)


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _metric(
    base: str, a: dict[str, Any], ctx: AssertContext, notes: list[str]
) -> tuple[str, dict[str, Any]] | str:
    """(metric, params) for one assertion type, or why there is none."""
    value = a.get("value")
    threshold = _num(a.get("threshold"))
    if base == "equals":
        if isinstance(value, (dict, list)):
            ctx.needs_checks = True
            return "python", {
                "file": CHECKS_FILE,
                "function": "equals_json",
                "args": {"value": value},
            }
        notes.append("compared exactly, as promptfoo does (normalize: [])")
        return "exact", {"expected": _template(str(value), notes), "normalize": []}
    if base in ("contains", "icontains"):
        if value is None or value == "":
            return "give it a value"
        return base, {"value": _template(str(value), notes)}
    if base in ("contains-any", "contains-all", "icontains-any", "icontains-all"):
        values = [_template(v, notes) for v in split_values(value)]
        params: dict[str, Any] = {"values": values}
        if base.startswith("i"):
            params["ignore_case"] = True
        return base.removeprefix("i").replace("-", "_"), params
    if base == "starts-with":
        notes.append("leading whitespace counts, as in promptfoo (strip: false)")
        return "starts_with", {"value": _template(str(value), notes), "strip": False}
    if base == "regex":
        return "regex", {"pattern": _js_regex(_template(str(value), notes), notes)}
    if base == "is-json":
        if value:
            return "json_schema", {"schema": _schema(value, ctx), "allow_fence": False}
        return "json_valid", {"allow_fence": False}
    if base == "contains-json":
        ctx.needs_checks = True
        args: dict[str, Any] = {}
        if value:
            schema = _schema(value, ctx)
            if isinstance(schema, str):
                return "a schema in a file: inline it in the assertion's value"
            args["schema"] = schema
        notes.append("JSON anywhere in the output, as promptfoo looks for it")
        return "python", {"file": CHECKS_FILE, "function": "contains_json", "args": args}
    if base == "levenshtein":
        distance = int(threshold) if threshold is not None else 5
        if threshold is not None and threshold != int(threshold):
            notes.append(f"threshold {threshold:g} read as {distance} edits")
        notes.append(f"passes within {distance} edits (promptfoo's threshold is a distance)")
        return "levenshtein", {
            "reference": _template(str(value), notes),
            "max_distance": distance,
            "normalize": [],
        }
    if base in ("rouge-n", "bleu", "similar"):
        if isinstance(value, list):
            if base == "rouge-n":
                return "give one reference"
            notes.append(f"first of {len(value)} references only")
            value = value[0]
        default = {"rouge-n": 0.75, "bleu": 0.5, "similar": 0.75}[base]
        metric = {"rouge-n": "rouge1", "bleu": "bleu", "similar": "semantic_similarity"}[base]
        if base == "bleu":
            notes.append(
                "sacrebleu's sentence BLEU; promptfoo's own BLEU differs near the threshold"
            )
        if base == "similar":
            notes.append("embeddings of all-MiniLM-L6-v2, not promptfoo's OpenAI embeddings")
        if base == "rouge-n":
            notes.append("rouge-score's tokens; promptfoo also counts punctuation as tokens")
        return metric, {
            "reference": _template(str(value), notes),
            "threshold": threshold if threshold is not None else default,
        }
    if base == "latency":
        if threshold is None:
            return "give it a threshold (milliseconds)"
        return "latency", {"max_ms": threshold}
    if base == "cost":
        if threshold is None:
            return "give it a threshold (USD)"
        return "cost", {"max_usd": threshold}
    if base == "is-refusal":
        notes.append("promptbench's refusal phrases; promptfoo also counts an empty output")
        return "is_refusal", {}
    if base == "word-count":
        if isinstance(value, dict):
            bounds = {k: int(value[k]) for k in ("min", "max") if value.get(k) is not None}
            return "word_count", bounds
        count = _num(value)
        if count is None:
            return "give it a number or {min, max}"
        return "word_count", {"min": int(count), "max": int(count)}
    if base == "python":
        ctx.needs_checks = True
        text = str(value or "")
        py_args: dict[str, Any] = {}
        if text.startswith("file://"):
            ref = text.removeprefix("file://")
            path, _, function = ref.partition(":")
            py_args["file"] = ctx.relative_path(path)
            if function:
                py_args["function"] = function
        else:
            py_args["code"] = text
        if threshold is not None:
            py_args["threshold"] = threshold
        if a.get("config"):
            py_args["config"] = a["config"]
        return "python", {"file": CHECKS_FILE, "function": "python_assertion", "args": py_args}
    if base in ("llm-rubric", "model-graded-closedqa", "factuality", "g-eval"):
        model = ctx.grader(a.get("provider"))
        text = _template(str(value or ""), notes)
        if base == "llm-rubric":
            params = {"rubric": text, "model": model}
        elif base == "model-graded-closedqa":
            params = {"criteria": text, "model": model}
        elif base == "factuality":
            params = {"expected": text, "model": model}
        else:
            params = {"rubric": text, "model": model, "scale": 10}
            params["threshold"] = threshold if threshold is not None else 0.7
            notes.append("graded on a 10-point scale, passing at 0.7 as g-eval does")
        if base == "llm-rubric" and threshold is not None:
            params["scale"] = 10
            params["threshold"] = threshold
        return (
            "judge"
            if base in ("llm-rubric", "g-eval")
            else "closedqa"
            if base == "model-graded-closedqa"
            else "factuality"
        ), params
    if base == "tool-call-f1" and _has_metric("tool_calls_match"):
        names = split_values(value) if value is not None else []
        return "tool_calls_match", {
            "expected": [{"name": n} for n in names],
            "threshold": threshold if threshold is not None else 1.0,
        }
    return f"promptbench has no {base} metric; write a python: metric instead"


def _has_metric(name: str) -> bool:
    from promptbench.metrics import metrics

    return name in metrics


def is_deterministic(assertion: Any) -> bool:
    """Whether both tools judge this assertion from the output alone, the same way."""
    if not isinstance(assertion, dict):
        return False
    kind = str(assertion.get("type", "")).removeprefix("not-")
    return kind in DETERMINISTIC and not assertion.get("transform")


def relative_to(suite_dir: Path, config_dir: Path) -> Callable[[str], str]:
    """A function giving a config-relative path as a path relative to the suite."""
    import os

    def rel(path: str) -> str:
        target = (config_dir / path).resolve()
        return Path(os.path.relpath(target, suite_dir.resolve())).as_posix()

    return rel
