"""The hosted-API loopback servers answer in their APIs' documented shapes, on the wire.

Plain HTTP (urllib, no SDK): what each server refuses, and the error body it refuses
with, is what the SDK-level tests rely on.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from promptbench.testing.anthropic_server import AnthropicServer
from promptbench.testing.azure_server import AzureServer
from promptbench.testing.gemini_server import GeminiServer

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: object, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"content-type": "application/json", **headers}
    )
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


MESSAGE = {
    "model": "claude-haiku-4-5",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC_HEADERS = {"x-api-key": "k-1234567890", "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def anthropic_wire() -> Any:
    with AnthropicServer(api_key="k-1234567890") as server:
        yield server


@pytest.mark.parametrize(
    ("body", "headers", "status", "error_type", "says"),
    [
        (MESSAGE, {"anthropic-version": "2023-06-01"}, 401, "authentication_error", "x-api-key"),
        (MESSAGE, {"x-api-key": "wrong-key-000000"}, 401, "authentication_error", "invalid"),
        (MESSAGE, {"x-api-key": "k-1234567890"}, 400, "invalid_request_error", "anthropic-version"),
        (
            {**MESSAGE, "max_tokens": None},
            ANTHROPIC_HEADERS,
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        (
            {k: v for k, v in MESSAGE.items() if k != "max_tokens"},
            ANTHROPIC_HEADERS,
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ),
        ({**MESSAGE, "seed": 1}, ANTHROPIC_HEADERS, 400, "invalid_request_error", "seed: Extra"),
        (
            {**MESSAGE, "messages": [{"role": "system", "content": "x"}]},
            ANTHROPIC_HEADERS,
            400,
            "invalid_request_error",
            "top-level `system`",
        ),
    ],
)
def test_anthropic_refuses_what_the_api_refuses(
    anthropic_wire: AnthropicServer,
    body: object,
    headers: dict[str, str],
    status: int,
    error_type: str,
    says: str,
) -> None:
    code, answer, _ = post(anthropic_wire.url + "/v1/messages", body, headers)
    assert code == status
    assert answer["type"] == "error" and answer["error"]["type"] == error_type
    assert says in answer["error"]["message"]
    assert answer["request_id"].startswith("req_")


def test_anthropic_answers_a_message(anthropic_wire: AnthropicServer) -> None:
    code, answer, headers = post(anthropic_wire.url + "/v1/messages", MESSAGE, ANTHROPIC_HEADERS)
    assert code == 200
    assert answer["type"] == "message" and answer["role"] == "assistant"
    assert answer["content"] == [{"type": "text", "text": "hi"}]
    assert answer["stop_reason"] == "end_turn"
    assert answer["usage"]["input_tokens"] == 1 and answer["usage"]["output_tokens"] == 1
    assert headers["request-id"].startswith("req_")


def test_anthropic_529_is_overloaded_error(anthropic_wire: AnthropicServer) -> None:
    anthropic_wire.configure(rules=[{"faults": ["529"]}])
    try:
        code, answer, _ = post(anthropic_wire.url + "/v1/messages", MESSAGE, ANTHROPIC_HEADERS)
    finally:
        anthropic_wire.reset()
    assert code == 529 and answer["error"]["type"] == "overloaded_error"


CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture(scope="module")
def gemini_wire() -> Any:
    with GeminiServer(api_key="AIza-1234567890") as server:
        yield server


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "state", "says"),
    [
        (
            "/v1beta/models/m:generateContent",
            CONTENTS,
            {},
            403,
            "PERMISSION_DENIED",
            "unregistered",
        ),
        (
            "/v1beta/models/m:generateContent?key=AIza-wrong",
            CONTENTS,
            {},
            400,
            "INVALID_ARGUMENT",
            "API key not valid",
        ),
        (
            "/v1beta/models/m:generateContent",
            {"contents": [{"role": "system", "parts": [{"text": "x"}]}]},
            {"x-goog-api-key": "AIza-1234567890"},
            400,
            "INVALID_ARGUMENT",
            "valid role: user, model",
        ),
        (
            "/v1beta/models/m:generateContent",
            {**CONTENTS, "generationConfig": {"maxTokens": 3}},
            {"x-goog-api-key": "AIza-1234567890"},
            400,
            "INVALID_ARGUMENT",
            'Unknown name "maxTokens"',
        ),
        ("/v1beta/models/m:generate", CONTENTS, {}, 404, "NOT_FOUND", "not found"),
    ],
)
def test_gemini_refuses_what_the_api_refuses(
    gemini_wire: GeminiServer,
    path: str,
    body: object,
    headers: dict[str, str],
    status: int,
    state: str,
    says: str,
) -> None:
    code, answer, _ = post(gemini_wire.url + path, body, headers)
    assert code == status
    assert answer["error"]["code"] == status and answer["error"]["status"] == state
    assert says in answer["error"]["message"]


def test_gemini_answers_with_the_key_in_the_query(gemini_wire: GeminiServer) -> None:
    url = gemini_wire.url + "/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-1234567890"
    code, answer, _ = post(url, CONTENTS, {})
    assert code == 200
    [candidate] = answer["candidates"]
    assert candidate["content"] == {"parts": [{"text": "hi"}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    assert answer["usageMetadata"] == {
        "promptTokenCount": 1,
        "candidatesTokenCount": 1,
        "totalTokenCount": 2,
    }
    assert answer["modelVersion"] == "gemini-2.5-flash"


def test_gemini_429_carries_retry_info(gemini_wire: GeminiServer) -> None:
    gemini_wire.configure(rules=[{"faults": ["429:4"]}])
    try:
        code, answer, _ = post(
            gemini_wire.url + "/v1beta/models/m:generateContent",
            CONTENTS,
            {"x-goog-api-key": "AIza-1234567890"},
        )
    finally:
        gemini_wire.reset()
    assert (code, answer["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
    [info] = answer["error"]["details"]
    assert info == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "4s"}


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def azure_wire() -> Any:
    with AzureServer(api_key="az-1234567890", deployments={"dep": "gpt-4o-mini"}) as server:
        yield server


@pytest.mark.parametrize(
    ("path", "headers", "status", "code", "says"),
    [
        (
            "/openai/deployments/dep/chat/completions",
            {"api-key": "az-1234567890"},
            404,
            "404",
            "Resource not found",
        ),
        (
            "/openai/deployments/dep/chat/completions?api-version=2024-10-21",
            {},
            401,
            "401",
            "Access denied",
        ),
        (
            "/openai/deployments/other/chat/completions?api-version=2024-10-21",
            {"api-key": "az-1234567890"},
            404,
            "DeploymentNotFound",
            "does not exist",
        ),
    ],
)
def test_azure_refuses_what_the_service_refuses(
    azure_wire: AzureServer, path: str, headers: dict[str, str], status: int, code: str, says: str
) -> None:
    got, answer, _ = post(azure_wire.url + path, CHAT, headers)
    assert got == status
    assert answer["error"]["code"] == code and says in answer["error"]["message"]


def test_azure_answers_with_its_filter_results(azure_wire: AzureServer) -> None:
    path = "/openai/deployments/dep/chat/completions?api-version=2024-10-21"
    code, answer, _ = post(azure_wire.url + path, CHAT, {"api-key": "az-1234567890"})
    assert code == 200
    assert answer["model"] == "gpt-4o-mini" and answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "hi"}
    assert answer["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
