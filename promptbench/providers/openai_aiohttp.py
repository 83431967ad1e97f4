"""The chat completions API over aiohttp: the default client for a ``base_url``.

An OpenAI-compatible server (vLLM, Ollama, llama.cpp, Groq, OpenRouter, a company
gateway) is sent the same JSON as the SDK would send, and its answer is parsed
directly. The SDK's own per-call work (building the request, validating the answer
into typed models, httpx) costs several times the CPU of the call itself on a fast
server; ``bench/run_bench.py`` prints the figures for each transport.

What the client does, and reads from where:

- TLS with the certificates of :func:`promptbench.providers.tls.tls_context`
  (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else the system's); an untrusted certificate is
  one final ``tls`` error, never retried.
- ``HTTP_PROXY``/``HTTPS_PROXY`` (or lower case) and ``NO_PROXY``, chosen once for the
  server (:func:`proxy_for`): a host named in ``NO_PROXY`` is reached directly. (aiohttp's
  ``trust_env`` would look the proxy up again on a thread for every request, which cost
  five times the CPU of the request itself.)
- A response larger than :data:`MAX_RESPONSE_BYTES` is a final ``too_large`` error,
  read no further.
- One keep-alive pool per model, as large as the model's ``concurrency`` (else as
  large as the run's concurrency makes it; the runner bounds the calls in flight).

``AIOHTTP_EXC_MAP`` says what each of aiohttp's exceptions means.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import ssl
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from promptbench._version import __version__
from promptbench.bulk import loads
from promptbench.errors import ErrorKind, ProviderError
from promptbench.providers.openai_http import classify_status, completion_from_json
from promptbench.providers.tls import tls_context, tls_failure, tls_message
from promptbench.types import Completion

#: The largest response read for one completion: far above any real answer (a 128k-token
#: completion is well under 1 MiB of JSON), far below what would hurt the run.
MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
#: Idle connections are reused only this long: below the 5 s keep-alive of common servers
#: (uvicorn), so that a request is not sent on a connection the server is closing.
IDLE_REUSE_SECONDS: Final = 4.0

_BY_NAME: Final[Mapping[str, ErrorKind | None]] = {
    # None: the HTTP status of the response decides (STATUS_KINDS).
    "ClientError": ErrorKind.CONNECTION,
    "ClientConnectionError": ErrorKind.CONNECTION,
    "ClientConnectionResetError": ErrorKind.CONNECTION,
    "ClientOSError": ErrorKind.CONNECTION,
    "ClientConnectorError": ErrorKind.CONNECTION,
    "ClientConnectorDNSError": ErrorKind.CONNECTION,
    "ClientProxyConnectionError": ErrorKind.CONNECTION,
    "ServerConnectionError": ErrorKind.CONNECTION,
    "ServerDisconnectedError": ErrorKind.CONNECTION,
    "ClientPayloadError": ErrorKind.CONNECTION,  # the body was cut short or mis-encoded
    "UploadAbortedError": ErrorKind.CONNECTION,  # the server closed while the body was sent
    "ClientSSLError": ErrorKind.TLS,
    "ClientConnectorSSLError": ErrorKind.TLS,
    "ClientConnectorCertificateError": ErrorKind.TLS,
    "ServerFingerprintMismatch": ErrorKind.TLS,
    "ServerTimeoutError": ErrorKind.TIMEOUT,
    "ConnectionTimeoutError": ErrorKind.TIMEOUT,
    "SocketTimeoutError": ErrorKind.TIMEOUT,
    "ClientResponseError": None,
    "ClientHttpProxyError": ErrorKind.CONNECTION,  # the proxy refused the tunnel
    "ContentTypeError": ErrorKind.MALFORMED,
    "TooManyRedirects": ErrorKind.CLIENT_ERROR,
    "WSServerHandshakeError": ErrorKind.CLIENT_ERROR,
    "WSMessageTypeError": ErrorKind.MALFORMED,
    "InvalidURL": ErrorKind.CONFIG,
    "InvalidUrlClientError": ErrorKind.CONFIG,
    "RedirectClientError": ErrorKind.CLIENT_ERROR,
    "NonHttpUrlClientError": ErrorKind.CONFIG,
    "InvalidUrlRedirectClientError": ErrorKind.CLIENT_ERROR,
    "NonHttpUrlRedirectClientError": ErrorKind.CLIENT_ERROR,
}

#: aiohttp's exceptions and the kind each means, looked up along the exception's class
#: hierarchy (the names a given aiohttp version has; a test checks none is left out).
AIOHTTP_EXC_MAP: Final[Mapping[type[BaseException], ErrorKind | None]] = {
    TimeoutError: ErrorKind.TIMEOUT,  # aiohttp.ClientTimeout's total budget ran out
    **{
        getattr(aiohttp, name): kind
        for name, kind in _BY_NAME.items()
        if isinstance(getattr(aiohttp, name, None), type)
    },
}

_PROXY_HINT = "(through the proxy from HTTPS_PROXY/HTTP_PROXY; name the host in NO_PROXY to bypass)"


def classify(exc: BaseException, host: str, timeout: float) -> ProviderError:
    """The ProviderError for an exception raised by aiohttp while calling ``host``."""
    if isinstance(exc, ProviderError):
        return exc
    kind = next(
        (AIOHTTP_EXC_MAP[c] for c in type(exc).__mro__ if c in AIOHTTP_EXC_MAP), ErrorKind.UNKNOWN
    )
    tls = tls_failure(exc)
    if tls is not None and kind in (ErrorKind.TLS, ErrorKind.CONNECTION):
        return ProviderError.tls(tls_message(host, tls))
    name = type(exc).__name__
    if kind is None:
        assert isinstance(exc, aiohttp.ClientResponseError)
        return classify_status(exc.status, exc.headers, None, exc.message)
    if kind is ErrorKind.TIMEOUT:
        return ProviderError.timeout(f"request timed out (timeout {timeout:g} s)")
    if kind is ErrorKind.TLS:
        return ProviderError.tls(f"TLS with {host} failed: {name}: {exc}")
    if kind is ErrorKind.CONNECTION:
        hint = f" {_PROXY_HINT}" if isinstance(exc, _PROXY_ERRORS) else ""
        return ProviderError.connection(f"connection failed: {name}: {exc}{hint}")
    return ProviderError(f"{name}: {exc}", kind=kind)


_PROXY_ERRORS: Final = tuple(
    c
    for c in (
        getattr(aiohttp, "ClientProxyConnectionError", None),
        getattr(aiohttp, "ClientHttpProxyError", None),
    )
    if isinstance(c, type)
)


def proxy_for(url: str) -> tuple[str | None, dict[str, str] | None]:
    """The proxy that the environment names for ``url``, and its credentials' header.

    ``HTTPS_PROXY`` for an https URL, ``HTTP_PROXY`` for an http one, unless ``NO_PROXY``
    names the host (Python's own reading of these variables, as aiohttp's ``trust_env``).
    """
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None, None
    if "://" not in proxy:
        proxy = f"http://{proxy}"  # HTTP_PROXY=host:port
    found = urlsplit(proxy)
    if found.username is None:
        return proxy, None
    secret = f"{unquote(found.username)}:{unquote(found.password or '')}".encode()
    netloc = found.hostname or ""
    if found.port:
        netloc += f":{found.port}"
    bare = urlunsplit((found.scheme, netloc, found.path, "", ""))
    return bare, {"Proxy-Authorization": "Basic " + base64.b64encode(secret).decode("ascii")}


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The request's JSON: orjson's (UTF-8, compact), else the standard library's.

    What orjson refuses or would write otherwise goes as it always went: integers
    past 64 bits, text with lone surrogates, keys that are not text (refused), and
    NaN or infinity (written as null by orjson), which only the parameters can hold:
    the messages are text.
    """
    if all(_finite(v) for k, v in body.items() if k != "messages"):
        try:
            return orjson.dumps(body)
        except TypeError:  # orjson.JSONEncodeError is one
            pass
    return json.dumps(body).encode("utf-8")


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in ``value``."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return True


def decode_body(raw: bytes) -> Any:
    """The answer's JSON; raises ValueError when the body is not JSON.

    :func:`promptbench.bulk.loads`: orjson, a few times faster than the standard
    library, which still reads what orjson refuses or would read otherwise (NaN,
    integers past 64 bits, UTF-16), so that no answer changes meaning.
    """
    return loads(raw)


class AiohttpTransport:
    """POSTs chat completions to one server over a keep-alive aiohttp session."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        pool_size: int | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or base_url
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"promptbench/{__version__}",
        }
        self._timeout = timeout
        self._pool_size = pool_size or 0  # 0: no cap here; the runner bounds calls in flight
        self._max_bytes = max_response_bytes
        # Built before the first call so that a bad SSL_CERT_FILE is a config error at once.
        self._ssl: ssl.SSLContext | bool = tls_context() if parts.scheme == "https" else True
        self.proxy, self._proxy_headers = proxy_for(base_url)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Inside the running loop: a session belongs to the loop it was made on.
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=0,
            ssl=self._ssl,
            keepalive_timeout=IDLE_REUSE_SECONDS,
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # an API's cookies are not ours to send back
        )

    async def create(self, body: Mapping[str, Any]) -> Completion:
        """Send one request; return the completion or raise a classified ProviderError."""
        session = self._session
        if session is None:
            session = self._session = self._open()
        payload = encode_body(body)
        start = time.perf_counter()
        try:
            async with session.post(
                self._url,
                data=payload,
                allow_redirects=False,
                proxy=self.proxy,
                proxy_headers=self._proxy_headers,
            ) as response:
                raw = await self._read(response)
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            raise classify(exc, self.host, self._timeout) from None
        latency_ms = (time.perf_counter() - start) * 1000
        try:
            data = decode_body(raw)
        except ValueError:
            if status >= 300:
                text = raw[:200].decode("utf-8", "replace")
                raise classify_status(status, headers, None, text) from None
            raise ProviderError.malformed("malformed response: the body is not JSON") from None
        if status >= 300:
            raise classify_status(status, headers, data)
        return completion_from_json(data, latency_ms, headers)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole body, or a too_large error as soon as it passes the cap."""
        length = response.content_length
        if length is not None and length <= self._max_bytes:
            return await response.read()
        if length is not None:
            raise self._too_large(f"Content-Length {length:,}")
        parts: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_any():
            total += len(chunk)
            if total > self._max_bytes:
                raise self._too_large(f"more than {total:,} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def _too_large(self, size: str) -> ProviderError:
        mib = self._max_bytes / (1024 * 1024)
        cap = f"{mib:g} MiB" if mib >= 1 else f"{self._max_bytes:,} bytes"
        return ProviderError.too_large(
            f"response from {self.host} too large ({size}; the cap for one completion is "
            f"{cap}): check that base_url points at a chat completions API"
        )

    async def close(self) -> None:
        """Close the connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            # aiohttp closes TLS transports a moment later; let them go before the loop ends.
            await asyncio.sleep(0)
