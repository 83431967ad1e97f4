"""Which transport a model gets: the SDK for hosted OpenAI, aiohttp for a base_url."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from promptbench.providers.openai import OpenAIConfig, OpenAIProvider

PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.mark.parametrize(
    ("base_url", "transport"),
    [
        (None, "sdk"),
        ("https://api.openai.com/v1", "sdk"),
        ("https://api.openai.com/v1/", "sdk"),
        ("http://localhost:11434/v1", "aiohttp"),
        ("https://api.groq.com/openai/v1", "aiohttp"),
    ],
)
def test_auto_is_the_sdk_for_hosted_openai_and_aiohttp_for_a_base_url(
    base_url: str | None, transport: str
) -> None:
    assert OpenAIConfig(model="m", base_url=base_url).chosen_transport() == transport


@pytest.mark.parametrize("chosen", ["sdk", "sdk-aiohttp", "aiohttp"])
def test_an_explicit_transport_is_kept(chosen: str) -> None:
    config = OpenAIConfig(model="m", base_url="http://localhost:1/v1", transport=chosen)  # type: ignore[arg-type]
    assert config.chosen_transport() == chosen


def test_a_proxy_variable_does_not_change_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXIES:
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    local = OpenAIProvider(OpenAIConfig(model="m", base_url="http://localhost:1/v1"))
    assert local.transport == "aiohttp"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-123")
    hosted = OpenAIProvider(OpenAIConfig(model="gpt-4o-mini"))
    assert hosted.transport == "sdk"


def test_lean_was_removed_with_a_pointer_to_its_replacement() -> None:
    with pytest.raises(ValidationError, match="transport 'lean' was removed; use aiohttp"):
        OpenAIConfig(model="m", base_url="http://localhost:1/v1", transport="lean")  # type: ignore[arg-type]


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ValidationError, match="'sdk-aiohttp'"):
        OpenAIConfig(model="m", transport="httpx")  # type: ignore[arg-type]
