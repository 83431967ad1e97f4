"""preflight checks the CA bundle wherever a TLS context will be made, and only there."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptbench.errors import ProviderConfigError
from promptbench.providers.openai import OpenAIConfig


@pytest.fixture
def bad_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.mark.usefixtures("bad_bundle")
@pytest.mark.parametrize(
    "entry",
    [
        {"base_url": "https://llm.example.com/v1"},
        {},  # hosted OpenAI, through the SDK
        {"base_url": "http://127.0.0.1:8000/v1", "transport": "sdk"},  # httpx gets a context
    ],
)
def test_a_bad_bundle_fails_preflight_where_tls_is_set_up(entry: dict[str, str]) -> None:
    config = OpenAIConfig.model_validate({"provider": "openai", "model": "m", **entry})
    with pytest.raises(ProviderConfigError, match=r"missing\.pem"):
        config.preflight()


@pytest.mark.usefixtures("bad_bundle")
def test_a_plain_http_server_on_the_aiohttp_client_does_not_read_the_bundle() -> None:
    config = OpenAIConfig.model_validate(
        {"provider": "openai", "model": "m", "base_url": "http://127.0.0.1:8000/v1"}
    )
    assert config.chosen_transport() == "aiohttp"
    config.preflight()  # no TLS context is ever made for it, so nothing to check
