"""The anthropic provider: the real anthropic SDK against Anthropic's wire format on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

from promptbench.config import Price
from promptbench.errors import MissingExtraError, ProviderConfigError, ProviderError
from promptbench.providers import providers
from promptbench.providers.anthropic import (
    DEFAULT_MAX_TOKENS,
    AnthropicConfig,
    AnthropicProvider,
    classify,
    error_table,
    request_body,
)
from promptbench.providers.hosted import httpx_module, lookup_kind
from promptbench.providers.pricing import lookup_anthropic
from promptbench.testing.anthropic_server import AnthropicServer
from promptbench.types import Message, Prompt
from tests.helpers.hosted import (
    ANTHROPIC_KEY,
)

pytestmark = pytest.mark.usefixtures("hosted_env")

PROMPT = Prompt((Message("system", "Answer in one word."), Message("user", "Say hello")))


def config(url: str, **fields: Any) -> AnthropicConfig:
    return AnthropicConfig(provider="anthropic", model="claude-haiku-4-5", base_url=url, **fields)


def complete(cfg: AnthropicConfig, prompt: Prompt = PROMPT) -> Any:
    async def go() -> Any:
        p = AnthropicProvider(cfg)
        try:
            return await p.complete(prompt)
        finally:
            await p.aclose()

    return asyncio.run(go())


def failure(cfg: AnthropicConfig, prompt: Prompt = PROMPT) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(cfg, prompt)
    return info.value


# --------------------------------------------------------------------------- the request


def test_the_request_follows_the_messages_api(anthropic_server: AnthropicServer) -> None:
    prompt = Prompt(PROMPT.messages, {"stop": "STOP", "max_tokens": 64})
    done = complete(config(anthropic_server.url), prompt)
    assert done.text == "Say hello"
    [req] = anthropic_server.requests()
    assert req["method"] == "POST" and req["path"] == "/v1/messages"
    assert req["headers"]["anthropic-version"]  # the SDK pins one
    sent_key = req["headers"].get("x-api-key") or req["headers"]["authorization"]
    assert sent_key.endswith(ANTHROPIC_KEY)
    body = req["body"]
    assert body["system"] == "Answer in one word."  # apart from the messages
    assert body["messages"] == [{"role": "user", "content": "Say hello"}]
    assert body["stop_sequences"] == ["STOP"]
    assert body["max_tokens"] == 64


def test_max_tokens_is_always_sent_with_a_documented_default() -> None:
    cfg = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5")
    assert request_body(Prompt((Message("user", "hi"),)), cfg)["max_tokens"] == DEFAULT_MAX_TOKENS
    # In the sampling parameters, so in the cache key and the cost estimate too.
    assert cfg.sampling_params()["max_tokens"] == DEFAULT_MAX_TOKENS


def test_a_judge_schema_becomes_a_structured_output_and_its_temperature_is_dropped() -> None:
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}
    cfg = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5")
    body = request_body(Prompt(PROMPT.messages, {"temperature": 0, "response_format": fmt}), cfg)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "temperature" not in body
    asked = request_body(Prompt(PROMPT.messages, {"response_format": "json_object"}), cfg)
    assert "JSON object" in asked["system"] and "output_config" not in asked


@pytest.mark.parametrize("field", ["temperature", "top_p", "seed"])
def test_sampling_parameters_the_api_refuses_are_refused_when_the_suite_loads(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field}\n.*the Messages API .* takes no {field}"):
        AnthropicConfig(provider="anthropic", model="claude-haiku-4-5", **{field: 0})


def test_the_server_refuses_sampling_parameters_as_the_pinned_api_version_does(
    anthropic_server: AnthropicServer,
) -> None:
    # The loopback server holds the provider to the API: what the provider never sends
    # would be a 400 there, so the provider's omission is what keeps the run working.
    client = anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=anthropic_server.url)
    with pytest.raises(anthropic.BadRequestError, match="sampling parameters"):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=8,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"temperature": 0.5},
        )
    with pytest.raises(anthropic.BadRequestError, match='Unexpected role "system"'):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=8,
            messages=[{"role": "system", "content": "x"}],  # type: ignore[list-item]
        )


# --------------------------------------------------------------------------- the answer


def test_usage_model_and_stop_reasons_are_mapped(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(
        rules=[
            {"match": "long", "faults": ["length"]},
            {"match": "cut", "reply": "one two STOP three"},
        ]
    )
    url = anthropic_server.url
    done = complete(config(url))
    assert (done.finish_reason, done.model) == ("stop", "claude-haiku-4-5")
    # The server counts words: 4 in the system prompt and message, 2 in the reply.
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (6, 2)
    assert complete(config(url), Prompt((Message("user", "long"),))).finish_reason == "length"
    cut = complete(config(url), Prompt((Message("user", "cut"),), {"stop": ["STOP"]}))
    assert (cut.text, cut.finish_reason) == ("one two ", "stop")


def test_the_rate_limit_headers_are_read(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(rate_limit_rps=50)
    limits = complete(config(anthropic_server.url)).rate_limit
    assert limits is not None
    assert (limits.limit_requests, limits.remaining_requests) == (50, 49)
    # Anthropic sends the moment of the reset; a fiftieth of a second away here.
    assert limits.reset_requests is not None and 0 <= limits.reset_requests < 1


def test_a_refusal_is_a_content_filter_error(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(rules=[{"faults": ["content_filter"]}])
    err = failure(config(anthropic_server.url))
    assert (err.kind, err.retryable) == ("content_filter", False)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("fault", "kind", "retryable", "status"),
    [
        ("400", "client_error", False, 400),
        ("401", "auth", False, 401),
        ("404", "client_error", False, 404),
        ("429", "rate_limit", True, 429),
        ("500", "server_error", True, 500),
        ("503", "server_error", True, 503),
        ("529", "server_error", True, 529),
        ("malformed", "malformed", True, None),
        ("drop", "connection", True, None),
    ],
)
def test_each_failure_is_classified_from_the_sdk_exception(
    anthropic_server: AnthropicServer, fault: str, kind: str, retryable: bool, status: int | None
) -> None:
    anthropic_server.configure(rules=[{"faults": [fault]}])
    err = failure(config(anthropic_server.url))
    assert (err.kind, err.retryable, err.status) == (kind, retryable, status)
    assert anthropic_server.stats()["requests"] == 1  # the SDK's own retries are off
    assert ANTHROPIC_KEY not in err.message


def test_a_429_carries_the_servers_retry_after(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(rules=[{"faults": ["429:3"]}])
    err = failure(config(anthropic_server.url))
    assert err.retry_after == 3.0
    assert "rate_limit_error" in err.message


def test_an_echoed_key_is_masked(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(rules=[{"faults": ["401"]}])
    err = failure(config(anthropic_server.url))
    assert "[redacted]" in err.message and ANTHROPIC_KEY not in err.message


def test_a_wrong_key_is_anthropics_authentication_error(
    anthropic_server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-some-other-key-0000")
    err = failure(config(anthropic_server.url))
    assert (err.kind, err.retryable, err.status) == ("auth", False, 401)
    assert "authentication_error: invalid x-api-key" in err.message


def test_a_timeout_is_retryable(anthropic_server: AnthropicServer) -> None:
    anthropic_server.configure(rules=[{"faults": ["hang:2"]}])
    err = failure(config(anthropic_server.url, timeout=0.2))
    assert (err.kind, err.retryable) == ("timeout", True)


def _status_error(cls: type[anthropic.APIStatusError], status: int) -> anthropic.APIStatusError:
    lib = httpx_module()  # the HTTP library this SDK runs on: httpx2 (newer) or httpx
    request = lib.Request("POST", "https://api.anthropic.com/v1/messages")
    return cls("x", response=lib.Response(status, request=request), body=None)


def test_every_error_class_of_the_sdk_has_a_kind() -> None:
    # As httpx checks that no httpcore exception is left unmapped: every class the SDK
    # exports resolves to a kind, through the table or, for a status it has no entry
    # for, through the status (4xx: not retried except 408/409/429; 5xx: retried).
    for cls in vars(anthropic).values():
        if not (isinstance(cls, type) and issubclass(cls, anthropic.APIStatusError)):
            continue
        status = int(getattr(cls, "status_code", 500))
        err = classify(_status_error(cls, status))
        assert err.kind != "unknown", cls.__name__
        if err.kind == "quota" or status in (412, 501):
            assert not err.retryable, cls.__name__
        else:
            assert err.retryable == (status >= 500 or status in (408, 409, 429)), cls.__name__
    for cls in (anthropic.APITimeoutError, anthropic.APIConnectionError):
        assert lookup_kind(error_table(), cls.__new__(cls)) is not None


def test_spend_limits_are_not_retried() -> None:
    spend = getattr(anthropic, "EnforcedSpendLimitReachedError", None)
    if spend is None:
        pytest.skip("this anthropic SDK has no spend-limit error class")
    assert lookup_kind(error_table(), _status_error(spend, 429)) == ("quota", False)
    assert lookup_kind(error_table(), _status_error(anthropic.RateLimitError, 429)) == (
        "rate_limit",
        True,
    )


# --------------------------------------------------------------------------- set-up


def test_the_key_comes_from_the_environment_or_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    cfg = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5")
    with pytest.raises(ProviderConfigError, match="ANTHROPIC_API_KEY is not set") as info:
        cfg.preflight()
    assert "api_key_env" in str(info.value)
    monkeypatch.setenv("TEAM_CLAUDE_KEY", "sk-from-team-var")
    named = AnthropicConfig(provider="anthropic", model="m", api_key_env="TEAM_CLAUDE_KEY")
    assert named.resolve_api_key() == "sk-from-team-var"
    (tmp_path / "key.txt").write_text("sk-from-file\n")
    filed = AnthropicConfig(provider="anthropic", model="m", api_key_file=str(tmp_path / "key.txt"))
    assert filed.resolve_api_key() == "sk-from-file"


def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'promptbench\[anthropic\]'"):
        AnthropicConfig(provider="anthropic", model="claude-haiku-4-5").preflight()


def test_the_provider_is_registered_with_its_config() -> None:
    definition = providers.get("anthropic")
    assert definition.config is AnthropicConfig


def test_the_cache_identity_names_the_endpoint_not_the_key() -> None:
    hosted = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5")
    gateway = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5", base_url="http://gw/")
    assert hosted.cache_identity()["base_url"] == "https://api.anthropic.com"
    assert gateway.cache_identity()["base_url"] == "http://gw"
    keyed = AnthropicConfig(provider="anthropic", model="claude-haiku-4-5", api_key_env="X")
    assert keyed.cache_identity() == hosted.cache_identity()


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("claude-haiku-4-5", (1.0, 5.0)),
        ("claude-haiku-4-5-20251001", (1.0, 5.0)),
        ("claude-sonnet-4-5", (3.0, 15.0)),
        ("claude-opus-4-1-20250805", (15.0, 75.0)),
        ("claude-3-5-haiku-latest", (0.8, 4.0)),
        ("claude-haiku-4-5-fast", None),  # another model: unknown, never guessed
        ("gpt-4o", None),
    ],
)
def test_known_claude_models_are_priced(model: str, price: tuple[float, float] | None) -> None:
    expected = Price(input=price[0], output=price[1]) if price else None
    assert lookup_anthropic(model) == expected
    assert AnthropicConfig(provider="anthropic", model=model).effective_price() == expected
