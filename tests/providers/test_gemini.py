"""The gemini provider: the real google-genai SDK against the Gemini wire format on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptbench.config import Price
from promptbench.errors import MissingExtraError, ProviderConfigError, ProviderError
from promptbench.providers import providers
from promptbench.providers.gemini import GeminiConfig, GeminiProvider, classify
from promptbench.providers.pricing import lookup_gemini
from promptbench.testing.gemini_server import THOUGHT_TOKENS, GeminiServer
from promptbench.types import Message, Prompt
from tests.helpers.hosted import GEMINI_KEY

pytestmark = pytest.mark.usefixtures("hosted_env")

PROMPT = Prompt(
    (
        Message("system", "Answer in one word."),
        Message("user", "Say hi"),
        Message("assistant", "hi"),
        Message("user", "Say hello"),
    )
)


def config(url: str, **fields: Any) -> GeminiConfig:
    return GeminiConfig(provider="gemini", model="gemini-2.5-flash", base_url=url, **fields)


def complete(cfg: GeminiConfig, prompt: Prompt = PROMPT) -> Any:
    async def go() -> Any:
        p = GeminiProvider(cfg)
        try:
            return await p.complete(prompt)
        finally:
            await p.aclose()

    return asyncio.run(go())


def failure(cfg: GeminiConfig, prompt: Prompt = PROMPT) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(cfg, prompt)
    return info.value


def test_the_request_follows_generate_content(gemini_server: GeminiServer) -> None:
    params = {"temperature": 0.2, "top_p": 0.9, "seed": 7, "max_tokens": 32, "stop": "END"}
    done = complete(config(gemini_server.url), Prompt(PROMPT.messages, params))
    assert (done.text, done.finish_reason, done.model) == ("Say hello", "stop", "gemini-2.5-flash")
    [req] = gemini_server.requests()
    assert req["path"].endswith("/models/gemini-2.5-flash:generateContent")
    assert req["headers"]["x-goog-api-key"] == GEMINI_KEY
    body = req["body"]
    assert body["systemInstruction"]["parts"] == [{"text": "Answer in one word."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "seed": 7,
        "maxOutputTokens": 32,
        "stopSequences": ["END"],
    }
    # 4 + 2 + 1 + 2 words in, 2 out.
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (9, 2)


def test_a_judge_schema_is_a_response_json_schema(gemini_server: GeminiServer) -> None:
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}}
    complete(config(gemini_server.url), Prompt(PROMPT.messages, {"response_format": fmt}))
    sent = gemini_server.requests()[0]["body"]["generationConfig"]
    assert sent["responseMimeType"] == "application/json"
    assert sent["responseJsonSchema"] == schema


def test_thinking_tokens_are_billed_as_output(gemini_server: GeminiServer) -> None:
    done = complete(config(gemini_server.url, thinking_budget=128))
    thinking = gemini_server.requests()[0]["body"]["generationConfig"]["thinkingConfig"]
    # The SDK sends nested objects with their proto field names, which the API also takes.
    assert thinking in ({"thinkingBudget": 128}, {"thinking_budget": 128})
    assert done.usage.completion_tokens == 2 + THOUGHT_TOKENS


def test_max_tokens_stops_are_length(gemini_server: GeminiServer) -> None:
    gemini_server.configure(rules=[{"reply": "one two three four"}])
    done = complete(config(gemini_server.url), Prompt(PROMPT.messages, {"max_tokens": 2}))
    assert (done.text, done.finish_reason) == ("one two", "length")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("content_filter", "withheld (finish reason SAFETY)"),
        ("empty_choices", "prompt was blocked"),
    ],
)
def test_safety_blocked_answers_are_content_filter_errors(
    gemini_server: GeminiServer, fault: str, message: str
) -> None:
    gemini_server.configure(rules=[{"faults": [fault]}])
    err = failure(config(gemini_server.url))
    assert (err.kind, err.retryable) == ("content_filter", False)
    assert message in err.message


@pytest.mark.parametrize(
    ("fault", "kind", "retryable", "status"),
    [
        ("400", "client_error", False, 400),
        ("401", "auth", False, 401),
        ("404", "client_error", False, 404),
        ("429", "rate_limit", True, 429),
        ("429-noretry", "rate_limit", True, 429),
        ("500", "server_error", True, 500),
        ("503", "server_error", True, 503),
        ("malformed", "malformed", True, None),
        ("drop", "connection", True, None),
    ],
)
def test_each_failure_is_classified(
    gemini_server: GeminiServer, fault: str, kind: str, retryable: bool, status: int | None
) -> None:
    gemini_server.configure(rules=[{"faults": [fault]}])
    err = failure(config(gemini_server.url))
    assert (err.kind, err.retryable, err.status) == (kind, retryable, status)
    # One request: the SDK does not retry, not even a dropped connection (its aiohttp
    # path would wait 1-10 s and try again, so the provider gives it an httpx client).
    assert gemini_server.stats()["requests"] == 1
    assert GEMINI_KEY not in err.message


def test_a_429_carries_the_retry_info_delay(gemini_server: GeminiServer) -> None:
    gemini_server.configure(rules=[{"faults": ["429:2.5"]}])
    err = failure(config(gemini_server.url))
    assert err.retry_after == 2.5
    assert "RESOURCE_EXHAUSTED" in err.message


def test_an_echoed_key_is_masked(gemini_server: GeminiServer) -> None:
    gemini_server.configure(rules=[{"faults": ["401"]}])
    err = failure(config(gemini_server.url))
    assert "[redacted]" in err.message and GEMINI_KEY not in err.message


def test_a_wrong_key_is_googles_invalid_argument(
    gemini_server: GeminiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-another-key-000000")
    err = failure(config(gemini_server.url))
    assert (err.kind, err.retryable, err.status) == ("client_error", False, 400)
    assert "API key not valid" in err.message


def test_a_timeout_is_retryable(gemini_server: GeminiServer) -> None:
    gemini_server.configure(rules=[{"faults": ["hang:2"]}])
    err = failure(config(gemini_server.url, timeout=0.3))
    assert (err.kind, err.retryable) == ("timeout", True)


def test_an_exception_outside_the_table_is_unknown() -> None:
    err = classify(RuntimeError("boom"))
    assert (err.kind, err.retryable) == ("unknown", False)


def test_the_key_comes_from_gemini_api_key_then_google_api_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = GeminiConfig(provider="gemini", model="gemini-2.5-flash")
    assert cfg.resolve_api_key() == GEMINI_KEY
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-google-var")
    assert cfg.resolve_api_key() == "AIza-google-var"
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(ProviderConfigError, match="GEMINI_API_KEY or GOOGLE_API_KEY is not set"):
        cfg.preflight()


def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "google.genai" else real(name)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'promptbench\[gemini\]'"):
        GeminiConfig(provider="gemini", model="gemini-2.5-flash").preflight()


def test_the_provider_is_registered_with_its_config() -> None:
    assert providers.get("gemini").config is GeminiConfig


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gemini-2.5-flash", (0.30, 2.50)),
        ("models/gemini-2.5-pro", (1.25, 10.0)),
        ("gemini-2.0-flash-001", (0.10, 0.40)),
        ("gemini-2.5-flash-lite", (0.10, 0.40)),
        ("gemini-2.5-flash-preview-09-2025", None),  # a preview is its own model: unknown
        ("claude-haiku-4-5", None),
    ],
)
def test_known_gemini_models_are_priced(model: str, price: tuple[float, float] | None) -> None:
    expected = Price(input=price[0], output=price[1]) if price else None
    assert lookup_gemini(model) == expected
    assert GeminiConfig(provider="gemini", model=model).effective_price() == expected
