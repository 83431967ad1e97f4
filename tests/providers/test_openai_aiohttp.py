"""The aiohttp client against the loopback server: size cap, errors, keep-alive."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.openai_aiohttp import (
    MAX_RESPONSE_BYTES,
    AiohttpTransport,
    decode_body,
    encode_body,
    proxy_for,
)
from promptbench.types import Completion
from tests.helpers.e2e import echo_suite, qa_cases, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project
from tests.helpers.proxy import free_port

BODY = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}


def create(url: str, body: dict[str, Any] = BODY, **options: Any) -> Completion:
    async def go() -> Completion:
        transport = AiohttpTransport(url, "sk-test", timeout=options.pop("timeout", 5.0), **options)
        try:
            return await transport.create(body)
        finally:
            await transport.close()

    return asyncio.run(go())


def failure(url: str, **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        create(url, **options)
    return info.value


def test_an_answer_is_parsed(loopback: LoopbackServer) -> None:
    completion = create(loopback.url)
    assert completion.text == "hello there"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 2)
    assert completion.finish_reason == "stop"


@pytest.mark.parametrize("fault", ["oversize:0.05", "oversize-chunked:0.05"])
def test_a_response_past_the_cap_is_too_large_and_final(
    loopback: LoopbackServer, fault: str
) -> None:
    loopback.configure(rules=[{"faults": [fault]}])
    err = failure(loopback.url, max_response_bytes=20_000)
    assert (err.kind, err.retryable) == (ErrorKind.TOO_LARGE, False)
    assert "too large" in err.message and "20,000 bytes" in err.message
    # Below the cap the same answer is read whole.
    loopback.configure(rules=[{"faults": [fault]}])
    assert len(create(loopback.url, max_response_bytes=200_000).text) == int(0.05 * 1024 * 1024)


def test_the_default_cap_in_a_run(loopback: LoopbackServer, project: Project) -> None:
    assert MAX_RESPONSE_BYTES == 16 * 1024 * 1024
    loopback.configure(rules=[{"match": "q1", "faults": ["oversize:17"]}])
    path = project.suite(
        echo_suite(
            loopback.url,
            cases=qa_cases(2),
            max_error_rate=1.0,
            model_params={"transport": "aiohttp"},
        )
    )
    result, _ = run(path)
    by_case = {r["case_id"]: r for r in records(result)}
    assert by_case["q1"]["error"]["kind"] == "too_large"
    assert "the cap for one completion is 16 MiB" in by_case["q1"]["error"]["message"]
    assert by_case["q1"]["retries"] == 0
    assert by_case["q2"]["passed"] is True
    assert loopback.stats()["by_prompt"] == {"Q: q1": 1, "Q: q2": 1}


def test_a_refused_connection_is_a_retryable_connection_error() -> None:
    err = failure(f"http://127.0.0.1:{free_port()}/v1")
    assert (err.kind, err.retryable) == (ErrorKind.CONNECTION, True)
    assert err.message.startswith("connection failed: ClientConnectorError: ")


def test_a_hang_is_a_timeout(loopback: LoopbackServer) -> None:
    loopback.configure(rules=[{"faults": ["hang:2"]}])
    err = failure(loopback.url, timeout=0.2)
    assert (err.kind, err.retryable) == (ErrorKind.TIMEOUT, True)
    assert err.message == "request timed out (timeout 0.2 s)"


@pytest.mark.parametrize(
    ("fault", "kind", "retryable"),
    [
        ("429:0.01", ErrorKind.RATE_LIMIT, True),
        ("429-noretry", ErrorKind.QUOTA, False),
        ("401", ErrorKind.AUTH, False),
        ("404", ErrorKind.CLIENT_ERROR, False),
        ("503", ErrorKind.SERVER_ERROR, True),
        ("malformed", ErrorKind.MALFORMED, True),
        ("empty_choices", ErrorKind.EMPTY_RESPONSE, True),
        ("content_filter", ErrorKind.CONTENT_FILTER, False),
        ("drop", ErrorKind.CONNECTION, True),
    ],
)
def test_server_faults_map_to_kinds(
    loopback: LoopbackServer, fault: str, kind: ErrorKind, retryable: bool
) -> None:
    loopback.configure(rules=[{"faults": [fault]}])
    err = failure(loopback.url)
    assert (err.kind, err.retryable) == (kind, retryable)


def test_proxy_for_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert proxy_for("https://api.groq.com/openai/v1") == (None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "proxy.corp:8080")
    assert proxy_for("https://api.groq.com/openai/v1") == (
        "http://proxy.corp:3128",
        {"Proxy-Authorization": "Basic " + base64.b64encode(b"user:p@ss").decode()},
    )
    assert proxy_for("http://gpu-box:8000/v1") == ("http://proxy.corp:8080", None)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.internal")
    assert proxy_for("http://127.0.0.1:8000/v1") == (None, None)
    assert proxy_for("http://localhost:11434/v1") == (None, None)
    assert proxy_for("http://vllm.internal:8000/v1") == (None, None)
    assert proxy_for("https://api.groq.com/openai/v1")[0] == "http://proxy.corp:3128"


# --------------------------------------------------------------------------- the body's JSON

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN (json.loads reads NaN, which is never equal to itself)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_an_answer_decodes_as_the_standard_library_reads_it(value: object) -> None:
    # orjson first, the standard library for what orjson refuses (NaN, big integers,
    # lone surrogates): what an answer means never depends on which one read it.
    for raw in (
        json.dumps(value).encode(),
        json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    ):
        try:
            expected = json.loads(raw)
        except ValueError:
            with pytest.raises(ValueError):
                decode_body(raw)
            continue
        assert _same(decode_body(raw), expected)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_a_request_body_encodes_to_the_same_json(value: object) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "extra": value}
    assert _same(json.loads(encode_body(body)), json.loads(json.dumps(body)))


def test_what_orjson_refuses_is_sent_as_before() -> None:
    for body in ({"seed": 2**70}, {"messages": [{"content": "\ud800"}]}, {1: "a"}):
        assert encode_body(body) == json.dumps(body).encode()
    assert decode_body(b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }
    with pytest.raises(ValueError):
        decode_body(b"<html>bad gateway</html>")
