"""The closed set of error kinds: factories, retryability, and no free strings."""

from __future__ import annotations

import json

import pytest

from promptbench.errors import ErrorKind, ProviderError
from promptbench.types import CallError

# The strings records stored before kinds were an Enum: each still names a kind.
OLD_KINDS = [
    "rate_limit",
    "quota",
    "server_error",
    "timeout",
    "connection",
    "client_error",
    "malformed",
    "empty_response",
    "content_filter",
    "config",
    "provider_bug",
    "unknown",
]


@pytest.mark.parametrize("kind", ["ratelimit", "rate_limit", "Timeout", ""])
def test_a_string_kind_is_a_type_error(kind: str) -> None:
    with pytest.raises(TypeError, match="must be an ErrorKind"):
        ProviderError("boom", kind=kind)  # type: ignore[arg-type]


def test_the_type_error_names_the_factories() -> None:
    with pytest.raises(TypeError, match=r"ProviderError\.rate_limited") as info:
        ProviderError("slow down", kind="ratelimit", retryable=True)  # type: ignore[arg-type]
    assert "RATE_LIMIT" in str(info.value)


@pytest.mark.parametrize(
    ("error", "kind", "retryable", "status"),
    [
        (ProviderError.rate_limited("429", retry_after=2.0), ErrorKind.RATE_LIMIT, True, 429),
        (ProviderError.quota_exhausted("credit"), ErrorKind.QUOTA, False, 429),
        (ProviderError.server_error("boom", status=503), ErrorKind.SERVER_ERROR, True, 503),
        (ProviderError.timeout(), ErrorKind.TIMEOUT, True, None),
        (ProviderError.connection("reset"), ErrorKind.CONNECTION, True, None),
        (ProviderError.tls("untrusted"), ErrorKind.TLS, False, None),
        (ProviderError.auth("key", status=401), ErrorKind.AUTH, False, 401),
        (ProviderError.bad_request("bad", status=400), ErrorKind.CLIENT_ERROR, False, 400),
        (
            ProviderError.bad_request("later", status=409, retryable=True),
            ErrorKind.CLIENT_ERROR,
            True,
            409,
        ),
        (ProviderError.malformed("json"), ErrorKind.MALFORMED, True, None),
        (ProviderError.too_large("big"), ErrorKind.TOO_LARGE, False, None),
        (ProviderError.empty_response("none"), ErrorKind.EMPTY_RESPONSE, True, None),
        (ProviderError.content_filter("withheld"), ErrorKind.CONTENT_FILTER, False, None),
        (ProviderError.config("no model"), ErrorKind.CONFIG, False, None),
        (ProviderError.provider_bug("oops"), ErrorKind.PROVIDER_BUG, False, None),
        (ProviderError.unknown("what"), ErrorKind.UNKNOWN, False, None),
    ],
)
def test_factories(
    error: ProviderError, kind: ErrorKind, retryable: bool, status: int | None
) -> None:
    assert (error.kind, error.retryable, error.status) == (kind, retryable, status)
    assert error.kind.retryable is kind.retryable


def test_every_kind_has_a_factory() -> None:
    made = {
        ProviderError.rate_limited("").kind,
        ProviderError.quota_exhausted("").kind,
        ProviderError.server_error("").kind,
        ProviderError.timeout().kind,
        ProviderError.connection("").kind,
        ProviderError.tls("").kind,
        ProviderError.auth("").kind,
        ProviderError.bad_request("").kind,
        ProviderError.malformed("").kind,
        ProviderError.too_large("").kind,
        ProviderError.empty_response("").kind,
        ProviderError.content_filter("").kind,
        ProviderError.config("").kind,
        ProviderError.provider_bug("").kind,
        ProviderError.unknown("").kind,
    }
    assert made == set(ErrorKind)


def test_retryable_can_be_overridden_but_defaults_to_the_kind() -> None:
    assert ProviderError("x", kind=ErrorKind.SERVER_ERROR).retryable is True
    assert ProviderError("x", kind=ErrorKind.SERVER_ERROR, retryable=False).retryable is False


def test_kinds_are_the_strings_records_store() -> None:
    # Records written before the Enum load: every old string is a kind, and a kind is
    # written as the same string.
    for old in OLD_KINDS:
        assert ErrorKind(old).value == old
    error = ProviderError.rate_limited("slow down")
    record = CallError(error.kind, error.message, error.status)
    stored = json.dumps(record.to_json())
    assert json.loads(stored) == {"kind": "rate_limit", "message": "slow down", "status": 429}
    assert f"{error.kind}" == "rate_limit"


def test_redacted_keeps_everything_but_the_secret() -> None:
    error = ProviderError.auth("bad key sk-secret-123456", status=401)
    masked = error.redacted("sk-secret-123456")
    assert masked.message == "bad key [redacted]"
    assert (masked.kind, masked.retryable, masked.status) == (ErrorKind.AUTH, False, 401)
