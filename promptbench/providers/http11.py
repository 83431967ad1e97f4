"""A small HTTP/1.1 client on asyncio streams, for JSON POSTs to one server.

It exists for speed: against an OpenAI-compatible server it costs a fraction of
the CPU per call of the SDK or aiohttp, and nothing to import (aiohttp alone takes
0.2 s to import here), which is what a run of thousands of short calls is made of
(``bench/run_bench.py`` prints the figures). It does exactly what the chat
completions API needs and no more: keep-alive connections, ``Content-Length`` and
chunked responses, TLS with the system's certificates. No proxies, redirects or
compression: ``transport: sdk`` uses the official SDK, which has them (and
``transport: auto`` picks it when an HTTP proxy is configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from promptbench._version import __version__

MAX_HEADER_BYTES = 64 * 1024
IDLE_REUSE_SECONDS = 4.0  # below the common 5 s keep-alive timeout of servers


class HTTPError(Exception):
    """The connection failed or the server broke the protocol."""


@dataclass(frozen=True)
class Response:
    """A whole response."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def close(self) -> None:
        self.writer.close()


class HTTPClient:
    """POSTs to one origin over a pool of keep-alive connections."""

    def __init__(self, base_url: str, headers: Mapping[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.path_prefix = parts.path.rstrip("/")
        host_header = self.host if parts.port is None else f"{self.host}:{self.port}"
        fixed = {
            "Host": host_header,
            "User-Agent": f"promptbench/{__version__}",
            "Accept": "application/json",
            **(headers or {}),
        }
        self._head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: list[_Connection] = []
        self._ssl: ssl.SSLContext | None = ssl.create_default_context() if self.tls else None

    async def post(
        self, path: str, body: bytes, content_type: str = "application/json"
    ) -> Response:
        """Send one POST and read the whole response."""
        request = (
            f"POST {self.path_prefix}{path} HTTP/1.1\r\n{self._head}"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        conn = await self._connection()
        try:
            response, keep = await self._exchange(conn, request)
        except (ConnectionError, asyncio.IncompleteReadError, HTTPError) as exc:
            # Never sent again here: the server may have seen the request, and the
            # runner's retry counts every attempt.
            conn.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            conn.close()  # cancelled or timed out half-way: the connection is unusable
            raise
        if keep:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            conn.close()
        return response

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            # A server closes idle connections (uvicorn after 5 s): reuse only fresh ones
            # it has not closed, so that a request is not lost on a dead connection.
            fresh = now - conn.idle_since < IDLE_REUSE_SECONDS
            if fresh and not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return await self._open()

    async def _open(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self.tls else None,
                limit=MAX_HEADER_BYTES,
            )
        except OSError as exc:
            raise HTTPError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, request: bytes) -> tuple[Response, bool]:
        conn.writer.write(request)
        await conn.writer.drain()
        try:
            head = await conn.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise HTTPError("no response: the server closed the connection") from None
            raise
        except asyncio.LimitOverrunError:
            raise HTTPError("response headers too large") from None
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
            raise HTTPError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
        try:
            status = int(status_line[1])
        except ValueError:
            raise HTTPError(f"bad status line: {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close" and status_line[0] != "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked(conn.reader)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise HTTPError("bad Content-Length") from None
            body = await conn.reader.readexactly(length)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # the body runs to the end of the connection
            body = await conn.reader.read()
            keep = False
        return Response(status, headers, body), keep

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HTTPError("bad chunk size") from None
            if size == 0:
                # Trailers, if any, end with an empty line.
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            conn = self._idle.pop()
            conn.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await conn.writer.wait_closed()
