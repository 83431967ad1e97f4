"""Fixtures for the hosted-API providers: their loopback servers, keys, and small suites.

Each server is a real HTTP server on 127.0.0.1 speaking one API's wire format
(:mod:`promptbench.testing.wire`); the providers reach it through their real
SDKs. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptbench.testing.anthropic_server import AnthropicServer
from promptbench.testing.azure_server import AzureServer
from promptbench.testing.gemini_server import GeminiServer

# Long enough to be masked, and distinctive enough to find anywhere it leaks to.
ANTHROPIC_KEY = "sk-ant-test-NEVER-LEAK-4d2a9c"
GEMINI_KEY = "AIzaTest-NEVER-LEAK-8b31f0"
AZURE_KEY = "azure-test-NEVER-LEAK-55e7d1"
ALL_KEYS = (ANTHROPIC_KEY, GEMINI_KEY, AZURE_KEY)

# Variables a developer's shell may hold that would change which key a test uses.
KEY_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "AZURE_OPENAI_ENDPOINT",
    "OPENAI_API_VERSION",
)


@pytest.fixture
def hosted_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key from the developer's environment; each provider's test key set."""
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)


@pytest.fixture(scope="module")
def anthropic_module_server() -> Iterator[AnthropicServer]:
    with AnthropicServer(api_key=ANTHROPIC_KEY) as server:
        yield server


@pytest.fixture
def anthropic_server(anthropic_module_server: AnthropicServer) -> AnthropicServer:
    """Anthropic's Messages API on loopback, reset for this test."""
    anthropic_module_server.reset()
    return anthropic_module_server


@pytest.fixture(scope="module")
def gemini_module_server() -> Iterator[GeminiServer]:
    with GeminiServer(api_key=GEMINI_KEY) as server:
        yield server


@pytest.fixture
def gemini_server(gemini_module_server: GeminiServer) -> GeminiServer:
    """The Gemini API on loopback, reset for this test."""
    gemini_module_server.reset()
    return gemini_module_server


@pytest.fixture(scope="module")
def azure_module_server() -> Iterator[AzureServer]:
    deployments = {"triage-mini": "gpt-4o-mini-2024-07-18", "grader": "gpt-4.1-2025-04-14"}
    with AzureServer(api_key=AZURE_KEY, deployments=deployments) as server:
        yield server


@pytest.fixture
def azure_server(azure_module_server: AzureServer) -> AzureServer:
    """An Azure OpenAI resource on loopback with two deployments, reset for this test."""
    azure_module_server.reset()
    return azure_module_server


def anthropic_model(url: str, **fields: Any) -> dict[str, Any]:
    """A suite model entry for a Claude model behind the loopback server."""
    return {"provider": "anthropic", "model": "claude-haiku-4-5", "base_url": url, **fields}


def gemini_model(url: str, **fields: Any) -> dict[str, Any]:
    """A suite model entry for a Gemini model behind the loopback server."""
    return {"provider": "gemini", "model": "gemini-2.5-flash", "base_url": url, **fields}


def azure_model(url: str, **fields: Any) -> dict[str, Any]:
    """A suite model entry for the loopback resource's deployment."""
    return {"provider": "azure", "deployment": "triage-mini", "endpoint": url, **fields}


def leaked(run_dir: Path, secrets: tuple[str, ...] = ALL_KEYS) -> list[str]:
    """Files under ``run_dir`` that contain any of ``secrets``."""
    found = []
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            if any(s in text for s in secrets):
                found.append(str(path))
    return found
