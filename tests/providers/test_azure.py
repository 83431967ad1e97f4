"""The azure provider: the openai SDK's AsyncAzureOpenAI against Azure's wire format on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promptbench.config import Price
from promptbench.errors import MissingExtraError, ProviderConfigError, ProviderError
from promptbench.providers import providers
from promptbench.providers.azure import DEFAULT_API_VERSION, AzureConfig, AzureProvider
from promptbench.testing.azure_server import AzureServer
from promptbench.types import Message, Prompt
from tests.helpers.hosted import AZURE_KEY

pytestmark = pytest.mark.usefixtures("hosted_env")

PROMPT = Prompt((Message("system", "Answer in one word."), Message("user", "Say hello")))


def config(url: str, **fields: Any) -> AzureConfig:
    return AzureConfig(provider="azure", deployment="triage-mini", endpoint=url, **fields)


def complete(cfg: AzureConfig, prompt: Prompt = PROMPT) -> Any:
    async def go() -> Any:
        p = AzureProvider(cfg)
        try:
            return await p.complete(prompt)
        finally:
            await p.aclose()

    return asyncio.run(go())


def failure(cfg: AzureConfig, prompt: Prompt = PROMPT) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        complete(cfg, prompt)
    return info.value


def test_the_request_goes_to_the_deployment_with_the_key(azure_server: AzureServer) -> None:
    done = complete(config(azure_server.url), Prompt(PROMPT.messages, {"temperature": 0}))
    assert (done.text, done.finish_reason) == ("Say hello", "stop")
    assert done.model == "gpt-4o-mini-2024-07-18"  # the model deployed, as Azure names it
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (6, 2)
    [req] = azure_server.requests()
    assert req["path"] == "/openai/deployments/triage-mini/chat/completions"
    assert req["query"] == {"api-version": DEFAULT_API_VERSION}
    assert req["headers"]["api-key"] == AZURE_KEY
    assert req["body"]["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert req["body"]["temperature"] == 0


def test_an_entra_token_from_the_environment_signs_in(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "entra-token-for-tests-123")
    azure_server.ad_token = "entra-token-for-tests-123"
    try:
        assert complete(config(azure_server.url)).text == "Say hello"
    finally:
        azure_server.ad_token = None
    headers = azure_server.requests()[0]["headers"]
    assert headers["authorization"] == "Bearer entra-token-for-tests-123"
    assert "api-key" not in headers


def test_the_endpoint_can_come_from_the_environment(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", azure_server.url + "/")
    cfg = AzureConfig(provider="azure", deployment="triage-mini")
    assert complete(cfg).text == "Say hello"
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    with pytest.raises(ProviderConfigError, match="AZURE_OPENAI_ENDPOINT"):
        cfg.preflight()


def test_without_key_or_token_the_message_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")
    with pytest.raises(ProviderConfigError) as info:
        AzureConfig(
            provider="azure", deployment="d", endpoint="https://r.openai.azure.com"
        ).preflight()
    message = str(info.value)
    assert "AZURE_OPENAI_API_KEY" in message and "AZURE_OPENAI_AD_TOKEN" in message
    assert "azure_identity" in message


def test_azure_identity_without_its_package_names_the_extra() -> None:
    cfg = AzureConfig(
        provider="azure", deployment="d", endpoint="https://r.openai.azure.com", azure_identity=True
    )
    try:
        import azure.identity  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"pip install 'promptbench\[azure\]'"):
            cfg.preflight()
    else:
        pytest.skip("azure-identity is installed here")


def test_the_content_filter_is_a_content_filter_error(azure_server: AzureServer) -> None:
    azure_server.configure(rules=[{"faults": ["content_filter"]}])
    err = failure(config(azure_server.url))
    assert (err.kind, err.retryable, err.status) == ("content_filter", False, 400)


@pytest.mark.parametrize(
    ("fault", "kind", "retryable", "status"),
    [
        ("400", "client_error", False, 400),
        ("401", "auth", False, 401),
        ("429", "rate_limit", True, 429),
        ("500", "server_error", True, 500),
        ("503", "server_error", True, 503),
        ("empty_choices", "empty_response", True, None),
        ("drop", "connection", True, None),
    ],
)
def test_each_failure_is_classified(
    azure_server: AzureServer, fault: str, kind: str, retryable: bool, status: int | None
) -> None:
    azure_server.configure(rules=[{"faults": [fault]}])
    err = failure(config(azure_server.url))
    assert (err.kind, err.retryable, err.status) == (kind, retryable, status)
    assert azure_server.stats()["requests"] == 1  # the SDK's own retries are off
    assert AZURE_KEY not in err.message


def test_a_429_carries_retry_after(azure_server: AzureServer) -> None:
    azure_server.configure(rules=[{"faults": ["429:2"]}])
    err = failure(config(azure_server.url))
    assert err.retry_after == 2.0
    assert "Please retry after 2 seconds" in err.message


def test_an_echoed_key_is_masked(azure_server: AzureServer) -> None:
    azure_server.configure(rules=[{"faults": ["401"]}])
    err = failure(config(azure_server.url))
    assert "[redacted]" in err.message and AZURE_KEY not in err.message


def test_an_unknown_deployment_is_not_retried(azure_server: AzureServer) -> None:
    err = failure(AzureConfig(provider="azure", deployment="nope", endpoint=azure_server.url))
    assert (err.kind, err.retryable, err.status) == ("client_error", False, 404)
    assert "deployment" in err.message


def test_a_wrong_key_is_azures_401(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "another-azure-key-000000")
    err = failure(config(azure_server.url))
    assert (err.kind, err.retryable, err.status) == ("auth", False, 401)
    assert "Access denied" in err.message


def test_the_provider_is_registered_with_its_config() -> None:
    assert providers.get("azure").config is AzureConfig


def test_the_cache_identity_names_endpoint_and_deployment_not_the_credential() -> None:
    a = AzureConfig(provider="azure", deployment="d", endpoint="https://r.openai.azure.com")
    b = AzureConfig(
        provider="azure", deployment="d", endpoint="https://r.openai.azure.com", api_key_env="K"
    )
    other = AzureConfig(provider="azure", deployment="e", endpoint="https://r.openai.azure.com")
    assert a.cache_identity() == b.cache_identity() != other.cache_identity()
    assert a.cache_identity()["endpoint"] == "https://r.openai.azure.com"


@pytest.mark.parametrize(
    ("fields", "price"),
    [
        ({"deployment": "gpt-4o-mini"}, (0.15, 0.60)),
        ({"deployment": "prod-chat", "model": "gpt-4.1"}, (2.00, 8.00)),
        ({"deployment": "prod-chat"}, None),
    ],
)
def test_the_model_deployed_is_priced(
    fields: dict[str, str], price: tuple[float, float] | None
) -> None:
    cfg = AzureConfig(provider="azure", endpoint="https://r.openai.azure.com", **fields)
    assert cfg.effective_price() == (Price(input=price[0], output=price[1]) if price else None)
