"""Each library's exceptions are all in its table (as httpx checks HTTPCORE_EXC_MAP).

A new exception class in a new release of the SDK or of aiohttp fails these tests
until someone decides what it means, instead of silently becoming ``unknown``.
"""

from __future__ import annotations

import types

import aiohttp
import openai

from promptbench.errors import ErrorKind
from promptbench.providers.openai_aiohttp import _BY_NAME, AIOHTTP_EXC_MAP
from promptbench.providers.openai_http import STATUS_KINDS, status_kind
from promptbench.providers.openai_sdk import _BY_NAME as _SDK_BY_NAME
from promptbench.providers.openai_sdk import OPENAI_EXC_MAP

# aiohttp exports these, but a client POST never raises them: websockets' framing, the
# stream reader's internal end marker, and warnings about multipart headers.
AIOHTTP_NOT_RAISED_BY_A_CLIENT_POST: frozenset[str] = frozenset(
    {"EofStream", "WebSocketError", "BadContentDispositionHeader", "BadContentDispositionParam"}
)


def exceptions_of(module: types.ModuleType) -> dict[str, type[BaseException]]:
    """The exception classes a library exports (its ``__all__``)."""
    found = {name: getattr(module, name) for name in module.__all__}
    return {n: v for n, v in found.items() if isinstance(v, type) and issubclass(v, BaseException)}


def test_every_openai_exception_is_mapped() -> None:
    exported = exceptions_of(openai)
    unmapped = {n for n, c in exported.items() if c not in OPENAI_EXC_MAP}
    assert not unmapped, f"add these openai exceptions to OPENAI_EXC_MAP: {sorted(unmapped)}"
    missing = sorted(n for n in _SDK_BY_NAME if n not in exported)
    assert not missing, f"openai has no {missing}"


def test_every_aiohttp_exception_is_mapped() -> None:
    exported = exceptions_of(aiohttp)
    unmapped = {
        n
        for n, c in exported.items()
        if c not in AIOHTTP_EXC_MAP and n not in AIOHTTP_NOT_RAISED_BY_A_CLIENT_POST
    }
    assert not unmapped, f"add these aiohttp exceptions to AIOHTTP_EXC_MAP: {sorted(unmapped)}"
    # And the table names no class this aiohttp lacks (a typo would map nothing).
    missing = sorted(n for n in _BY_NAME if n not in exported)
    assert not missing, f"aiohttp has no {missing}"


def test_the_tables_hold_kinds() -> None:
    for table in (OPENAI_EXC_MAP, AIOHTTP_EXC_MAP):
        for cls, kind in table.items():
            assert issubclass(cls, BaseException)
            assert kind is None or isinstance(kind, ErrorKind)


def test_status_kinds() -> None:
    assert {s: status_kind(s) for s in (400, 401, 403, 404, 408, 409, 413, 422, 429)} == {
        400: ErrorKind.CLIENT_ERROR,
        401: ErrorKind.AUTH,
        403: ErrorKind.AUTH,
        404: ErrorKind.CLIENT_ERROR,
        408: ErrorKind.CLIENT_ERROR,
        409: ErrorKind.CLIENT_ERROR,
        413: ErrorKind.CLIENT_ERROR,
        422: ErrorKind.CLIENT_ERROR,
        429: ErrorKind.RATE_LIMIT,
    }
    assert {status_kind(s) for s in (500, 502, 503, 504, 529)} == {ErrorKind.SERVER_ERROR}
    assert status_kind(307) is ErrorKind.CLIENT_ERROR  # a POST is not redirected
    assert set(STATUS_KINDS) == {401, 403, 429}
