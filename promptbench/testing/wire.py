"""A threaded loopback HTTP server that answers in one hosted API's wire format.

The hosted-API test servers (:mod:`~promptbench.testing.anthropic_server`,
:mod:`~promptbench.testing.gemini_server`, :mod:`~promptbench.testing.azure_server`)
share this base: it listens on 127.0.0.1, parses each request, and asks the
subclass for a :class:`Reply`. What to answer is scripted exactly as for the
OpenAI test server, by a :class:`~promptbench.testing.scenario.Scenario` (rules,
faults, latency, rate limiting; its fault kinds are documented in
:mod:`promptbench.testing.openai_server`), so a test scripts any of the servers
the same way. Each server renders the decision in its own API's shapes: its
error bodies, its finish reasons, its usage fields.

Standard library only. Every request is recorded (method, path, query, headers,
body) for tests to inspect with :meth:`WireServer.requests`.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from promptbench.testing.scenario import Decision, Scenario

__all__ = ["MALFORMED_BODY", "Reply", "Request", "WireServer", "shaped"]

JsonDict = dict[str, Any]
MALFORMED_BODY = b'{"id": "broken", "content": [{"type": "te'  # truncated JSON
MAX_BODY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the server read it; header names are lower case."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: object  # the parsed JSON, or None when the body is not JSON
    raw: bytes

    def to_json(self) -> JsonDict:
        """The JSON form :meth:`WireServer.requests` returns."""
        return {
            "method": self.method,
            "path": self.path,
            "query": dict(self.query),
            "headers": dict(self.headers),
            "body": self.body,
        }


@dataclass
class Reply:
    """What to send back: a status, a JSON body (or raw bytes), headers, after a delay."""

    status: int = 200
    body: object = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering

    def payload(self) -> bytes:
        """The body's bytes."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the recorded requests instead."""

    def do_GET(self) -> None:
        """Answer a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413)
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body: object = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, url.path, query, headers, body, raw)
        reply = self.server.wire.dispatch(request)
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = reply.payload()
        self.send_response(reply.status)
        content_type = "application/json"
        for name, value in reply.headers:
            if name.lower() == "content-type":
                content_type = value
            else:
                self.send_header(name, value)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging answer never keeps the test process alive
    wire: WireServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is no error of the server's: stay quiet."""


class WireServer:
    """Base of the hosted-API servers: a Scenario behind one API's routes, on a thread.

    ``api_key``, when given, is the only key accepted; a request with another one
    gets that API's own authentication error. Use as a context manager, or call
    :meth:`start` and :meth:`stop`.
    """

    name: ClassVar[str] = "wire"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency_ms: float = 0.0,
        default_reply: str = "echo",
        seed: int = 0,
        record: int = 200,
    ) -> None:
        self.api_key = api_key
        self.scenario = Scenario(latency_ms=latency_ms, default_reply=default_reply, seed=seed)
        self._lock = threading.Lock()
        self._recorded: deque[Request] = deque(maxlen=record)
        self._ids = itertools.count(1)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> WireServer:
        """Listen on 127.0.0.1 (a free port) and serve on a background thread."""
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.wire = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"{self.name}-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WireServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._httpd is not None, "the server is not started"
        port: int = self._httpd.server_address[1]
        return port

    @property
    def url(self) -> str:
        """The root URL, ``http://127.0.0.1:PORT`` (what a client's ``base_url`` takes)."""
        return f"http://127.0.0.1:{self.port}"

    # ---- scripting, as the OpenAI test server's control API

    def configure(self, **config: Any) -> JsonDict:
        """Apply a partial Scenario configuration (rules, latency_ms, default_reply, ...)."""
        with self._lock:
            return self.scenario.configure(config)

    def reset(self) -> None:
        """Drop rules, restore the start-up configuration, forget the recorded requests."""
        with self._lock:
            self.scenario.reset()
            self._recorded.clear()

    def stats(self) -> JsonDict:
        """The Scenario's counters (requests, by_outcome, by_prompt, ...)."""
        with self._lock:
            return self.scenario.stats_json()

    def requests(self) -> list[JsonDict]:
        """The requests received, oldest first."""
        with self._lock:
            return [r.to_json() for r in self._recorded]

    # ---- for subclasses

    def dispatch(self, request: Request) -> Reply:
        """Record ``request`` and answer it."""
        with self._lock:
            self._recorded.append(request)
        return self.handle(request)

    def handle(self, request: Request) -> Reply:
        """Answer one request; subclasses route and render their API's shapes."""
        raise NotImplementedError

    def decide(self, messages: Sequence[object]) -> Decision:
        """The Scenario's decision for chat-shaped ``messages`` ({role, content})."""
        with self._lock:
            return self.scenario.decide(messages)

    def next_id(self) -> int:
        """A fresh number for response ids."""
        return next(self._ids)


def shaped(
    text: str, max_tokens: int | None, stops: Sequence[str]
) -> tuple[str, str | None, str | None]:
    """``text`` cut as a model would: at the first stop sequence, or at ``max_tokens`` words.

    Returns the text, why it ended early (``"stop_sequence"``, ``"max_tokens"`` or None)
    and the stop sequence that ended it. Words stand for tokens, as in the usage counts.
    """
    cuts = [(text.find(s), s) for s in stops if s and s in text]
    if cuts:
        at, stop = min(cuts)
        return text[:at], "stop_sequence", stop
    words = text.split()
    if max_tokens is not None and len(words) > max_tokens:
        return " ".join(words[:max_tokens]), "max_tokens", None
    return text, None, None
