"""Model-graded metrics: ``judge`` (a rubric), ``closedqa`` and ``factuality``.

The judge is any model named in the suite; its calls go through the run's cache,
retries and concurrency limits. It is asked for structured output (a JSON schema
in ``response_format``, which hosted OpenAI, vLLM, llama.cpp and the local
provider enforce), and its answer is then parsed strictly: an answer that does
not parse is an *error* verdict, never a fail, and its raw text and reasoning are
kept in the record (``details``). ``closedqa`` and ``factuality`` follow the
prompts of OpenAI Evals' model-graded specs, asking for JSON instead of a letter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from promptbench.config import MetricParams
from promptbench.errors import MetricError, ProviderError
from promptbench.metrics.base import Sample, metric
from promptbench.metrics.structure import strip_fence
from promptbench.types import Message, Score, messages_text

Structured = Literal["json_schema", "json_object", "none"]


class JudgeBase(MetricParams):
    """What every model-graded metric takes."""

    model_fields_named: ClassVar[tuple[str, ...]] = ("model",)

    model: str = Field(description="the suite model that grades (judge_only: true to not test it)")
    structured_output: Structured = Field(
        default="json_schema",
        description="how the judge is held to JSON: json_schema, json_object, or none "
        "(for servers without response_format; the answer is still parsed strictly)",
    )


class JudgeParams(JudgeBase):
    """Parameters of ``judge``."""

    shorthand = None

    rubric: str = Field(description="what a good output does (a template over the case)")
    scale: int | None = Field(
        default=None,
        ge=2,
        le=100,
        description="grade 1..scale (score (g-1)/(scale-1)); default: pass or fail",
    )
    include_prompt: bool = Field(default=True, description="show the judge the prompt too")


class ClosedQAParams(JudgeBase):
    """Parameters of ``closedqa``."""

    criteria: str = Field(description="the criterion the answer must meet (a template)")


class FactualityParams(JudgeBase):
    """Parameters of ``factuality``."""

    expected: str = Field(
        default="{{ expected }}", description="the expert answer; default: the case's expected"
    )

    @model_validator(mode="after")
    def _nonempty(self) -> FactualityParams:
        if not self.expected.strip():
            raise ValueError("factuality needs an expected answer")
        return self


def _conversation(messages: Sequence[Message]) -> str:
    return messages_text(messages)  # tool calls and results too, in a conversation


def _task(sample: Sample) -> str:
    """The task as the judge sees it: the last user message of the prompt."""
    users = [m.content for m in sample.prompt if m.role == "user"]
    return users[-1] if users else ""


def response_format(schema: Mapping[str, Any], structured: Structured) -> dict[str, Any] | None:
    """The ``response_format`` request parameter for ``schema``."""
    if structured == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": dict(schema), "strict": True},
        }
    if structured == "json_object":
        return {"type": "json_object"}
    return None


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_json_answer(text: str) -> dict[str, Any]:
    """The judge's JSON object: the whole answer, a fenced block, or the one object in it."""
    candidates = [text.strip(), strip_fence(text).strip()]
    found = _OBJECT.search(text)
    if found:
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise MetricError("the judge's answer is not a JSON object")


async def ask(
    sample: Sample, params: JudgeBase, messages: list[Message], schema: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ask the judge; return its parsed answer and the details kept in the record.

    Raises MetricError (the answer does not parse: an error verdict) carrying the
    details, or ProviderError (the call failed after retries).
    """
    if sample.models is None:
        raise MetricError("model-graded metrics need the runner's models")
    call_params: dict[str, Any] = {"temperature": 0}
    fmt = response_format(schema, params.structured_output)
    if fmt is not None:
        call_params["response_format"] = fmt
    completion = await sample.models.complete(params.model, messages, call_params)
    details: dict[str, Any] = {"judge": params.model, "raw": completion.text}
    try:
        answer = parse_json_answer(completion.text)
    except MetricError as exc:
        raise _Unparsed(str(exc), details) from None
    if isinstance(answer.get("reasoning"), str):
        details["reasoning"] = answer["reasoning"]
    return answer, details


class _Unparsed(MetricError):
    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


async def _graded(
    sample: Sample,
    params: JudgeBase,
    messages: list[Message],
    schema: Mapping[str, Any],
    grade: Any,
) -> Score:
    """Ask, then turn the answer into a Score with ``grade(answer) -> (value, passed, reason)``."""
    name = type(params).__name__
    try:
        answer, details = await ask(sample, params, messages, schema)
    except _Unparsed as exc:
        return Score(name, None, None, error=str(exc), details=exc.details)
    except ProviderError as exc:
        return Score(
            name,
            None,
            None,
            error=f"the judge call failed: {exc.message}",
            details={"judge": params.model},
        )
    try:
        value, passed, reason = grade(answer)
    except (KeyError, TypeError, ValueError) as exc:
        return Score(
            name, None, None, error=f"the judge's answer does not fit: {exc}", details=details
        )
    return Score(name, value, passed, reason, details=details)


JUDGE_SYSTEM = (
    "You are a strict, impartial grader of an AI assistant's output. Judge only against the "
    "rubric. Answer with a JSON object and nothing else."
)


@metric(
    "judge",
    params=JudgeParams,
    summary="a model grades the output against a rubric (pass/fail or a 1-N scale)",
    example='judge: {rubric: "Is the answer polite and does it name the queue?", model: mini}',
)
async def judge(sample: Sample, params: JudgeParams) -> Score:
    """Grade the output against the rubric with the judge model."""
    parts = []
    if params.include_prompt:
        parts.append(f"[Prompt]\n{_conversation(sample.prompt)}")
    parts.append(f"[Output]\n{sample.output}")
    if sample.tool_calls:  # what the assistant did on the way to its answer
        calls = "\n".join(f"{c.name}({c.raw_arguments})" for c in sample.tool_calls)
        parts.append(f"[Tool calls made]\n{calls}")
    if sample.case.expected is not None:
        parts.append(f"[Reference answer]\n{sample.case.expected}")
    parts.append(f"[Rubric]\n{params.rubric}")
    if params.scale is None:
        ask_for = (
            '{"reasoning": "<one or two sentences>", "verdict": "pass" or "fail"}: pass '
            "only if the output meets the rubric"
        )
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "verdict": {"type": "string", "enum": ["pass", "fail"]},
            },
            "required": ["reasoning", "verdict"],
            "additionalProperties": False,
        }
    else:
        ask_for = (
            f'{{"reasoning": "<one or two sentences>", "score": <an integer from 1 to '
            f"{params.scale}>}}: {params.scale} means the output fully meets the rubric, "
            "1 that it does not at all"
        )
        schema = {
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "score": {"type": "integer", "minimum": 1, "maximum": params.scale},
            },
            "required": ["reasoning", "score"],
            "additionalProperties": False,
        }
    messages = [
        Message("system", JUDGE_SYSTEM),
        Message("user", "\n\n".join(parts) + f"\n\nAnswer with JSON: {ask_for}."),
    ]

    def grade(answer: dict[str, Any]) -> tuple[float, bool | None, str]:
        reason = str(answer.get("reasoning", ""))
        if params.scale is None:
            verdict = str(answer["verdict"]).strip().lower()
            if verdict not in ("pass", "fail"):
                raise ValueError(f"verdict {answer['verdict']!r} is neither pass nor fail")
            return (1.0 if verdict == "pass" else 0.0), verdict == "pass", reason
        raw = answer["score"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != int(raw):
            raise ValueError(f"score {raw!r} is not an integer")
        if not 1 <= raw <= params.scale:
            raise ValueError(f"score {raw} is outside 1..{params.scale}")
        value = (int(raw) - 1) / (params.scale - 1)
        passed = None if params.threshold is not None else value >= 0.5
        return value, passed, f"{int(raw)}/{params.scale}: {reason}"

    return await _graded(sample, params, messages, schema, grade)


_CHOICE_SCHEMA = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["reasoning", "answer"],
    "additionalProperties": False,
}


def _choice(answer: dict[str, Any], allowed: Sequence[str]) -> str:
    choice = str(answer["answer"]).strip().strip("().").upper()
    if choice not in allowed:
        raise ValueError(f"answer {answer['answer']!r} is not one of {', '.join(allowed)}")
    return choice


@metric(
    "closedqa",
    params=ClosedQAParams,
    summary="a model checks that the output meets a criterion (OpenAI Evals closedqa)",
    example='closedqa: {criteria: "Does the answer cite a ticket id?", model: mini}',
)
async def closedqa(sample: Sample, params: ClosedQAParams) -> Score:
    """Ask the judge whether the submission meets the criterion (Y or N)."""
    prompt = (
        "You are assessing a submitted answer on a given task based on a criterion. Here is "
        "the data:\n[BEGIN DATA]\n***\n"
        f"[Task]: {_task(sample)}\n***\n[Submission]: {sample.output}\n***\n"
        f"[Criterion]: {params.criteria}\n***\n[END DATA]\n"
        "Does the submission meet the criterion? First, write out in a step by step manner "
        "your reasoning about the criterion to be sure that your conclusion is correct. Avoid "
        "simply stating the correct answers at the outset. Answer with JSON: "
        '{"reasoning": "<your reasoning>", "answer": "Y" or "N"}.'
    )

    def grade(answer: dict[str, Any]) -> tuple[float, bool, str]:
        choice = _choice(answer, ("Y", "N"))
        return (1.0 if choice == "Y" else 0.0), choice == "Y", str(answer.get("reasoning", ""))

    return await _graded(sample, params, [Message("user", prompt)], _CHOICE_SCHEMA, grade)


# OpenAI Evals' fact.yaml choices, scored as autoevals scores them.
FACTUALITY_SCORES = {"A": 0.4, "B": 0.6, "C": 1.0, "D": 0.0, "E": 1.0}


@metric(
    "factuality",
    params=FactualityParams,
    summary="a model compares the output's facts with the expected answer (OpenAI Evals fact)",
    example="factuality: {model: mini}",
    default_threshold=0.6,
)
async def factuality(sample: Sample, params: FactualityParams) -> Score:
    """Ask the judge how the submission's facts relate to the expert answer (A-E)."""
    prompt = (
        "You are comparing a submitted answer to an expert answer on a given question. Here is "
        "the data:\n[BEGIN DATA]\n************\n"
        f"[Question]: {_task(sample)}\n************\n[Expert]: {params.expected}\n"
        f"************\n[Submission]: {sample.output}\n************\n[END DATA]\n\n"
        "Compare the factual content of the submitted answer with the expert answer. Ignore any "
        "differences in style, grammar, or punctuation.\nThe submitted answer may either be a "
        "subset or superset of the expert answer, or it may conflict with it. Determine which "
        "case applies. Answer the question by selecting one of the following options:\n"
        "(A) The submitted answer is a subset of the expert answer and is fully consistent "
        "with it.\n(B) The submitted answer is a superset of the expert answer and is fully "
        "consistent with it.\n(C) The submitted answer contains all the same details as the "
        "expert answer.\n(D) There is a disagreement between the submitted answer and the "
        "expert answer.\n(E) The answers differ, but these differences don't matter from the "
        "perspective of factuality.\nAnswer with JSON: "
        '{"reasoning": "<your reasoning>", "answer": "A", "B", "C", "D" or "E"}.'
    )

    def grade(answer: dict[str, Any]) -> tuple[float, None, str]:
        choice = _choice(answer, tuple(FACTUALITY_SCORES))
        return FACTUALITY_SCORES[choice], None, f"({choice}) {answer.get('reasoning', '')}"

    return await _graded(sample, params, [Message("user", prompt)], _CHOICE_SCHEMA, grade)
