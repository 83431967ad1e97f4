"""End-to-end tests of the fake OpenAI server, driven through the official openai SDK."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from promptbench.testing.openai_server import OpenAIServer, ServerThread
from tests.helpers.loopback import LoopbackServer

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer.start() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _fresh_server(server: LoopbackServer) -> None:
    server.reset()


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url, api_key="test", max_retries=0) as c:
        yield c


def ask(client: openai.OpenAI, prompt: str, **kwargs: Any) -> str | None:
    response: ChatCompletion = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": prompt}], **kwargs
    )
    return response.choices[0].message.content


def raw_request(
    server: LoopbackServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def assert_openai_error_shape(body: object) -> None:
    assert isinstance(body, dict)
    assert set(body["error"]) == {"message", "type", "param", "code"}


# --------------------------------------------------------------------------- basics


def test_echo_reply_and_usage(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="gpt-echo",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "hello there  world"},
        ],
    )
    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "gpt-echo"
    assert response.created > 0
    [choice] = response.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "hello there  world"
    assert response.usage is not None
    assert response.usage.prompt_tokens == 2 + 2 + 2 + 3
    assert response.usage.completion_tokens == 3
    assert response.usage.total_tokens == 12


def test_models_and_unknown_paths(server: LoopbackServer, client: openai.OpenAI) -> None:
    assert "gpt-4o-mini" in [m.id for m in client.models.list()]
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.embeddings.create(model="m", input="x")
    assert excinfo.value.status_code == 404
    status, headers, body = raw_request(server, "GET", "/nope")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert_openai_error_shape(json.loads(body))


def test_invalid_json_body_is_a_400(server: LoopbackServer) -> None:
    headers = {"Content-Type": "application/json"}
    status, _, body = raw_request(server, "POST", "/v1/chat/completions", b"{nope", headers)
    assert status == 400
    assert_openai_error_shape(json.loads(body))
    status, _, body = raw_request(
        server, "POST", "/v1/chat/completions", b'{"model": "m"}', headers
    )
    assert status == 400
    assert json.loads(body)["error"]["param"] == "messages"
    assert server.stats()["by_outcome"] == {"invalid_request": 2}


def test_default_reply_fixed_and_usage_override(
    server: LoopbackServer, client: openai.OpenAI
) -> None:
    server.configure(
        default_reply="canned answer",
        rules=[{"match": "count", "usage": {"prompt_tokens": 100, "completion_tokens": 7}}],
    )
    assert ask(client, "anything") == "canned answer"
    response = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "count me"}]
    )
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (100, 7)
    assert response.usage.total_tokens == 107


def test_replies_cycle_per_rule(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(
        rules=[
            {"match": "cycle", "replies": ["a", "b", "c"]},
            {"match": "capital", "reply": "Paris"},
        ]
    )
    assert [ask(client, "cycle please") for _ in range(5)] == ["a", "b", "c", "a", "b"]
    assert ask(client, "the capital of France?") == "Paris"
    assert ask(client, "unmatched") == "unmatched"
    # k counts every request matched by the rule, faulted ones included.
    server.configure(rules=[{"faults": ["500"], "replies": ["a", "b"]}])
    with pytest.raises(openai.InternalServerError):
        ask(client, "x")
    assert ask(client, "x") == "b"


def test_invalid_config_is_rejected_and_changes_nothing(server: LoopbackServer) -> None:
    server.configure(latency_ms=5)
    with pytest.raises(RuntimeError, match="unknown fault kind 'teapot'"):
        server.configure(latency_ms=50, rules=[{"faults": ["teapot"]}])
    with pytest.raises(RuntimeError, match="unknown keys"):
        server.configure(rules=[{"mtach": "typo"}])
    with pytest.raises(RuntimeError, match="unknown configuration keys"):
        server.configure(latencyms=1)
    assert server.config()["latency_ms"] == 5
    assert server.config()["rules"] == []


# --------------------------------------------------------------------------- faults


def test_scripted_faults_then_success(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rules=[{"match": "flaky", "faults": ["429:0.05", "500"]}])
    with pytest.raises(openai.RateLimitError) as rate_limited:
        ask(client, "flaky call")
    headers = rate_limited.value.response.headers
    assert headers["retry-after-ms"] == "50"
    assert headers["retry-after"] == "1"
    with pytest.raises(openai.InternalServerError) as server_error:
        ask(client, "flaky call")
    assert server_error.value.status_code == 500
    assert ask(client, "flaky call") == "flaky call"
    stats = server.stats()
    assert stats["requests"] == 3
    assert stats["by_outcome"] == {"429": 1, "500": 1, "ok": 1}
    assert stats["by_prompt"] == {"flaky call": 3}


def test_sdk_retries_get_through_scripted_faults(server: LoopbackServer) -> None:
    server.configure(rules=[{"faults": ["429:0.05", "500"]}])
    with openai.OpenAI(base_url=server.url, api_key="test", max_retries=2) as retrying:
        assert ask(retrying, "eventually") == "eventually"
    assert server.stats()["by_outcome"] == {"429": 1, "500": 1, "ok": 1}


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("400", openai.BadRequestError, 400),
        ("401", openai.AuthenticationError, 401),
        ("404", openai.NotFoundError, 404),
        ("429-noretry", openai.RateLimitError, 429),
        ("500", openai.InternalServerError, 500),
        ("502", openai.InternalServerError, 502),
        ("503", openai.InternalServerError, 503),
    ],
)
def test_error_faults(
    server: LoopbackServer,
    client: openai.OpenAI,
    fault: str,
    error: type[openai.APIStatusError],
    status: int,
) -> None:
    server.configure(rules=[{"faults": [fault]}])
    with pytest.raises(error) as excinfo:
        ask(client, "boom")
    assert excinfo.value.status_code == status
    assert isinstance(excinfo.value.body, dict)
    assert set(excinfo.value.body) == {"message", "type", "param", "code"}
    assert "retry-after" not in excinfo.value.response.headers
    assert server.stats()["by_outcome"] == {fault: 1}


def test_drop_is_a_connection_error(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rules=[{"match": "drop", "faults": ["drop"]}])
    with pytest.raises(openai.APIConnectionError):
        ask(client, "drop me")
    assert ask(client, "fine") == "fine"
    assert server.stats()["by_outcome"] == {"drop": 1, "ok": 1}


def test_malformed_and_empty_choices(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rules=[{"faults": ["malformed", "empty_choices"]}])
    # The SDK lets the JSON decoding error escape as is (not an openai.APIError).
    with pytest.raises(json.JSONDecodeError):
        ask(client, "x")
    response = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}]
    )
    assert response.choices == []
    assert server.stats()["by_outcome"] == {"malformed": 1, "empty_choices": 1}


def test_hang_hits_the_client_timeout(server: LoopbackServer) -> None:
    server.configure(rules=[{"match": "slow", "faults": ["hang:2"]}])
    with openai.OpenAI(base_url=server.url, api_key="t", max_retries=0, timeout=0.3) as impatient:
        # The timeout error is the proof: the 2 s hang would otherwise have been answered.
        with pytest.raises(openai.APITimeoutError):
            ask(impatient, "slow one")
        assert ask(impatient, "quick one") == "quick one"
    deadline = time.monotonic() + 2.0  # the abandoned request is cancelled on disconnect
    while server.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.stats()["in_flight"] == 0


def test_finish_reasons(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rules=[{"faults": ["length", "content_filter"]}])
    response = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "long text"}]
    )
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].message.content == "long text"
    response = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "bad text"}]
    )
    assert response.choices[0].finish_reason == "content_filter"
    assert not response.choices[0].message.content


def test_rule_latency_overrides_global(server: LoopbackServer, client: openai.OpenAI) -> None:
    # The gaps are wide so that a loaded machine cannot blur them: a loopback call does
    # not take 2 s, and the overridden one cannot be quicker than its 3 s.
    server.configure(latency_ms=0, rules=[{"match": "slow", "latency_ms": 200}])
    started = time.monotonic()
    ask(client, "slow")
    assert time.monotonic() - started >= 0.2
    server.configure(latency_ms=3000, rules=[{"match": "fast", "latency_ms": 0}])
    started = time.monotonic()
    ask(client, "fast")
    assert time.monotonic() - started < 2.0


# --------------------------------------------------------------------------- randomness


def _answers(client: openai.OpenAI, n: int) -> list[str | None]:
    return [ask(client, f"question {i}") for i in range(n)]


def test_p_correct_is_calibrated_and_reproducible(
    server: LoopbackServer, client: openai.OpenAI
) -> None:
    rule = {"match": "question", "p_correct": 0.7, "correct": "yes", "wrong": "no"}
    server.configure(seed=1234, rules=[rule])
    first = _answers(client, 400)
    assert set(first) == {"yes", "no"}
    assert 0.62 <= first.count("yes") / 400 <= 0.78
    server.reset()
    server.configure(seed=1234, rules=[rule])
    assert _answers(client, 400) == first
    server.reset()
    server.configure(seed=99, rules=[rule])
    assert _answers(client, 400) != first


def test_fault_rate_is_seeded_and_counted(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rules=[{"fault_rate": 0.3, "fault_kinds": ["500", "503"]}])
    failures = 0
    for i in range(200):
        try:
            ask(client, f"q{i}")
        except openai.InternalServerError:
            failures += 1
    stats = server.stats()
    assert 40 <= failures <= 80
    assert stats["requests"] == 200
    assert stats["by_outcome"].get("500", 0) + stats["by_outcome"].get("503", 0) == failures
    assert stats["by_outcome"]["ok"] == 200 - failures
    assert len(stats["by_prompt"]) == 200


# --------------------------------------------------------------------------- rate limiting


def test_rate_limit_mode(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rate_limit_rps=5)
    ok = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.headers["x-ratelimit-limit-requests"] == "5"
    assert ok.headers["x-ratelimit-remaining-requests"] == "4"
    assert re.fullmatch(r"\d+ms|\d+(\.\d+)?s", ok.headers["x-ratelimit-reset-requests"])
    for _ in range(4):
        ask(client, "hi")
    with pytest.raises(openai.RateLimitError) as excinfo:
        ask(client, "hi")
    headers = excinfo.value.response.headers
    assert 0 < float(headers["retry-after-ms"]) <= 200
    assert headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-limit-requests"] == "5"
    # The SDK's own retries honour retry-after-ms and get through.
    with openai.OpenAI(base_url=server.url, api_key="test", max_retries=3) as retrying:
        assert ask(retrying, "patient") == "patient"
    stats = server.stats()
    assert stats["rate_limited"] >= 1
    assert stats["by_outcome"]["429"] == stats["rate_limited"]


def test_rate_limit_said_only_by_retry_after(server: LoopbackServer, client: openai.OpenAI) -> None:
    server.configure(rate_limit_rps=2, rate_limit_headers="retry-after")
    ok = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert not [h for h in ok.headers if h.startswith("x-ratelimit")]
    ask(client, "hi")
    with pytest.raises(openai.RateLimitError) as excinfo:
        ask(client, "hi")
    headers = excinfo.value.response.headers
    assert headers["retry-after"] == "1"
    assert "retry-after-ms" not in headers
    assert not [h for h in headers if h.startswith("x-ratelimit")]
    with pytest.raises(RuntimeError, match="rate_limit_headers must be one of"):
        server.configure(rate_limit_headers="some")


# --------------------------------------------------------------------------- streaming


def test_streaming(server: LoopbackServer, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "stream  these words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "stream  these words"
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3

    server.configure(rules=[{"faults": ["429:0.05", "length"]}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
    chunks = list(
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "length"


def test_async_streaming_and_concurrency(server: LoopbackServer) -> None:
    server.configure(latency_ms=100)

    async def run() -> tuple[list[str | None], str]:
        async with openai.AsyncOpenAI(
            base_url=server.url, api_key="test", max_retries=0
        ) as aclient:

            async def one(i: int) -> str | None:
                response = await aclient.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"request {i}"}]
                )
                return response.choices[0].message.content

            answers = await asyncio.gather(*(one(i) for i in range(50)))
            stream = await aclient.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "a b c"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return list(answers), text

    answers, text = asyncio.run(run())
    assert answers == [f"request {i}" for i in range(50)]
    assert text == "a b c"
    stats = server.stats()
    assert stats["requests"] == 51
    # The 50 calls overlapped (the server's own count, not a wall clock: this machine is shared).
    assert stats["max_in_flight"] >= 10
    assert stats["in_flight"] == 0


# --------------------------------------------------------------------------- HTTP details


def test_chunked_request_body_and_connection_close(server: LoopbackServer) -> None:
    payload = json.dumps({"model": "m", "messages": [{"role": "user", "content": "chunky"}]})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(
            "POST",
            "/v1/chat/completions",
            body=iter([payload[:10].encode(), payload[10:].encode()]),
            headers={"Content-Type": "application/json", "Connection": "close"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("connection") == "close"
        assert json.loads(response.read())["choices"][0]["message"]["content"] == "chunky"
    finally:
        conn.close()


def test_keep_alive_pipelining_in_order(server: LoopbackServer) -> None:
    server.configure(rules=[{"match": "first", "latency_ms": 100}])

    def request(prompt: str) -> bytes:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": prompt}]})
        return (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"\r\n{body}"
        ).encode()

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request("first") + request("second"))
        data = b""
        while data.count(b"chat.completion") < 2:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.index(b'"content": "first"') < data.index(b'"content": "second"')


def test_sigterm_exits_cleanly() -> None:
    srv = LoopbackServer.start(latency_ms=5, rate_limit_rps=100)
    try:
        assert srv.config()["latency_ms"] == 5
        assert srv.config()["rate_limit_rps"] == 100
    finally:
        assert srv.stop() == 0


# --------------------------------------------------------------------------- in-process


def test_server_thread_in_process() -> None:
    with ServerThread(default_reply="from thread") as srv:
        with openai.OpenAI(base_url=srv.url, api_key="test", max_retries=0) as c:
            assert ask(c, "hi") == "from thread"
            srv.configure(rules=[{"faults": ["500"]}])
            with pytest.raises(openai.InternalServerError):
                ask(c, "hi")
        assert srv.stats()["by_outcome"] == {"ok": 1, "500": 1}
        srv.reset()
        assert srv.stats()["requests"] == 0


def test_openai_server_on_the_running_loop() -> None:
    async def run() -> str | None:
        async with OpenAIServer(latency_ms=10) as srv:
            assert srv.url == f"http://127.0.0.1:{srv.port}/v1"
            async with openai.AsyncOpenAI(base_url=srv.url, api_key="t", max_retries=0) as c:
                response = await c.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "in loop"}]
                )
            assert srv.stats()["requests"] == 1
            return response.choices[0].message.content

    assert asyncio.run(run()) == "in loop"


# --------------------------------------------------------------------------- faults of bench_faults


def test_reset_is_a_connection_reset(server: LoopbackServer) -> None:
    server.configure(rules=[{"match": "reset", "faults": ["reset"]}])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "reset me"}]})
    try:
        conn.request("POST", "/v1/chat/completions", body=body)
        with pytest.raises(ConnectionResetError):  # a RST, not an orderly close
            conn.getresponse()
    finally:
        conn.close()
    assert server.stats()["by_outcome"] == {"reset": 1}


def test_empty_body_is_a_200_with_nothing(server: LoopbackServer) -> None:
    server.configure(rules=[{"faults": ["empty_body"]}])
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode()
    status, headers, data = raw_request(server, "POST", "/v1/chat/completions", body)
    assert (status, headers["content-length"], data) == (200, "0", b"")


def test_slow_body_trickles_in_and_is_whole(server: LoopbackServer) -> None:
    server.configure(rules=[{"match": "slow", "faults": ["slow_body:3"]}])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "slow one"}]})
    try:
        started = time.monotonic()
        conn.request("POST", "/v1/chat/completions", body=body)
        response = conn.getresponse()
        headed = time.monotonic() - started
        data = response.read()
        whole = time.monotonic() - started
    finally:
        conn.close()
    assert headed < 2.0 <= whole  # the head at once, the body over 3 s (wide: a shared machine)
    assert json.loads(data)["choices"][0]["message"]["content"] == "slow one"


def test_slow_body_past_the_timeout_is_not_paid(server: LoopbackServer) -> None:
    # Eight pieces over 4 s: half a second between two, past the client's read timeout.
    server.configure(rules=[{"match": "slow", "faults": ["slow_body:4"]}])
    impatient = openai.OpenAI(base_url=server.url, api_key="t", max_retries=0, timeout=0.3)
    with impatient, pytest.raises(openai.APITimeoutError):
        ask(impatient, "slow one")
    time.sleep(1.0)  # the server's next piece finds the connection closed
    assert server.paid() == []


def test_paid_counts_whole_usable_answers_only(
    server: LoopbackServer, client: openai.OpenAI
) -> None:
    server.configure(
        rules=[
            {"match": "bad", "faults": ["500", "malformed", "empty_choices", "drop"]},
            {"match": "hung", "faults": ["hang:2"]},
        ]
    )
    for _ in range(4):
        with pytest.raises(Exception):  # noqa: B017 - four kinds of failure
            ask(client, "bad")
    assert ask(client, "bad") == "bad"  # the faults ran out: paid
    assert ask(client, "good") == "good"
    impatient = openai.OpenAI(base_url=server.url, api_key="t", max_retries=0, timeout=0.3)
    with impatient, pytest.raises(openai.APITimeoutError):
        ask(impatient, "hung")  # the client gave up before the answer: not paid
    time.sleep(2.2)
    paid = server.paid()
    assert [p["prompt"] for p in paid] == ["bad", "good"]
    assert paid[0]["at"] <= paid[1]["at"] <= time.time()
    assert server.stats()["paid"] == 2
    server.reset()
    assert server.paid() == []
