"""The rules every response of the viewer follows, in one ASGI middleware.

* **Host.** A page on another site can make a browser resolve its own name to
  127.0.0.1 (DNS rebinding) and then read what the viewer serves. The browser still
  sends that site's name in ``Host``, so a request whose ``Host`` is not the address
  served is refused (421), before any route runs.
* **Paths.** A path with a ``.`` or ``..`` segment is refused (404) whatever route it
  would reach; run ids are checked again by :func:`~promptbench.view.index.valid_run_id`.
* **Read-only.** Only GET and HEAD exist; anything else is refused (405). No route
  writes to the run store.
* **Headers.** A Content-Security-Policy that lets a page run its own inline script
  and fetch from the viewer only, never load from or send to anywhere else, never be
  framed; ``nosniff`` and no referrer.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` values a browser sends for the address served (with its port)."""
    names = {host if ":" not in host else f"[{host}]"}
    if host in ("127.0.0.1", "::1", "localhost"):
        names.update(LOOPBACK_NAMES)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:
        hosts |= names
    return frozenset(h.lower() for h in hosts)


class ViewerRules:
    """Refuse foreign ``Host`` headers and methods that could write; add the headers."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(h.lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then pass it on with the headers added to the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            await _refuse(send, 421, f"this viewer does not serve the host {host!r}")
            return
        if any(part in (".", "..") or "\\" in part for part in scope["path"].split("/")):
            await _refuse(send, 404, "no such page")  # a path out of the store: never served
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _refuse(send, 405, "the viewer is read-only: GET and HEAD only")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Send, status: int, text: str) -> None:
    body = (text + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    if status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
