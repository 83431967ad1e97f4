"""The small HTTP/1.1 client: framings, keep-alive, and failures, against raw servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from promptbench.providers.http11 import HTTPClient, HTTPError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.decode().split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return head + await reader.readexactly(length)


def serve(
    handler: Handler, calls: int = 1
) -> tuple[list[bytes], list[int], Callable[[], Awaitable[None]]]:
    seen: list[bytes] = []
    connections: list[int] = []

    async def go() -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(1)
            await handler(reader, writer)

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HTTPClient(f"http://127.0.0.1:{port}/v1", {"Authorization": "Bearer k"})
        try:
            for _ in range(calls):
                response = await client.post("/chat", b'{"a": 1}')
                seen.append(response.body)
        finally:
            await client.close()
            server.close()

    return seen, connections, go


def keep_alive(body: bytes, extra: str = "") -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body
            )
            await writer.drain()

    return handler


def test_content_length_and_keep_alive_reuse() -> None:
    seen, connections, go = serve(keep_alive(b'{"ok": true}'), calls=5)
    asyncio.run(go())
    assert seen == [b'{"ok": true}'] * 5
    assert len(connections) == 1  # one connection, kept alive


def test_connection_close_opens_a_new_connection() -> None:
    seen, connections, go = serve(keep_alive(b"x", "Connection: close\r\n"), calls=3)

    # The server keeps its side open; the client must not reuse what it was told to close.
    asyncio.run(go())
    assert seen == [b"x"] * 3
    assert len(connections) == 3


def test_chunked_body_with_extensions_and_trailers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'4;ext=1\r\n{"a"\r\n5\r\n: 12}\r\n0\r\nX-Trailer: y\r\n\r\n'
        )
        await writer.drain()
        writer.close()

    seen, _, go = serve(handler)
    asyncio.run(go())
    assert seen == [b'{"a": 12}']


def test_body_to_end_of_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    seen, _, go = serve(handler)
    asyncio.run(go())
    assert seen == [b"all of it"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"", "no response: the server closed the connection"),
        (b"SMTP ready\r\n\r\n", "not an HTTP/1.x response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "IncompleteReadError"),
    ],
)
def test_broken_responses_are_http_errors(reply: bytes, message: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()
        writer.close()

    _, _, go = serve(handler)
    with pytest.raises(HTTPError, match=message):
        asyncio.run(go())


def test_request_carries_host_auth_length_and_body() -> None:
    got: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await _read_request(reader))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    _, _, go = serve(handler)
    asyncio.run(go())
    request = got[0].decode()
    assert request.startswith("POST /v1/chat HTTP/1.1\r\n")
    assert "\r\nAuthorization: Bearer k\r\n" in request
    assert "\r\nContent-Length: 8\r\n" in request
    assert request.endswith('\r\n\r\n{"a": 1}')


def test_connection_refused() -> None:
    async def go() -> None:
        client = HTTPClient("http://127.0.0.1:9/v1")
        await client.post("/chat", b"{}")

    with pytest.raises(HTTPError, match=r"cannot connect to 127\.0\.0\.1:9"):
        asyncio.run(go())
