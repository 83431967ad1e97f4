"""The openai provider's pure parts: error classification, request bodies, Retry-After, prices."""

from __future__ import annotations

import ssl
import time
from email.utils import formatdate
from typing import Any

import openai
import pytest

from promptbench.config import Price
from promptbench.errors import ProviderConfigError
from promptbench.providers import pricing
from promptbench.providers.openai import OpenAIConfig, request_body
from promptbench.providers.openai_http import retry_after as _retry_after
from promptbench.providers.openai_sdk import classify
from promptbench.types import Message, Prompt

try:  # the SDK's HTTP library; some builds vendor it under another name
    import httpx2 as httpx  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef,import-not-found,unused-ignore]

REQUEST = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def status_error(
    status: int, body: object = None, headers: dict[str, str] | None = None, message: str = "err"
) -> openai.APIStatusError:
    response = httpx.Response(status, headers=headers or {}, request=REQUEST)
    return openai.APIStatusError(message, response=response, body=body)


def fields(exc: Exception) -> tuple[str, bool, int | None, float | None, str]:
    err = classify(exc)
    return err.kind, err.retryable, err.status, err.retry_after, err.message


# --------------------------------------------------------------------------- classify


def test_timeout_is_retryable() -> None:
    assert fields(openai.APITimeoutError(request=REQUEST)) == (
        "timeout",
        True,
        None,
        None,
        "request timed out",
    )


def test_connection_error_names_the_cause() -> None:
    exc = openai.APIConnectionError(request=REQUEST)
    exc.__cause__ = ConnectionRefusedError("refused")
    assert fields(exc) == (
        "connection",
        True,
        None,
        None,
        "connection failed: ConnectionRefusedError",
    )
    bare = openai.APIConnectionError(request=REQUEST)
    assert classify(bare).message == "connection failed: APIConnectionError"


def test_rate_limit_with_retry_after() -> None:
    body = {"error": {"message": "Rate limit reached for gpt-4o-mini", "type": "requests"}}
    exc = status_error(429, body, {"retry-after": "2"})
    assert fields(exc) == (
        "rate_limit",
        True,
        429,
        2.0,
        "rate limited (429): Rate limit reached for gpt-4o-mini",
    )
    ms = status_error(429, body, {"retry-after-ms": "1500", "retry-after": "9"})
    assert classify(ms).retry_after == 1.5
    assert classify(status_error(429, body)).retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retryable_with_retry_after(status: int) -> None:
    exc = status_error(status, {"error": {"message": "overloaded"}}, {"retry-after": "3"})
    assert fields(exc) == ("server_error", True, status, 3.0, f"HTTP {status}: overloaded")


@pytest.mark.parametrize("status", [408, 409])
def test_timeout_and_conflict_statuses_are_retryable(status: int) -> None:
    kind, retryable, got_status, _, _ = fields(status_error(status, {"message": "try again"}))
    assert (kind, retryable, got_status) == ("client_error", True, status)


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    exc = status_error(status, {"error": {"message": "bad request"}}, {"retry-after": "5"})
    assert fields(exc) == ("client_error", False, status, None, f"HTTP {status}: bad request")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_keys_are_auth_errors_not_retried(status: int) -> None:
    exc = status_error(status, {"error": {"message": "Incorrect API key provided"}})
    assert fields(exc) == (
        "auth",
        False,
        status,
        None,
        f"HTTP {status}: Incorrect API key provided; check the API key",
    )


def test_a_connection_error_caused_by_an_untrusted_certificate_is_tls() -> None:
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "unable to get local issuer certificate"
    connect = httpx.ConnectError("handshake failed")
    connect.__cause__ = cert
    exc = openai.APIConnectionError(request=REQUEST)
    exc.__cause__ = connect
    err = classify(exc, "api.example.com")
    assert (err.kind, err.retryable) == ("tls", False)
    assert err.message == (
        "certificate for api.example.com not trusted (unable to get local issuer certificate); "
        "set SSL_CERT_FILE to your CA bundle (a PEM file)"
    )


def test_message_falls_back_to_the_exception_and_is_truncated() -> None:
    assert classify(status_error(400, "plain text body", message="Bad thing")).message == (
        "HTTP 400: Bad thing"
    )
    long = classify(status_error(400, {"error": {"message": "x" * 1000}}))
    assert long.message == "HTTP 400: " + "x" * 300
    # A body whose "error" is a string, not an object: the SDK's message is used.
    assert classify(status_error(400, {"error": "nope"}, message="fallback")).message == (
        "HTTP 400: fallback"
    )


def test_malformed_responses_are_retryable() -> None:
    response = httpx.Response(200, request=REQUEST)
    exc = openai.APIResponseValidationError(response, body={"weird": True})
    assert fields(exc) == (
        "malformed",
        True,
        None,
        None,
        "malformed response: APIResponseValidationError",
    )
    assert classify(ValueError("bad json")).kind == "malformed"


def test_anything_else_is_not_retried() -> None:
    assert fields(RuntimeError("surprise")) == (
        "unknown",
        False,
        None,
        None,
        "RuntimeError: surprise",
    )


# --------------------------------------------------------------------------- Retry-After


def test_retry_after_header_forms() -> None:
    assert _retry_after(None) is None
    assert _retry_after({}) is None
    assert _retry_after({"retry-after": "7"}) == 7.0
    assert _retry_after({"retry-after": "0.5"}) == 0.5
    assert _retry_after({"retry-after-ms": "250"}) == 0.25
    assert _retry_after({"retry-after-ms": "soon", "retry-after": "4"}) == 4.0
    assert _retry_after({"retry-after": "whenever"}) is None
    assert _retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0


def test_retry_after_http_date() -> None:
    future = formatdate(time.time() + 30, usegmt=True)
    assert 27.0 <= (_retry_after({"retry-after": future}) or 0) <= 30.0
    past = formatdate(time.time() - 300, usegmt=True)
    assert _retry_after({"retry-after": past}) == 0.0


# --------------------------------------------------------------------------- request body


def test_request_body() -> None:
    config = OpenAIConfig(model="gpt-4o-mini", temperature=0, max_tokens=5)
    prompt = Prompt(
        (Message("system", "be brief"), Message("user", "hi")),
        config.sampling_params(),
    )
    assert request_body(prompt, config) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0,
        "max_tokens": 5,
    }


def test_request_body_response_format_and_stop() -> None:
    config = OpenAIConfig(model="m")
    params: dict[str, Any] = {"response_format": "json_object", "stop": ["\n", "END"], "seed": 3}
    body = request_body(Prompt((Message("user", "x"),), params), config)
    assert body["response_format"] == {"type": "json_object"}
    assert (body["stop"], body["seed"]) == (["\n", "END"], 3)
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}
    body = request_body(Prompt((Message("user", "x"),), {"response_format": schema}), config)
    assert body["response_format"] == schema


def test_sampling_params_only_holds_set_values() -> None:
    config = OpenAIConfig(model="m", top_p=0.5, stop="END", timeout=5, max_retries=1)
    assert config.sampling_params() == {"top_p": 0.5, "stop": "END"}


# --------------------------------------------------------------------------- api key


def test_api_key_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(ProviderConfigError) as info:
        OpenAIConfig(model="gpt-4o").resolve_api_key()
    assert str(info.value) == (
        "the environment variable OPENAI_API_KEY is not set; "
        "export OPENAI_API_KEY=... or name another variable with api_key_env"
    )
    # A local server takes any key ...
    assert OpenAIConfig(model="l", base_url="http://localhost:1/v1").resolve_api_key() == (
        "not-needed"
    )
    # ... unless the suite names a variable, which then must be set.
    named = OpenAIConfig(model="l", base_url="http://localhost:1/v1", api_key_env="MY_KEY")
    with pytest.raises(ProviderConfigError, match="MY_KEY is not set"):
        named.resolve_api_key()
    monkeypatch.setenv("MY_KEY", "sk-mine")
    assert named.resolve_api_key() == "sk-mine"


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="base_url must start with http:// or https://"):
        OpenAIConfig(model="m", base_url="localhost:11434")


# --------------------------------------------------------------------------- pricing


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("gpt-4o-mini", (0.15, 0.60)),
        ("gpt-4o", (2.50, 10.00)),
        ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),
        ("gpt-4o-2024-08-06", (2.50, 10.00)),
        ("gpt-4.1-nano-2025-04-14", (0.10, 0.40)),
        ("gpt-4-turbo-2024-04-09", (10.00, 30.00)),
        ("gpt-4-0613", (30.00, 60.00)),
        ("gpt-3.5-turbo-0125", (0.50, 1.50)),
        ("o3-mini-2025-01-31", (1.10, 4.40)),
    ],
)
def test_price_lookup_of_known_models_and_snapshots(model: str, price: tuple[float, float]) -> None:
    assert pricing.lookup(model) == Price(input=price[0], output=price[1])


@pytest.mark.parametrize(
    "model",
    [
        None,
        "",
        "llama3.2",
        "gpt-4o-mini-x",
        # Other models that merely share a prefix have prices of their own: unknown, not guessed.
        "o3-pro",
        "gpt-5-pro",
        "gpt-4o-audio-preview",
        "gpt-4-1106-preview",
        "gpt-4o-mini-realtime-preview-2024-12-17",
    ],
)
def test_unknown_models_have_no_price(model: str | None) -> None:
    assert pricing.lookup(model) is None


def test_cost() -> None:
    price = Price(input=0.15, output=0.60)
    assert pricing.cost(price, 1_000_000, 0) == pytest.approx(0.15)
    assert pricing.cost(price, 2000, 500) == pytest.approx((2000 * 0.15 + 500 * 0.60) / 1e6)
    assert pricing.cost(price, 0, 0) == 0.0
    assert pricing.cost(None, 100, 100) is None


def test_default_and_effective_price() -> None:
    hosted = OpenAIConfig(model="gpt-4o-mini")
    assert hosted.effective_price() == Price(input=0.15, output=0.60)
    explicit = OpenAIConfig(model="gpt-4o-mini", base_url="https://api.openai.com/v1")
    assert explicit.default_price() == Price(input=0.15, output=0.60)
    local = OpenAIConfig(model="gpt-4o-mini", base_url="http://localhost:11434/v1")
    assert local.effective_price() is None
    priced = OpenAIConfig(
        model="llama3.2", base_url="http://localhost:1/v1", price=Price(input=1, output=2)
    )
    assert priced.effective_price() == Price(input=1, output=2)
