"""A fast, scriptable OpenAI-compatible HTTP server for end-to-end tests and benchmarks.

Standard library only (``uvloop`` is used by the command line if importable).
The HTTP/1.1 layer is a minimal ``asyncio.Protocol``: keep-alive, pipelining,
``Content-Length`` or ``Transfer-Encoding: chunked`` request bodies,
``Expect: 100-continue`` and ``Connection: close``.

Run it::

    python -m promptbench.testing.openai_server [--host 127.0.0.1] [--port 0]
        [--latency-ms 0] [--rate-limit-rps 0] [--seed 0] [--default-reply echo]
        [--certfile cert.pem --keyfile key.pem]

It prints exactly one line, ``READY http://127.0.0.1:<port>/v1`` (``https://`` with
``--certfile``), once listening and serves until SIGTERM/SIGINT (exit code 0).
With a certificate it serves HTTPS only; a client that refuses the certificate is
counted in ``tls_failures``.  In-process use:
:class:`OpenAIServer` (``await start()`` / ``await stop()``) or
:class:`ServerThread` (a context manager running it on a background thread).

OpenAI endpoints
----------------
``POST /v1/chat/completions``
    Non-streaming ``chat.completion`` objects, or with ``"stream": true`` an SSE
    stream of ``chat.completion.chunk`` objects ending with ``data: [DONE]``
    (``stream_options.include_usage`` adds the final usage chunk).  The model is
    echoed; the default reply is the last user message verbatim.  Usage counts
    whitespace-separated words (prompt tokens over all message contents).  A body
    that is not JSON, or lacks ``model``/``messages``, gets a 400 error.
    A rule's ``tool_calls`` answers with tool calls; image parts are checked (see
    :mod:`promptbench.testing.tool_script`).
``GET /v1/models``, ``GET /v1/models/<id>``
    A small static model list.
Anything else
    404 with OpenAI's error shape ``{"error": {"message", "type", "param", "code"}}``.

Control API (JSON)
------------------
``POST /_control/reset``
    Drop the rules, restore the start-up configuration (command-line values),
    zero the counters.  Answers ``{"ok": true}``.
``POST /_control/config``
    Partial update; any of::

        {"latency_ms": 0.0, "rate_limit_rps": 0.0, "rate_limit_headers": "full" | "retry-after",
         "default_reply": "echo" | "<fixed text>", "seed": 0, "rules": [<rule>, ...],
         "record_requests": 0}

    Answers the full configuration in the same shape (also ``GET /_control/config``).
    Invalid input (unknown keys, bad fault kinds, ...) gets a 400 and changes nothing.
    Setting ``rules`` or ``seed`` restarts the rule counters and random streams;
    setting ``rate_limit_rps`` refills the bucket.
``GET /_control/requests``
    ``{"requests": [{"body": <the request JSON>, "authorization": <header>}, ...]}``: the
    last ``record_requests`` valid chat-completion requests (none unless configured).
``GET /_control/stats``
    ``{"requests": n, "by_outcome": {"ok": n, "429": n, ...}, "by_prompt": {<last user
    message>: n}, "rate_limited": n, "in_flight": n, "max_in_flight": n, "connections": n,
    "tls_failures": n}``.  Every
    chat-completion request counts (including rejected ones; a body that is not
    valid JSON counts under ``"invalid_request"`` and not in ``by_prompt``).  The
    outcome is ``"ok"`` or the fault kind applied (``"429"`` also for rate-limit
    rejections, which are counted in ``rate_limited`` too).  ``in_flight`` counts
    requests parsed but not yet answered; without latency a request is answered as
    soon as it is parsed, so ``max_in_flight`` only exceeds 1 with a latency or hang.
    ``connections`` counts the connections that carried a chat-completion request (so a
    client's keep-alive pool shows), ``tls_failures`` the TLS handshakes that failed.

Rules
-----
First match wins; ``"match"`` is a substring of the last user message (missing
or null: matches everything).  Keys (all optional)::

    {"match": "capital", "reply": "Paris"}               # fixed reply
    {"replies": ["a", "b"]}                              # k-th match gets replies[k % 2]
    {"faults": ["429", "429"]}                           # k-th match gets faults[k] while k < 2
    {"p_correct": 0.8, "correct": "yes", "wrong": "no"}  # seeded Bernoulli answer
    {"fault_rate": 0.1, "fault_kinds": ["500", "drop"]}  # seeded faults once ``faults`` ran out
    {"latency_ms": 250}                                  # overrides the global latency
    {"usage": {"prompt_tokens": 10, "completion_tokens": 2}}

``k`` counts every request matched by the rule (faulted ones included), so with
``"faults": ["500"], "replies": ["a", "b"]`` the retry gets ``"b"``.  Each rule
has its own random streams for ``p_correct`` and ``fault_rate`` seeded from
``(seed, rule index)``: the n-th draw is the same in every run, whatever the
interleaving of other rules.  Without a reply key the ``default_reply`` is used.

Fault kinds
-----------
``429[:s]``        429 with ``Retry-After: ceil(s)`` and exact ``retry-after-ms`` (default s=1)
``429-noretry``    429 ``insufficient_quota`` without any retry-after header
``400`` ``401`` ``404`` ``500`` ``502`` ``503``   OpenAI-shaped JSON errors (401 echoes the key
                   it was given, as some servers do)
``hang[:s]``       wait s seconds (default 30) instead of the latency, then answer normally
``drop``           close the TCP connection without any response
``malformed``      200 whose body is not valid JSON (an invalid SSE event when streaming)
``empty_choices``  200 with ``"choices": []``
``length``         normal reply with ``finish_reason: "length"``
``content_filter`` ``finish_reason: "content_filter"`` with ``content: null``
``oversize[:MiB]`` a valid 200 answer whose body is that large (default 17 MiB), with a
                   ``Content-Length``; ``oversize-chunked[:MiB]`` the same, chunked
``reset``          abort the TCP connection with a RST (the client sees "connection reset")
``empty_body``     200 with ``Content-Length: 0``
``slow_body[:s]``  a valid 200 answer whose body trickles in over s seconds (default 1)

Paid answers
------------
A provider bills the answers it completes. The server counts as *paid* each 200 whose
whole usable completion (outcomes ``ok``, ``length``, ``content_filter``, ``hang``,
``slow_body``;
not ``malformed``, ``empty_choices``, ``empty_body`` nor ``oversize``) was written to a
connection still open. ``GET /_control/paid`` answers ``{"paid": [{"prompt": <last user
message>, "at": <time.time()>}, ...]}`` in the order they were sent; ``stats`` has their
number as ``"paid"``. A benchmark matches them to the records a client kept.

The latency (global or per rule) delays every scripted answer, faults included.

Rate limiting
-------------
With ``rate_limit_rps`` > 0 a token bucket of capacity ``max(1, rps)`` (one
second of burst), refilled at ``rps`` tokens/s and starting full, guards the chat
endpoint before any rule is evaluated.  Rejected requests get an immediate 429
with ``Retry-After`` (whole seconds, rounded up) and ``retry-after-ms`` (time until
a token is available).  All chat responses then carry
``x-ratelimit-limit-requests`` (bucket capacity), ``x-ratelimit-remaining-requests``
and ``x-ratelimit-reset-requests`` (time until the bucket is full, e.g. ``"120ms"``).
With ``rate_limit_headers: "retry-after"`` the server says only what many gateways
and self-hosted servers say: a 429 with ``Retry-After`` in whole seconds, no other
rate-limit header on any answer.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import importlib
import itertools
import json
import math
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from promptbench.testing.scenario import (
    ERROR_FAULTS,
    PAID_OUTCOMES,
    ConfigError,
    Decision,
    Scenario,
    format_number,
    last_user_message,
)
from promptbench.testing.tool_script import image_problem, wire_tool_calls

__all__ = ["OpenAIServer", "ServerThread", "main"]

_T = TypeVar("_T")
JsonDict = dict[str, Any]
Headers = list[tuple[str, str]]

MAX_HEAD_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
MODELS: Final = ("gpt-4o-mini", "gpt-4o", "promptbench-echo")

_REASONS: Final = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 413: "Payload Too Large", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
}  # fmt: skip
_PIECES: Final = re.compile(r"\s*\S+\s*|\s+")
_MALFORMED_BODY: Final = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"ind'
)


def _error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> JsonDict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- HTTP parsing


@dataclass(slots=True)
class _Head:
    method: str
    path: str
    keep_alive: bool
    chunked: bool
    content_length: int
    expect_continue: bool
    authorization: str | None = None


def _parse_head(raw: bytes) -> _Head:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _HttpError(400, f"malformed request line {lines[0]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise _HttpError(400, f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = 0
    if not chunked and "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise _HttpError(400, "invalid Content-Length") from None
        if length < 0:
            raise _HttpError(400, "invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise _HttpError(413, "request body too large")
    expect = headers.get("expect", "").lower() == "100-continue"
    return _Head(
        method,
        target.partition("?")[0],
        keep_alive,
        chunked,
        length,
        expect,
        headers.get("authorization"),
    )


def _parse_chunked(buf: bytearray) -> tuple[bytes, int] | None:
    """Decode the chunked body starting ``buf``: (body, bytes consumed), or None if incomplete."""
    parts: list[bytes] = []
    pos = 0
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _HttpError(400, "invalid chunk size") from None
        pos = eol + 2
        if size == 0:
            while True:  # optional trailers, then an empty line
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(parts), eol + 2
                pos = eol + 2
        total += size
        if total > MAX_BODY_BYTES:
            raise _HttpError(413, "request body too large")
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise _HttpError(400, "malformed chunk")
        parts.append(bytes(buf[pos : pos + size]))
        pos += size + 2


# --------------------------------------------------------------------------- connection


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order and answers them."""

    def __init__(self, server: OpenAIServer) -> None:
        self._server = server
        self._scenario = server.scenario
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._continue_sent = False
        self.task: asyncio.Task[None] | None = None
        self._closed = False
        self._counted = False

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though uvloop's is not a subclass of asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        self._server.connections.add(self)
        if self._buffer:  # over TLS, data may arrive before the handshake's waiter resumes
            self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._server.connections.discard(self)
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self.task is None and self._transport is not None:
            self._process()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    # ---- request loop

    def close(self) -> None:
        """Close the connection (pending output is flushed first)."""
        if not self._closed:
            self._closed = True
            if self._transport is not None:
                self._transport.close()

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed server's host does."""
        if self._transport is not None and not self._closed:
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.abort()

    def abort(self) -> None:
        """Close the connection immediately."""
        self._closed = True
        if self._transport is not None:
            self._transport.abort()

    def _process(self) -> None:
        while not self._closed and self.task is None:
            try:
                request = self._next_request()
            except _HttpError as exc:
                self._send_json(
                    exc.status, _error_body(exc.message, "invalid_request_error"), keep_alive=False
                )
                return
            if request is None:
                return
            head, body = request
            self._dispatch(head, body)

    def _next_request(self) -> tuple[_Head, bytes] | None:
        buf = self._buffer
        if self._head is None:
            while buf[:2] == b"\r\n":
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise _HttpError(431, "request headers too large")
                return None
            self._head = _parse_head(bytes(buf[:end]))
            self._continue_sent = False
            del buf[: end + 4]
        head = self._head
        if head.chunked:
            parsed = _parse_chunked(buf)
            if parsed is None:
                self._maybe_continue(head)
                return None
            body, consumed = parsed
        else:
            consumed = head.content_length
            if len(buf) < consumed:
                self._maybe_continue(head)
                return None
            body = bytes(buf[:consumed])
        del buf[:consumed]
        self._head = None
        return head, body

    def _maybe_continue(self, head: _Head) -> None:
        if head.expect_continue and not self._continue_sent and self._transport is not None:
            self._continue_sent = True
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # ---- routing

    def _dispatch(self, head: _Head, body: bytes) -> None:
        method, path, keep = head.method, head.path, head.keep_alive
        if path == "/v1/chat/completions":
            if method == "POST":
                self._chat(body, keep, head.authorization)
            else:
                self._method_not_allowed(method, path, keep)
        elif path == "/v1/models" or path.startswith("/v1/models/"):
            if method != "GET":
                self._method_not_allowed(method, path, keep)
            elif path == "/v1/models":
                self._send_json(
                    200, {"object": "list", "data": [_model(m) for m in MODELS]}, keep_alive=keep
                )
            else:
                self._send_json(200, _model(path.removeprefix("/v1/models/")), keep_alive=keep)
        elif path.startswith("/_control/"):
            self._control(method, path, body, keep)
        else:
            message = f"Invalid URL ({method} {path})"
            self._send_json(404, _error_body(message, "invalid_request_error"), keep_alive=keep)

    def _method_not_allowed(self, method: str, path: str, keep: bool) -> None:
        message = f"Method {method} not allowed for {path}"
        self._send_json(405, _error_body(message, "invalid_request_error"), keep_alive=keep)

    def _control(self, method: str, path: str, body: bytes, keep: bool) -> None:
        scenario = self._scenario
        route = (method, path)
        if route == ("GET", "/_control/stats"):
            self._send_json(200, scenario.stats_json(), keep_alive=keep)
        elif route == ("POST", "/_control/reset"):
            scenario.reset()
            self._send_json(200, {"ok": True}, keep_alive=keep)
        elif route == ("GET", "/_control/paid"):
            self._send_json(200, scenario.paid_json(), keep_alive=keep)
        elif route == ("GET", "/_control/requests"):
            self._send_json(200, {"requests": list(scenario.recorded)}, keep_alive=keep)
        elif route == ("GET", "/_control/config"):
            self._send_json(200, scenario.config_json(), keep_alive=keep)
        elif route == ("POST", "/_control/config"):
            try:
                patch = json.loads(body) if body.strip() else {}
                self._send_json(200, scenario.configure(patch), keep_alive=keep)
            except (ValueError, UnicodeDecodeError) as exc:  # ConfigError is a ValueError
                message = str(exc) if isinstance(exc, ConfigError) else f"invalid JSON: {exc}"
                self._send_json(400, _error_body(message, "invalid_request_error"), keep_alive=keep)
        else:
            message = f"Invalid URL ({method} {path})"
            self._send_json(404, _error_body(message, "invalid_request_error"), keep_alive=keep)

    # ---- chat completions

    def _chat(self, body: bytes, keep: bool, authorization: str | None = None) -> None:
        scenario = self._scenario
        if not self._counted:
            self._counted = True
            scenario.connections += 1
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            scenario.record_invalid()
            message = "We could not parse the JSON body of your request."
            self._send_json(400, _error_body(message, "invalid_request_error"), keep_alive=keep)
            return
        problem = _validate_chat(payload)
        if problem is not None:
            scenario.record_invalid()
            self._send_json(
                400,
                _error_body(problem[0], "invalid_request_error", problem[1], problem[2]),
                keep_alive=keep,
            )
            return
        bad_image = image_problem(payload["messages"])
        if bad_image is not None:
            scenario.record_invalid()
            self._send_json(
                400,
                _error_body(bad_image, "invalid_request_error", "messages", "invalid_image"),
                keep_alive=keep,
            )
            return
        scenario.record_request(payload, authorization)
        decision = scenario.decide(payload["messages"])
        scenario.begin()
        if decision.delay > 0.0:
            task = asyncio.get_running_loop().create_task(
                self._answer_later(payload, decision, keep, authorization)
            )
            task.add_done_callback(self._task_done)
            self.task = task
        else:
            self._answer(payload, decision, keep, authorization)

    async def _answer_later(
        self, payload: JsonDict, decision: Decision, keep: bool, authorization: str | None
    ) -> None:
        await asyncio.sleep(decision.delay)
        self.task = None
        self._answer(payload, decision, keep, authorization)
        self._process()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():  # client gone or server stopping: the answer is abandoned
            self._scenario.end()

    def _answer(
        self, payload: JsonDict, decision: Decision, keep: bool, authorization: str | None = None
    ) -> None:
        self._scenario.end()
        if self._closed:
            return
        fault = decision.fault
        kind = fault.kind if fault is not None else "ok"
        headers = decision.headers
        model = str(payload["model"])
        if kind in ERROR_FAULTS:
            status, type_, code, message = ERROR_FAULTS[kind]
            if kind == "429" and fault is not None and fault.arg is not None:
                headers = [
                    *headers,
                    ("retry-after", str(math.ceil(fault.arg))),
                    ("retry-after-ms", format_number(fault.arg * 1000.0)),
                ]
            elif kind == "404":
                message = f"The model `{model}` does not exist or you do not have access to it."
            elif kind == "401" and authorization:
                # Some servers echo the key they were given: a client must not pass it on.
                key = authorization.removeprefix("Bearer ")
                message = f"Incorrect API key provided: {key}."
            body = _error_body(
                f"{message} (promptbench fault injection: {kind})", type_, None, code
            )
            self._send_json(status, body, headers, keep_alive=keep)
            return
        if kind == "drop":
            self.close()
            return
        if kind == "reset":
            self.reset()
            return
        if kind == "empty_body":
            self._send(200, b"", "application/json", headers, keep)
            return
        prompt = last_user_message(payload["messages"])
        base: JsonDict = {
            "id": f"chatcmpl-pb{next(self._server.ids):012d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
        }
        if payload.get("stream") is True:
            content_type = "text/event-stream; charset=utf-8"
            self._write_head(200, content_type, [*headers, ("transfer-encoding", "chunked")], keep)
            self._finish(_sse_body(payload, decision, base), keep)
            self._paid(kind, prompt)
        elif kind == "malformed":
            self._send(200, _MALFORMED_BODY, "application/json", headers, keep)
        elif kind in ("oversize", "oversize-chunked"):
            size = int((fault.arg if fault is not None and fault.arg else 0) * 1024 * 1024)
            text = "x" * size
            answer = {**base, "choices": [_choice(Decision("ok", content=text))]}
            data = json.dumps(answer).encode()
            if kind == "oversize":
                self._send(200, data, "application/json", headers, keep)
            else:
                chunked = [*headers, ("transfer-encoding", "chunked")]
                self._write_head(200, "application/json", chunked, keep)
                step = 1024 * 1024
                pieces = (data[i : i + step] for i in range(0, len(data), step))
                framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in pieces)
                self._finish(framed + b"0\r\n\r\n", keep)
        else:
            choice = _choice(decision)
            if decision.tool_calls:
                choice["message"]["content"] = None
                choice["message"]["tool_calls"] = wire_tool_calls(
                    decision.tool_calls, next(self._server.ids)
                )
            base["choices"] = [] if kind == "empty_choices" else [choice]
            base["usage"] = _usage(decision)
            if kind == "slow_body":
                seconds = fault.arg if fault is not None and fault.arg is not None else 1.0
                self._trickle(json.dumps(base).encode(), headers, keep, seconds, prompt)
                return
            self._send_json(200, base, headers, keep_alive=keep)
            self._paid(kind, prompt)

    def _paid(self, kind: str, prompt: str) -> None:
        if kind in PAID_OUTCOMES and not self._closed:
            self._scenario.paid_for(prompt)

    def _trickle(
        self, body: bytes, headers: Headers, keep: bool, seconds: float, prompt: str
    ) -> None:
        """Send ``body`` in pieces over ``seconds``; the next request waits for the last."""
        self._write_head(
            200, "application/json", [*headers, ("content-length", str(len(body)))], keep
        )
        pieces = 8
        step = math.ceil(len(body) / pieces)

        async def send() -> None:
            for i in range(0, len(body), step):
                await asyncio.sleep(seconds / pieces)
                if self._closed or self._transport is None:
                    return  # the client gave up: nothing is paid
                self._transport.write(body[i : i + step])
            self.task = None
            if not keep:
                self.close()
            self._paid("slow_body", prompt)
            self._process()

        self.task = asyncio.get_running_loop().create_task(send())

    # ---- output

    def _send_json(
        self, status: int, obj: object, headers: Headers | None = None, *, keep_alive: bool
    ) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", headers or [], keep_alive)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Headers, keep: bool
    ) -> None:
        self._write_head(status, content_type, [*headers, ("content-length", str(len(body)))], keep)
        self._finish(body, keep)

    def _write_head(self, status: int, content_type: str, headers: Headers, keep: bool) -> None:
        reason = _REASONS.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if not keep:
            lines.append("connection: close\r\n")
        lines.append("\r\n")
        if self._transport is not None and not self._closed:
            self._transport.write("".join(lines).encode("latin-1"))

    def _finish(self, body: bytes, keep: bool) -> None:
        if self._transport is not None and not self._closed:
            self._transport.write(body)
        if not keep:
            self.close()


def _model(model_id: str) -> JsonDict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "promptbench"}


def _choice(decision: Decision) -> JsonDict:
    message = {"role": "assistant", "content": decision.content, "refusal": None}
    return {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": decision.finish_reason,
    }


def _usage(decision: Decision) -> JsonDict:
    prompt, completion = decision.prompt_tokens, decision.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _sse_body(payload: JsonDict, decision: Decision, base: JsonDict) -> bytes:
    """Render the whole SSE stream of ``chat.completion.chunk`` events, chunk-encoded."""
    options = payload.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    base = {**base, "object": "chat.completion.chunk"}
    if include_usage:
        base["usage"] = None
    fault = decision.fault
    empty = fault is not None and fault.kind == "empty_choices"

    def event(obj: JsonDict) -> bytes:
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    def chunk(delta: JsonDict, finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return event({**base, "choices": [] if empty else [choice]})

    events = [chunk({"role": "assistant", "content": ""})]
    if fault is not None and fault.kind == "malformed":
        events.append(b'data: {"id": "' + str(base["id"]).encode() + b'", "choices": [{\n\n')
    else:
        pieces = _PIECES.findall(decision.content or "")
        events.extend(chunk({"content": piece}) for piece in pieces)
        events.append(chunk({}, decision.finish_reason))
        if include_usage:
            events.append(event({**base, "choices": [], "usage": _usage(decision)}))
    events.append(b"data: [DONE]\n\n")
    return b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"


def _validate_chat(payload: object) -> tuple[str, str | None, str | None] | None:
    """Return (message, param, code) describing why ``payload`` is not a valid request, or None."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object.", None, None
    for key in ("model", "messages"):
        if key not in payload:
            return f"Missing required parameter: '{key}'.", key, "missing_required_parameter"
    if not isinstance(payload["messages"], list):
        return "Invalid type for 'messages': expected an array.", "messages", "invalid_type"
    return None


class _TlsAccept(asyncio.Protocol):
    """A TCP connection whose TLS handshake is under way; then a :class:`_Connection`.

    The handshake is done with ``loop.start_tls`` rather than ``create_server(ssl=...)``
    so that a handshake the client aborts (it does not trust the certificate) is seen
    and counted: a client that retried it would show as more failures.
    """

    def __init__(self, server: OpenAIServer, context: ssl.SSLContext) -> None:
        self._server = server
        self._context = context

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass of it
        transport.pause_reading()  # the ClientHello waits in the socket for the TLS layer
        task = asyncio.get_running_loop().create_task(self._upgrade(transport))
        self._server.handshakes.add(task)
        task.add_done_callback(self._server.handshakes.discard)

    async def _upgrade(self, transport: asyncio.Transport) -> None:
        conn = _Connection(self._server)
        loop = asyncio.get_running_loop()
        try:
            tls = await loop.start_tls(
                transport, conn, self._context, server_side=True, ssl_handshake_timeout=10.0
            )
        except (OSError, ssl.SSLError, EOFError, TimeoutError):
            self._server.scenario.tls_failures += 1
            transport.abort()
            return
        if tls is None:  # the connection closed during the handshake
            self._server.scenario.tls_failures += 1
            return
        conn.connection_made(tls)


# --------------------------------------------------------------------------- servers


class OpenAIServer:
    """The fake OpenAI server, running on the current event loop.

    ``await start()`` binds (``port=0`` picks a free port), ``await stop()`` closes
    every connection.  ``url`` is the ``/v1`` base URL for ``openai.OpenAI(base_url=...)``.
    ``configure``/``reset``/``stats`` act on :attr:`scenario` directly (call them
    from the server's loop thread).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0.0,
        rate_limit_rps: float = 0.0,
        default_reply: str = "echo",
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.ssl_context = ssl_context  # serve HTTPS with this certificate
        self.handshakes: set[asyncio.Task[None]] = set()
        self.scenario = Scenario(
            latency_ms=latency_ms,
            rate_limit_rps=rate_limit_rps,
            default_reply=default_reply,
            seed=seed,
        )
        self.connections: set[_Connection] = set()
        self.ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._port: int | None = None

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        context = self.ssl_context

        def accept() -> asyncio.Protocol:
            return _Connection(self) if context is None else _TlsAccept(self, context)

        self._server = await loop.create_server(
            accept,
            self.host,
            self._requested_port,
            backlog=1024,
            reuse_address=True,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, abort open connections and wait for pending answers to be cancelled."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [conn.task for conn in self.connections if conn.task is not None]
        tasks.extend(self.handshakes)
        for conn in list(self.connections):
            conn.abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> OpenAIServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL ending in ``/v1``."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}/v1"

    def configure(self, **config: Any) -> JsonDict:
        """Apply a partial configuration (see the module docstring); return the full one."""
        return self.scenario.configure(config)

    def reset(self) -> None:
        """Restore the start-up configuration and zero the counters."""
        self.scenario.reset()

    def stats(self) -> JsonDict:
        """Return the ``GET /_control/stats`` document."""
        return self.scenario.stats_json()


class ServerThread:
    """Run an :class:`OpenAIServer` on its own event loop in a daemon thread.

    Use as a context manager (or ``start()``/``stop()``); ``configure``/``reset``/
    ``stats`` are thread-safe.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0.0,
        rate_limit_rps: float = 0.0,
        default_reply: str = "echo",
        seed: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = OpenAIServer(
            host,
            port,
            latency_ms=latency_ms,
            rate_limit_rps=rate_limit_rps,
            default_reply=default_reply,
            seed=seed,
            ssl_context=ssl_context,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> ServerThread:
        """Start the thread and wait until the server listens."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(
            target=self._run, name="promptbench-openai-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(20.0):
            raise RuntimeError("the OpenAI test server did not start within 20 s")
        if self._error is not None:
            raise RuntimeError(
                f"the OpenAI test server failed to start: {self._error!r}"
            ) from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # reported to start()
                self._error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
        finally:
            loop.close()

    def stop(self) -> None:
        """Stop the server and join the thread (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL ending in ``/v1``."""
        return self.server.url

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return self.server.port

    def _call(self, fn: Callable[[], _T]) -> _T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the server thread is not started")
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(10.0)

    def configure(self, **config: Any) -> JsonDict:
        """Apply a partial configuration; return the full one."""
        return self._call(lambda: self.server.configure(**config))

    def reset(self) -> None:
        """Restore the start-up configuration and zero the counters."""
        self._call(self.server.reset)

    def stats(self) -> JsonDict:
        """Return the ``GET /_control/stats`` document."""
        return self._call(self.server.stats)


# --------------------------------------------------------------------------- command line


def _non_negative(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m promptbench.testing.openai_server",
        description="Scriptable OpenAI-compatible server for tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency-ms", type=_non_negative, default=0.0)
    parser.add_argument("--rate-limit-rps", type=_non_negative, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--default-reply", default="echo", help='"echo" (default) or a fixed reply')
    parser.add_argument(
        "--no-uvloop", action="store_true", help="use the standard asyncio event loop"
    )
    parser.add_argument("--certfile", help="serve HTTPS with this PEM certificate (chain)")
    parser.add_argument("--keyfile", help="the certificate's private key (PEM)")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    context = None
    if args.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.certfile, args.keyfile)
    server = OpenAIServer(
        args.host,
        args.port,
        latency_ms=args.latency_ms,
        rate_limit_rps=args.rate_limit_rps,
        default_reply=args.default_reply,
        seed=args.seed,
        ssl_context=context,
    )
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Not available on Windows, where SIGINT arrives as KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # A program of its own (python -m ...): whoever started it waits for this line.
    print(f"READY {server.url}", flush=True)  # noqa: T201
    try:
        await stop.wait()
    finally:
        await server.stop()


def _loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    try:
        module = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: object = getattr(module, "new_event_loop", None)
    if not callable(factory):
        return None

    def new_loop() -> asyncio.AbstractEventLoop:
        loop = factory()
        assert isinstance(loop, asyncio.AbstractEventLoop)
        return loop

    return new_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        with asyncio.Runner(loop_factory=_loop_factory(not args.no_uvloop)) as runner:
            runner.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
