"""The value objects every layer shares.

A :class:`Case` is one row of a dataset. A :class:`Prompt` is what one call sends:
rendered messages plus output-affecting parameters. A :class:`Completion` is what
came back. A :class:`Score` is one metric's verdict on it, and a :class:`Record`
is everything about one call, as it is written to ``records.jsonl``.

A message is text with optional parts: images (:class:`Image`, kept as a path or
URL and a hash, never bytes), the tool calls an assistant made (:class:`ToolCall`)
or, for a ``tool`` message, the id of the call it answers. A conversation or a
tool loop keeps its whole transcript on the record; ``turns`` splits it back into
the user's turns and the steps of each.

These are plain slotted dataclasses: they are created once per call on the hot
path, so they stay cheap; user input is validated by pydantic in ``suite``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from promptbench.server_limits import RateLimit

ScoreVerdict = Literal["pass", "fail", "error"]  # a score's, or a record's over its scores


@dataclass(frozen=True, slots=True)
class Image:
    """An image part of a message: a local file (``path``) or a ``url``, never its bytes.

    ``sha256`` identifies a file's content, so that the cache and a diff see a
    changed image; providers read the file when they send it.
    """

    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    media_type: str | None = None

    def to_json(self) -> dict[str, str]:
        """Return the JSON form stored in a record."""
        out = {"path": self.path, "url": self.url, "sha256": self.sha256}
        out["media_type"] = self.media_type
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Image:
        """Rebuild from :meth:`to_json`."""
        return cls(data.get("path"), data.get("url"), data.get("sha256"), data.get("media_type"))

    @property
    def shown(self) -> str:
        """The path or URL, for tables."""
        return self.path or self.url or ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call a model asked for.

    ``raw_arguments`` is the text the model wrote; ``arguments`` is it parsed
    (None when it is not a JSON object, and then ``parse_error`` says why). Bad
    JSON is the model's fault: metrics fail it; nothing crashes.
    """

    id: str
    name: str
    raw_arguments: str
    arguments: Mapping[str, Any] | None = None
    parse_error: str | None = None
    # An opaque token the API wants back with the call in later requests (base64; Gemini's
    # thought signature, without which Gemini 3 refuses the next step of a tool loop).
    signature: str | None = None

    @classmethod
    def parse(cls, id: str, name: str, raw: str | Mapping[str, Any] | None) -> ToolCall:
        """A call from what a provider returned: argument text, or an already-parsed mapping."""
        if raw is None or raw == "":
            return cls(id, name, raw or "", {}, None)
        if isinstance(raw, Mapping):
            return cls(id, name, json.dumps(dict(raw), ensure_ascii=False), dict(raw), None)
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return cls(id, name, raw, None, f"arguments are not valid JSON ({exc})")
        if not isinstance(value, dict):
            return cls(
                id, name, raw, None, f"arguments are a JSON {type(value).__name__}, not an object"
            )
        return cls(id, name, raw, value, None)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a record."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "raw_arguments": self.raw_arguments,
        }
        out["arguments"] = dict(self.arguments) if self.arguments is not None else None
        if self.parse_error is not None:
            out["parse_error"] = self.parse_error
        if self.signature is not None:
            out["signature"] = self.signature
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCall:
        """Rebuild from :meth:`to_json`."""
        return cls(
            data["id"],
            data["name"],
            data.get("raw_arguments", ""),
            data.get("arguments"),
            data.get("parse_error"),
            data.get("signature"),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message: text, and the images, tool calls or tool-call id it carries."""

    role: str
    content: str
    images: tuple[Image, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant's
    tool_call_id: str | None = None  # a tool message: the call it answers
    name: str | None = None  # a tool message: the tool's name

    @property
    def plain(self) -> bool:
        """Text only: the form every record had before images and tools."""
        return not (self.images or self.tool_calls or self.tool_call_id or self.name)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in a record (images by path and hash)."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.images:
            out["images"] = [i.to_json() for i in self.images]
        if self.tool_calls:
            out["tool_calls"] = [c.to_json() for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Rebuild from :meth:`to_json`; a record written before images and tools reads too.

        A plain message (role and text) read again is the same object as the first time
        (it is frozen): a run's records repeat their system prompt and each case's
        question, and sharing them is faster than building them and holds one copy.
        """
        if len(data) <= 2:  # role and text only, as most are: half the cost of the general path
            role, content = data["role"], data.get("content") or ""
            key = (role, content)
            shared = _SHARED_MESSAGES.get(key) if type(content) is str else None
            if shared is not None and cls is Message:
                return shared
            made = cls(role, content)
            if cls is Message and type(content) is str and len(content) <= _SHARED_MAX_TEXT:
                if len(_SHARED_MESSAGES) >= _SHARED_LIMIT:
                    _SHARED_MESSAGES.clear()  # a new run's, or many cases': start again
                _SHARED_MESSAGES[key] = made
            return made
        return cls(
            data["role"],
            data.get("content") or "",
            tuple(Image.from_json(i) for i in data.get("images") or ()),
            tuple(ToolCall.from_json(c) for c in data.get("tool_calls") or ()),
            data.get("tool_call_id"),
            data.get("name"),
        )

    def key(self) -> list[Any]:
        """What the cache key takes of this message: role and text, and any parts."""
        if self.plain:
            return [self.role, self.content]  # as before: caches of plain prompts stay valid
        parts = self.to_json()
        for image in parts.get("images", ()):
            image.pop("media_type", None)
            if image.get("sha256"):
                image.pop("path", None)  # the content counts, not where the file is
        return [self.role, self.content, parts]


_SHARED_LIMIT = 4096  # plain messages kept to share (Message.from_json)
_SHARED_MAX_TEXT = 4096  # characters; a longer text (a document) is seldom sent twice
_SHARED_MESSAGES: dict[tuple[str, str], Message] = {}


def messages_text(messages: Sequence[Message]) -> str:
    """Messages as one text, ``[role] content`` each, tool calls and results included."""
    parts = []
    for m in messages:
        role = f"tool {m.name}" if m.role == "tool" and m.name else m.role
        if m.content or not m.tool_calls:
            parts.append(f"[{role}] {m.content}")
        parts += [f"[call] {c.name}({c.raw_arguments})" for c in m.tool_calls]
        parts += [f"[image] {i.shown}" for i in m.images]
    return "\n\n".join(parts)


@dataclass(frozen=True, slots=True)
class Turn:
    """One user turn of a conversation: the user's message and what followed it.

    ``steps`` are the assistant's messages and the tool results between them; the
    last assistant message is the turn's reply.
    """

    index: int  # from 1
    user: Message | None
    steps: tuple[Message, ...]

    @property
    def reply(self) -> str:
        """The text of the turn's last assistant message."""
        for m in reversed(self.steps):
            if m.role == "assistant":
                return m.content
        return ""

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of the turn, in order."""
        return tuple(c for m in self.steps for c in m.tool_calls)


def split_turns(prompt: Sequence[Message], transcript: Sequence[Message]) -> tuple[Turn, ...]:
    """The turns of a conversation: ``prompt`` is what was rendered, ``transcript`` all of it.

    The prompt's last user message opens turn 1 (its few-shot examples before it are
    not turns); each later user message opens the next turn.
    """
    start = 0
    for i in range(len(prompt) - 1, -1, -1):
        if prompt[i].role == "user":
            start = i
            break
    else:
        start = len(prompt)
    turns: list[Turn] = []
    user: Message | None = None
    steps: list[Message] = []
    opened = False
    for m in transcript[start:]:
        if m.role == "user":
            if opened:
                turns.append(Turn(len(turns) + 1, user, tuple(steps)))
            user, steps, opened = m, [], True
        elif m.role != "system":
            steps.append(m)
            opened = True
    if opened:
        turns.append(Turn(len(turns) + 1, user, tuple(steps)))
    return tuple(turns)


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
    at: tuple[str, int] | None = None  # file and line it was written at, for later checks


@dataclass(frozen=True, slots=True)
class SimulatedUser:
    """A model of the suite playing the user: ``persona`` pursuing ``goal``.

    It writes the next user message from the conversation so far until it says the
    goal is met or ``max_turns`` user turns have been sent. ``persona`` and ``goal``
    are templates over the case's vars.
    """

    model: str
    persona: str
    goal: str
    max_turns: int = 5


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
    turns: tuple[str, ...] = ()  # user messages sent one by one (templates over the vars)
    user: SimulatedUser | None = None  # a model that plays the user

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
    tool_calls: tuple[ToolCall, ...] = ()  # the functions the model asked to call


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
    # A conversation or tool loop: the whole conversation, from the rendered prompt to
    # the last reply, tool calls and results included; empty for a single plain call.
    transcript: tuple[Message, ...] = ()
    calls: int = 1  # model calls the record took (turns x steps; a simulated user's too)

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The conversation as turns; a single call is one turn."""
        if self.transcript:
            return split_turns(self.messages, self.transcript)
        reply = Message("assistant", self.output or "")
        users = [m for m in self.messages if m.role == "user"]
        return (Turn(1, users[-1] if users else None, (reply,)),)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """Every tool call of the record, in order."""
        return tuple(c for m in self.transcript for c in m.tool_calls)

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
            **self._conversation_json(),
        }

    def _conversation_json(self) -> dict[str, Any]:
        # Only conversations carry these keys: a plain record's line is as it always was.
        if not self.transcript:
            return {}
        return {"transcript": [m.to_json() for m in self.transcript], "calls": self.calls}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """Rebuild a record from its ``records.jsonl`` line."""
        usage = data.get("usage") or {}
        err = data.get("error")
        probe = data.get("probe")
        # Positional, in the fields' order (a third cheaper than by keyword): tests read
        # every field back from to_json.
        return cls(
            data["case_id"],
            data["variant"],
            data["model"],
            data["repeat"],
            data.get("vars") or {},
            tuple([Message.from_json(m) for m in data.get("messages", ())]),
            data.get("expected"),
            data.get("output"),
            {
                name: Score(
                    name,
                    s.get("value"),
                    s.get("passed"),
                    s.get("reason", ""),
                    s.get("error"),
                    s.get("weight", 1.0),
                    s.get("details"),
                )
                for name, s in (data.get("scores") or {}).items()
            },
            data.get("passed"),
            Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            data.get("latency_ms"),
            data.get("cost"),
            data.get("cost_saved") or 0.0,  # absent from runs before it existed
            CallError(err["kind"], err["message"], err.get("status")) if err else None,
            data.get("cached", False),
            data.get("retries", 0),
            data.get("finish_reason"),
            ProbeTag.from_json(probe) if probe else None,
            tuple([Message.from_json(m) for m in data.get("transcript") or ()]),
            data.get("calls", 1),
        )
