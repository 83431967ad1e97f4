"""The value objects every layer shares.

A :class:`Case` is one row of a dataset. A :class:`Prompt` is what one call sends:
rendered messages plus output-affecting parameters. A :class:`Completion` is what
came back. A :class:`Score` is one metric's verdict on it, and a :class:`Record`
is everything about one call, as it is written to ``records.jsonl``.

These are plain slotted dataclasses: they are created once per call on the hot
path, so they stay cheap; user input is validated by pydantic in ``suite``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from promptbench.server_limits import RateLimit

ScoreVerdict = Literal["pass", "fail", "error"]  # a score's, or a record's over its scores


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: str
    content: str

    def to_json(self) -> dict[str, str]:
        """Return the OpenAI wire form."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True, eq=False)  # identity-hashed: params is a dict
class MetricSpec:
    """A metric as the suite names it: which metric, under what name, with which params.

    ``params`` are the raw, validated parameters; strings in them may be Jinja2
    templates that are rendered per case.
    """

    kind: str
    name: str
    params: Mapping[str, Any]
    weight: float = 1.0
    threshold: float | None = None
    negate: bool = False  # written ``not_: {metric: ...}``: passes when the metric fails


@dataclass(frozen=True, slots=True, eq=False)  # identity-hashed: details is a dict
class ProbeTag:
    """What makes a case a probe's twin: which probe, of which original case, and how.

    ``details`` is JSON-able: the vars changed, the groups swapped, the injected
    payload and its canary, a paraphrase still to be made.
    """

    name: str  # the probe's name in the suite
    kind: str  # typos, case, gender, injection, ...
    origin: str  # the id of the original case
    target: Literal["vars", "prompt"] = "vars"
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a record."""
        return {
            "name": self.name,
            "kind": self.kind,
            "origin": self.origin,
            "target": self.target,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeTag:
        """Rebuild a tag from its JSON form."""
        target: Literal["vars", "prompt"] = "prompt" if data.get("target") == "prompt" else "vars"
        return cls(
            str(data["name"]),
            str(data["kind"]),
            str(data["origin"]),
            target,
            dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class Case:
    """One row of a dataset, or a probe's twin of one (``probe`` set)."""

    id: str
    vars: Mapping[str, Any]
    expected: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[MetricSpec, ...] = ()
    threshold: float | None = None  # weighted-score pass mark; None: every metric must pass
    probe: ProbeTag | None = None  # set on a probe's twin; None on an original case

    def context(self) -> dict[str, Any]:
        """Return the variables a template sees: the vars, plus ``expected`` and ``case_id``."""
        ctx: dict[str, Any] = {"case_id": self.id, "metadata": self.metadata}
        if self.expected is not None:
            ctx["expected"] = self.expected
        ctx.update(self.vars)
        return ctx


@dataclass(frozen=True, slots=True)
class Prompt:
    """The rendered messages of one call and the parameters that shape the output."""

    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, int]:
        """Return the JSON form."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """What a model answered, and what the call cost in time and tokens."""

    text: str
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    finish_reason: str | None = None
    model: str | None = None
    rate_limit: RateLimit | None = None  # what the server said of its limits, if anything


@dataclass(frozen=True, slots=True)
class Score:
    """One metric's verdict on one output.

    ``value`` is in [0, 1]; ``passed`` is None exactly when ``error`` is set: an
    error is neither a pass nor a fail and never enters a mean.
    """

    name: str
    value: float | None
    passed: bool | None
    reason: str = ""
    error: str | None = None
    weight: float = 1.0
    # What a model-graded metric saw and said: the judge, its raw answer, its reasoning.
    details: Mapping[str, Any] | None = None

    @property
    def verdict(self) -> ScoreVerdict:
        """Pass, fail, or error."""
        if self.error is not None or self.passed is None:
            return "error"
        return "pass" if self.passed else "fail"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a record."""
        out: dict[str, Any] = {"value": self.value, "passed": self.passed, "reason": self.reason}
        if self.error is not None:
            out["error"] = self.error
        if self.weight != 1.0:
            out["weight"] = self.weight
        if self.details:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True, slots=True)
class CallError:
    """Why a call produced no usable output, after retries."""

    kind: str
    message: str
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a record."""
        return {"kind": self.kind, "message": self.message, "status": self.status}


@dataclass(slots=True)
class Record:
    """Everything about one call: what was sent, what came back, how it scored."""

    case_id: str
    variant: str
    model: str
    repeat: int
    vars: Mapping[str, Any]
    messages: tuple[Message, ...]
    expected: Any = None
    output: str | None = None
    scores: dict[str, Score] = field(default_factory=dict)
    passed: bool | None = None
    usage: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    # USD spent by this record's calls, its judges' included; a cache hit spends
    # nothing. None: no call of the record had a price.
    cost: float | None = None
    cost_saved: float = 0.0  # USD the cache saved: the original cost of cached answers
    error: CallError | None = None
    cached: bool = False
    retries: int = 0
    finish_reason: str | None = None
    probe: ProbeTag | None = None  # a probe's twin: which probe, of which original case

    @property
    def verdict(self) -> ScoreVerdict | None:
        """The case's verdict: None when no metric applies, error when the call failed."""
        if self.error is not None:
            return "error"
        if self.passed is None:
            return "error" if self.scores else None
        return "pass" if self.passed else "fail"

    def to_json(self) -> dict[str, Any]:
        """Return the line written to ``records.jsonl``."""
        return {
            "case_id": self.case_id,
            "variant": self.variant,
            "model": self.model,
            "repeat": self.repeat,
            "vars": dict(self.vars),
            "expected": self.expected,
            "messages": [m.to_json() for m in self.messages],
            "output": self.output,
            "scores": {name: s.to_json() for name, s in self.scores.items()},
            "passed": self.passed,
            "usage": self.usage.to_json(),
            "latency_ms": self.latency_ms,
            "cost": self.cost,
            "cost_saved": self.cost_saved,
            "error": self.error.to_json() if self.error else None,
            "cached": self.cached,
            "retries": self.retries,
            "finish_reason": self.finish_reason,
            # Only twins carry the key, so that records of runs without probes are unchanged.
            **({"probe": self.probe.to_json()} if self.probe is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """Rebuild a record from its ``records.jsonl`` line."""
        usage = data.get("usage") or {}
        err = data.get("error")
        return cls(
            case_id=data["case_id"],
            variant=data["variant"],
            model=data["model"],
            repeat=data["repeat"],
            vars=data.get("vars") or {},
            expected=data.get("expected"),
            messages=tuple(Message(m["role"], m["content"]) for m in data.get("messages", ())),
            output=data.get("output"),
            scores={
                name: Score(
                    name=name,
                    value=s.get("value"),
                    passed=s.get("passed"),
                    reason=s.get("reason", ""),
                    error=s.get("error"),
                    weight=s.get("weight", 1.0),
                    details=s.get("details"),
                )
                for name, s in (data.get("scores") or {}).items()
            },
            passed=data.get("passed"),
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            latency_ms=data.get("latency_ms"),
            cost=data.get("cost"),
            cost_saved=data.get("cost_saved") or 0.0,  # absent from runs before it existed
            error=CallError(err["kind"], err["message"], err.get("status")) if err else None,
            cached=data.get("cached", False),
            retries=data.get("retries", 0),
            finish_reason=data.get("finish_reason"),
            probe=ProbeTag.from_json(data["probe"]) if data.get("probe") else None,
        )
