"""Scriptable behaviour of the fake OpenAI server: rules, faults, rate limiting, statistics.

This module is pure logic (no I/O): :class:`Scenario` takes a parsed
chat-completion request and returns a :class:`Decision` telling the HTTP layer
in :mod:`promptbench.testing.openai_server` what to answer and when.  The
control-API JSON shapes and the fault kinds are documented there.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from promptbench.testing.tool_script import (
    ToolScriptError,
    image_note,
    matched_text,
    parse_tool_calls,
)

__all__ = [
    "ERROR_FAULTS",
    "FAULT_KINDS",
    "PAID_OUTCOMES",
    "ConfigError",
    "Decision",
    "Fault",
    "Rule",
    "Scenario",
    "TokenBucket",
    "count_tokens",
    "format_reset",
    "last_user_message",
]

JsonDict = dict[str, Any]

#: Fault kinds answered with an OpenAI-shaped JSON error: (status, type, code, message).
ERROR_FAULTS: Final[Mapping[str, tuple[int, str, str | None, str]]] = {
    "400": (400, "invalid_request_error", None, "Invalid request."),
    "401": (401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    "404": (404, "invalid_request_error", "model_not_found", "The model does not exist."),
    "429": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    "429-noretry": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota.",
    ),
    "500": (500, "server_error", None, "The server had an error while processing your request."),
    "502": (502, "server_error", None, "Bad gateway."),
    "503": (
        503,
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
    ),
    # Anthropic's "overloaded" status; the hosted-API servers of this package speak it.
    "529": (529, "overloaded_error", None, "Overloaded"),
}

#: Every accepted fault kind (a fault string is ``kind`` or ``kind:arg``).
FAULT_KINDS: Final[frozenset[str]] = frozenset(
    {
        *ERROR_FAULTS,
        "hang",
        "drop",
        "malformed",
        "empty_choices",
        "length",
        "content_filter",
        "oversize",
        "oversize-chunked",
        "reset",
        "empty_body",
        "slow_body",
    }
)
_KINDS_WITH_ARG: Final = frozenset({"429", "hang", "oversize", "oversize-chunked", "slow_body"})
_NO_REPLY_KINDS: Final = frozenset(
    {*ERROR_FAULTS, "drop", "reset", "malformed", "empty_body", "oversize", "oversize-chunked"}
)
_DEFAULT_ARG: Final[Mapping[str, float]] = {
    "429": 1.0,
    "hang": 30.0,
    "oversize": 17.0,
    "oversize-chunked": 17.0,
    "slow_body": 1.0,
}
#: The answers a client can use and a provider bills: a 200 whose whole completion was
#: written to a connection still open (see :meth:`Scenario.paid_for`).
PAID_OUTCOMES: Final = frozenset({"ok", "length", "content_filter", "hang", "slow_body"})

_CONFIG_KEYS: Final = frozenset(
    {
        "latency_ms", "rate_limit_rps", "rate_limit_headers", "rules", "default_reply", "seed",
        "record_requests",
    }
)  # fmt: skip
# What a rate-limited server says: "full" is OpenAI's (x-ratelimit-* on every answer,
# Retry-After and retry-after-ms on a 429); "retry-after" is many gateways' and
# self-hosted servers' (a 429 with Retry-After in whole seconds, nothing else).
RATE_LIMIT_HEADERS: Final = ("full", "retry-after")
_RULE_KEYS: Final = frozenset(
    {
        "match", "reply", "replies", "faults", "p_correct", "correct", "wrong",
        "fault_rate", "fault_kinds", "latency_ms", "usage", "tool_calls",
    }
)  # fmt: skip


class ConfigError(ValueError):
    """An invalid control-API configuration (reported to the client as HTTP 400)."""


# --------------------------------------------------------------------------- helpers


def count_tokens(text: str | None) -> int:
    """Token count used for ``usage``: the number of whitespace-separated words."""
    return len(text.split()) if text else 0


def message_text(message: object) -> str:
    """Text of one chat message (string content, or the text parts of a list)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def last_user_message(messages: Sequence[object]) -> str:
    """Content of the last message whose role is ``user`` ("" if there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def format_reset(seconds: float) -> str:
    """Format a duration like OpenAI's ``x-ratelimit-reset-*`` headers ("120ms", "1s", "6m0s")."""
    if seconds < 1.0:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, secs = divmod(seconds, 60.0)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def format_number(value: float) -> str:
    """Compact decimal rendering of a header value ("50", "12.5")."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _number(value: object, name: str, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not minimum <= float(value) <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value!r}")
    return float(value)


def _string(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {value!r}")
    return value


def _strings(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{name} must be a non-empty list of strings, got {value!r}")
    return tuple(_string(item, f"{name}[{i}]") for i, item in enumerate(value))


# --------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class Fault:
    """A parsed fault such as ``"429:0.05"`` (kind ``"429"``, arg ``0.05``)."""

    kind: str
    arg: float | None = None

    @classmethod
    def parse(cls, spec: object) -> Fault:
        """Parse ``"kind"`` or ``"kind:arg"`` (integers such as ``429`` are accepted too)."""
        if isinstance(spec, bool) or not isinstance(spec, str | int):
            raise ConfigError(f"a fault must be a string such as '429' or 'hang:2', got {spec!r}")
        kind, sep, raw_arg = str(spec).strip().partition(":")
        if kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if not sep:
            return cls(kind, _DEFAULT_ARG.get(kind))
        if kind not in _KINDS_WITH_ARG:
            raise ConfigError(f"fault kind {kind!r} takes no argument (got {spec!r})")
        try:
            arg = float(raw_arg)
        except ValueError:
            raise ConfigError(f"invalid fault argument in {spec!r}") from None
        if not 0.0 <= arg < math.inf:
            raise ConfigError(f"fault argument must be >= 0 in {spec!r}")
        return cls(kind, arg)

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}:{format_number(self.arg)}"


# --------------------------------------------------------------------------- rules


@dataclass(slots=True)
class Rule:
    """One entry of ``rules``; built from its JSON object by :meth:`from_json`."""

    spec: JsonDict
    match: str | None = None
    reply: str | None = None
    replies: tuple[str, ...] = ()
    faults: tuple[Fault, ...] = ()
    p_correct: float | None = None
    correct: str = ""
    wrong: str = ""
    fault_rate: float = 0.0
    fault_kinds: tuple[Fault, ...] = ()
    latency_ms: float | None = None
    usage: tuple[int | None, int | None] | None = None
    tool_calls: tuple[JsonDict, ...] = ()  # answer with these calls instead of text
    matched: int = 0
    correct_rng: random.Random = field(default_factory=random.Random)
    fault_rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_json(cls, spec: object, index: int, seed: int) -> Rule:
        """Validate one rule object; ``index`` and ``seed`` seed its random streams."""
        name = f"rules[{index}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{name} must be an object, got {spec!r}")
        unknown = set(spec) - _RULE_KEYS
        if unknown:
            raise ConfigError(
                f"{name}: unknown keys {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}"
            )
        rule = cls(spec=dict(spec))
        if "match" in spec and spec["match"] is not None:
            rule.match = _string(spec["match"], f"{name}.match")
        answers = [key for key in ("reply", "replies", "p_correct") if key in spec]
        if len(answers) > 1:
            raise ConfigError(f"{name}: use only one of 'reply', 'replies', 'p_correct'")
        if "reply" in spec:
            rule.reply = _string(spec["reply"], f"{name}.reply")
        if "replies" in spec:
            rule.replies = _strings(spec["replies"], f"{name}.replies")
        if "p_correct" in spec:
            rule.p_correct = _number(spec["p_correct"], f"{name}.p_correct", maximum=1.0)
            if "correct" not in spec or "wrong" not in spec:
                raise ConfigError(f"{name}: 'p_correct' needs both 'correct' and 'wrong'")
            rule.correct = _string(spec["correct"], f"{name}.correct")
            rule.wrong = _string(spec["wrong"], f"{name}.wrong")
        elif "correct" in spec or "wrong" in spec:
            raise ConfigError(f"{name}: 'correct'/'wrong' are only valid with 'p_correct'")
        if "faults" in spec:
            if not isinstance(spec["faults"], list):
                raise ConfigError(f"{name}.faults must be a list")
            rule.faults = tuple(Fault.parse(item) for item in spec["faults"])
        if "fault_rate" in spec:
            rule.fault_rate = _number(spec["fault_rate"], f"{name}.fault_rate", maximum=1.0)
            rule.fault_kinds = tuple(
                Fault.parse(k) for k in _strings(spec.get("fault_kinds"), f"{name}.fault_kinds")
            )
        elif "fault_kinds" in spec:
            raise ConfigError(f"{name}: 'fault_kinds' is only valid with 'fault_rate'")
        if "latency_ms" in spec:
            rule.latency_ms = _number(spec["latency_ms"], f"{name}.latency_ms")
        if "usage" in spec:
            rule.usage = _usage(spec["usage"], f"{name}.usage")
        if "tool_calls" in spec:
            if answers:
                raise ConfigError(f"{name}: use either 'tool_calls' or a reply key")
            try:
                rule.tool_calls = parse_tool_calls(spec["tool_calls"], f"{name}.tool_calls")
            except ToolScriptError as exc:
                raise ConfigError(str(exc)) from None
        rule.correct_rng = random.Random(f"{seed}:{index}:correct")
        rule.fault_rng = random.Random(f"{seed}:{index}:faults")
        return rule

    def matches(self, prompt: str) -> bool:
        """Whether this rule applies to a request whose last user message is ``prompt``."""
        return self.match is None or self.match in prompt


def _usage(value: object, name: str) -> tuple[int | None, int | None]:
    if not isinstance(value, dict) or set(value) - {"prompt_tokens", "completion_tokens"}:
        raise ConfigError(
            f"{name} must be an object with 'prompt_tokens' and/or 'completion_tokens'"
        )
    counts: list[int | None] = []
    for key in ("prompt_tokens", "completion_tokens"):
        item = value.get(key)
        if item is not None and (isinstance(item, bool) or not isinstance(item, int) or item < 0):
            raise ConfigError(f"{name}.{key} must be a non-negative integer")
        counts.append(item)
    return counts[0], counts[1]


# --------------------------------------------------------------------------- rate limiting


class TokenBucket:
    """Rate limiter: ``rate`` tokens/s, capacity ``max(1, rate)`` (1 s burst), starts full."""

    __slots__ = ("capacity", "clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.clock = clock
        self.tokens = self.capacity
        self.stamp = clock()

    def acquire(self) -> float:
        """Take a token; return 0.0 on success, else the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def headers(self) -> list[tuple[str, str]]:
        """Return the ``x-ratelimit-*-requests`` headers describing the current state."""
        return [
            ("x-ratelimit-limit-requests", str(math.ceil(self.capacity))),
            ("x-ratelimit-remaining-requests", str(math.floor(self.tokens))),
            ("x-ratelimit-reset-requests", format_reset((self.capacity - self.tokens) / self.rate)),
        ]


# --------------------------------------------------------------------------- decisions


@dataclass(slots=True)
class Decision:
    """What to answer to one chat-completion request (computed by :meth:`Scenario.decide`)."""

    outcome: str
    fault: Fault | None = None
    content: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: tuple[JsonDict, ...] = ()


@dataclass(slots=True)
class _Settings:
    latency_ms: float = 0.0
    rate_limit_rps: float = 0.0
    default_reply: str = "echo"
    seed: int = 0
    rate_limit_headers: str = "full"
    rule_specs: list[JsonDict] = field(default_factory=list)
    record_requests: int = 0  # keep the last N request bodies (and auth headers) for tests

    def to_json(self) -> JsonDict:
        return {
            "latency_ms": self.latency_ms,
            "rate_limit_rps": self.rate_limit_rps,
            "rate_limit_headers": self.rate_limit_headers,
            "default_reply": self.default_reply,
            "seed": self.seed,
            "rules": [dict(spec) for spec in self.rule_specs],
            "record_requests": self.record_requests,
        }


class Scenario:
    """Mutable server state: settings, compiled rules, rate limiter and counters."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        rate_limit_rps: float = 0.0,
        default_reply: str = "echo",
        seed: int = 0,
    ) -> None:
        self._initial = _Settings(latency_ms, rate_limit_rps, default_reply, seed)
        self._settings = _Settings()
        self._rules: list[Rule] = []
        self._bucket: TokenBucket | None = None
        self.requests = 0
        self.rate_limited = 0
        self.by_outcome: Counter[str] = Counter()
        self.by_prompt: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0  # connections that carried a chat-completion request
        self.tls_failures = 0  # TLS handshakes that failed (the client refused the certificate)
        self.recorded: deque[JsonDict] = deque(maxlen=0)
        self.paid: list[tuple[str, float]] = []  # (last user message, time.time()) per paid answer
        self.reset()

    # ---- control API

    def reset(self) -> None:
        """Restore the start-up configuration, drop all rules and zero the counters."""
        initial = self._initial
        self._apply(
            _Settings(
                initial.latency_ms, initial.rate_limit_rps, initial.default_reply, initial.seed
            )
        )
        self.requests = 0
        self.rate_limited = 0
        self.by_outcome = Counter()
        self.by_prompt = Counter()
        self.max_in_flight = self.in_flight
        self.connections = 0
        self.tls_failures = 0
        self.recorded = deque(maxlen=self._settings.record_requests)
        self.paid = []

    def configure(self, patch: object) -> JsonDict:
        """Apply a partial configuration (keys of ``_CONFIG_KEYS``); return the full configuration.

        Giving ``rules`` or ``seed`` recompiles the rules (their counters and random
        streams restart); giving ``rate_limit_rps`` refills the bucket.  Nothing is
        changed if the patch is invalid.
        """
        if not isinstance(patch, dict):
            raise ConfigError("the configuration must be a JSON object")
        unknown = set(patch) - _CONFIG_KEYS
        if unknown:
            raise ConfigError(
                f"unknown configuration keys {sorted(unknown)}; allowed: {sorted(_CONFIG_KEYS)}"
            )
        new = _Settings(**{k: getattr(self._settings, k) for k in _Settings.__dataclass_fields__})
        if "latency_ms" in patch:
            new.latency_ms = _number(patch["latency_ms"], "latency_ms")
        if "rate_limit_rps" in patch:
            new.rate_limit_rps = _number(patch["rate_limit_rps"], "rate_limit_rps")
        if "rate_limit_headers" in patch:
            headers = patch["rate_limit_headers"]
            if headers not in RATE_LIMIT_HEADERS:
                raise ConfigError(
                    f"rate_limit_headers must be one of {list(RATE_LIMIT_HEADERS)}, got {headers!r}"
                )
            new.rate_limit_headers = headers
        if "default_reply" in patch:
            new.default_reply = _string(patch["default_reply"], "default_reply")
        if "seed" in patch:
            seed = patch["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ConfigError(f"seed must be an integer, got {seed!r}")
            new.seed = seed
        if "record_requests" in patch:
            new.record_requests = int(_number(patch["record_requests"], "record_requests"))
        if "rules" in patch:
            if not isinstance(patch["rules"], list):
                raise ConfigError("rules must be a list")
            new.rule_specs = list(patch["rules"])
        self._apply(
            new,
            rebuild_rules="rules" in patch or "seed" in patch,
            rebuild_bucket="rate_limit_rps" in patch,
        )
        return self.config_json()

    def _apply(
        self, new: _Settings, *, rebuild_rules: bool = True, rebuild_bucket: bool = True
    ) -> None:
        if rebuild_rules:
            rules = [Rule.from_json(spec, i, new.seed) for i, spec in enumerate(new.rule_specs)]
            self._rules = rules
        if rebuild_bucket:
            self._bucket = TokenBucket(new.rate_limit_rps) if new.rate_limit_rps > 0 else None
        if new.record_requests != self._settings.record_requests:
            self.recorded = deque(self.recorded, maxlen=new.record_requests)
        self._settings = new

    def config_json(self) -> JsonDict:
        """Return the current configuration, in the shape accepted by :meth:`configure`."""
        return self._settings.to_json()

    def stats_json(self) -> JsonDict:
        """Return the counters served by ``GET /_control/stats``."""
        return {
            "requests": self.requests,
            "by_outcome": dict(self.by_outcome),
            "by_prompt": dict(self.by_prompt),
            "rate_limited": self.rate_limited,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "tls_failures": self.tls_failures,
            "paid": len(self.paid),
        }

    def paid_json(self) -> JsonDict:
        """The paid answers served by ``GET /_control/paid``, in the order they were sent."""
        return {"paid": [{"prompt": prompt, "at": at} for prompt, at in self.paid]}

    def paid_for(self, prompt: str) -> None:
        """Count one paid answer: its whole 200 completion reached an open connection."""
        self.paid.append((prompt, time.time()))

    # ---- request handling

    def begin(self) -> None:
        """Mark one chat-completion request as in flight."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def end(self) -> None:
        """Mark one chat-completion request as finished (answered, dropped or abandoned)."""
        self.in_flight -= 1

    def record_request(self, payload: JsonDict, authorization: str | None) -> None:
        """Keep the request (when ``record_requests`` asks for it), for tests to inspect."""
        if self._settings.record_requests:
            self.recorded.append({"body": payload, "authorization": authorization})

    def record_invalid(self) -> None:
        """Count a chat-completion request rejected as invalid (body not JSON, missing fields)."""
        self.requests += 1
        self.by_outcome["invalid_request"] += 1

    def decide(self, messages: Sequence[object]) -> Decision:
        """Count one chat-completion request and decide how to answer it."""
        prompt = last_user_message(messages)
        self.requests += 1
        self.by_prompt[prompt] += 1
        prompt = matched_text(messages, prompt)
        rate_headers: list[tuple[str, str]] = []
        bucket = self._bucket
        if bucket is not None:
            wait = bucket.acquire()
            full = self._settings.rate_limit_headers == "full"
            rate_headers = bucket.headers() if full else []
            if wait > 0.0:
                self.rate_limited += 1
                self.by_outcome["429"] += 1
                if full:
                    return Decision("429", Fault("429", wait), headers=rate_headers)
                # A fault with no argument adds no retry headers of its own.
                only = [("retry-after", str(math.ceil(wait)))]
                return Decision("429", Fault("429"), headers=only)

        rule = next((r for r in self._rules if r.matches(prompt)), None)
        fault: Fault | None = None
        k = 0
        if rule is not None:
            k = rule.matched
            rule.matched += 1
            if k < len(rule.faults):
                fault = rule.faults[k]
            elif rule.fault_rate > 0.0 and rule.fault_rng.random() < rule.fault_rate:
                fault = rule.fault_rng.choice(rule.fault_kinds)
        outcome = fault.kind if fault is not None else "ok"
        self.by_outcome[outcome] += 1
        latency_ms = (
            rule.latency_ms
            if rule is not None and rule.latency_ms is not None
            else self._settings.latency_ms
        )
        decision = Decision(outcome, fault, delay=latency_ms / 1000.0, headers=rate_headers)
        if fault is not None and fault.kind == "hang":
            decision.delay = fault.arg or 0.0
        if fault is not None and fault.kind in _NO_REPLY_KINDS:
            return decision

        if rule is not None and rule.tool_calls:
            decision.tool_calls = rule.tool_calls
            decision.finish_reason = "tool_calls"
            decision.prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
            decision.completion_tokens = sum(count_tokens(c["arguments"]) for c in rule.tool_calls)
            return decision
        content: str | None = self._reply(rule, k, prompt)
        if (
            rule is None or (rule.reply is None and not rule.replies and rule.p_correct is None)
        ) and (self._settings.default_reply == "echo"):
            note = image_note(messages)
            content = f"{content} {note}".strip() if note else content
        if fault is not None and fault.kind in ("length", "content_filter"):
            decision.finish_reason = fault.kind
            if fault.kind == "content_filter":
                content = None
        decision.content = content
        decision.prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
        decision.completion_tokens = count_tokens(content)
        if rule is not None and rule.usage is not None:
            prompt_tokens, completion_tokens = rule.usage
            if prompt_tokens is not None:
                decision.prompt_tokens = prompt_tokens
            if completion_tokens is not None:
                decision.completion_tokens = completion_tokens
        return decision

    def _reply(self, rule: Rule | None, k: int, prompt: str) -> str:
        if rule is not None:
            if rule.reply is not None:
                return rule.reply
            if rule.replies:
                return rule.replies[k % len(rule.replies)]
            if rule.p_correct is not None:
                return rule.correct if rule.correct_rng.random() < rule.p_correct else rule.wrong
        default = self._settings.default_reply
        return prompt if default == "echo" else default
