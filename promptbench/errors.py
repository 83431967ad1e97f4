"""Every error promptbench raises on purpose.

Each message says what failed and what to do next; the CLI prints it on one
line and exits with the class's ``exit_code``. Anything else that escapes is a
bug in promptbench.

    PromptbenchError                 base; exit code 1
    ├── UsageError                   bad input from the user; exit code 2
    │   ├── SuiteError               the suite file or a file it names is invalid
    │   ├── RenderError              a template failed for one case
    │   ├── ProviderConfigError      a model cannot be set up (missing key, file, extra)
    │   ├── MissingExtraError        an optional dependency is not installed
    │   └── RunStoreError            a stored run is missing or unreadable
    ├── ProviderError                one model call failed; recorded, never raised to the user
    │   │                            .kind is one ErrorKind; built by its factories
    │   ├── retried by the runner    rate_limit (429, with Retry-After), server_error (5xx),
    │   │                            timeout, connection, malformed, empty_response
    │   └── final at once            quota (429 insufficient_quota), auth (401, 403),
    │                                client_error (other 4xx; 408 and 409 are retried), tls,
    │                                too_large, content_filter, config, provider_bug, unknown
    ├── MetricError                  a metric could not give a verdict for one record
    ├── InfrastructureError          the machine failed the run, not the prompts: a full disk,
    │                                an unwritable runs directory, a removed records file,
    │                                W&B; exit code 4 (never 1, which CI reads as a gate)
    └── TooManyErrorsError           too many calls failed to give a verdict; exit code 3

Each transport turns its library's exceptions into kinds with one table, looked
up along the exception's class hierarchy (as httpx's ``HTTPCORE_EXC_MAP``):
``OPENAI_EXC_MAP`` for the openai SDK (:mod:`promptbench.providers.openai`),
``AIOHTTP_EXC_MAP`` for aiohttp (:mod:`promptbench.providers.openai_aiohttp`),
and ``STATUS_KINDS`` for HTTP statuses (:mod:`promptbench.providers.openai_http`).
A test enumerates each library's exception classes and fails on one left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from promptbench.server_limits import RateLimit


class PromptbenchError(Exception):
    """Base class for every promptbench error.

    The message says what is wrong in the library's own terms, never naming a
    command-line flag (a Python API user has none). ``hint``, when set, names
    the run option (a :class:`~promptbench.runner.options.RunOptions` field,
    such as ``"use_cache"``) that would change the outcome; the CLI shows the
    flag that sets it.
    """

    exit_code: int = 1

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class UsageError(PromptbenchError):
    """The user gave input promptbench cannot use."""

    exit_code = 2


@dataclass(frozen=True)
class Issue:
    """One problem found in a file, with where it is and how to fix it."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    hint: str | None = None  # the run option that would change the outcome, as on errors

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class SuiteError(UsageError):
    """A suite, or a file it names, is invalid. Holds every issue found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line or 0, i.column or 0))
        hints = sorted({i.hint for i in self.issues if i.hint is not None})
        super().__init__("\n".join(str(i) for i in self.issues), hint=next(iter(hints), None))

    @classmethod
    def one(
        cls,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> SuiteError:
        """Build the error from a single issue."""
        return cls([Issue(file, message, line, column, field)])


class RenderError(UsageError):
    """A template could not be compiled, or rendered for a case.

    ``origin`` and ``line`` locate the template (a file, or a suite field) when known;
    ``where`` names the case and the variant or metric it was rendered for.
    """

    def __init__(
        self,
        message: str,
        *,
        origin: str | None = None,
        line: int | None = None,
        where: str | None = None,
    ) -> None:
        at = f"{origin}:{line}" if origin and line else origin
        text = f"{at}: {message}" if at else message
        super().__init__(f"{where}: {text}" if where else text)
        self.reason = message
        self.origin = origin
        self.line = line
        self.where = where


class ProviderConfigError(UsageError):
    """A model in the suite cannot be set up."""


class MissingExtraError(UsageError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed; "
            f"install it with: pip install 'promptbench[{extra}]' "
            f"(from a checkout: pip install -e '.[{extra}]')"
        )
        self.package = package
        self.extra = extra


class ErrorKind(StrEnum):
    """Why a model call failed: the closed set that the runner, records and reports know.

    The values are the strings records have always stored, so older runs load as they are.
    """

    RATE_LIMIT = "rate_limit"  # 429: wait as Retry-After says; the rate gate slows down
    QUOTA = "quota"  # 429 insufficient_quota: out of credit, waiting does not help
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"  # no answer within the model's timeout
    CONNECTION = "connection"  # refused, reset, dropped, name not resolved, proxy failed
    TLS = "tls"  # certificate not trusted or handshake failed: every retry would fail too
    AUTH = "auth"  # 401, 403: the key is wrong or may not use this model
    CLIENT_ERROR = "client_error"  # any other 4xx: the request itself is wrong
    MALFORMED = "malformed"  # the body is not the API's shape
    TOO_LARGE = "too_large"  # the response passed the size cap for one completion
    EMPTY_RESPONSE = "empty_response"  # a well-formed answer without any choice
    CONTENT_FILTER = "content_filter"  # the server withheld the answer
    CONFIG = "config"  # the call names something the run does not have
    PROVIDER_BUG = "provider_bug"  # a provider raised something other than ProviderError
    UNKNOWN = "unknown"  # an exception no table maps

    @property
    def retryable(self) -> bool:
        """Whether a call that failed this way is worth trying again, by default."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        ErrorKind.RATE_LIMIT,
        ErrorKind.SERVER_ERROR,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.MALFORMED,
        ErrorKind.EMPTY_RESPONSE,
    }
)


class ProviderError(PromptbenchError):
    """A model call failed.

    ``kind`` is an :class:`ErrorKind` (a plain string is a TypeError: a misspelt kind
    would silently lose its handling, e.g. the back-off on ``rate_limit``). Plugins build
    one with a factory: ``ProviderError.rate_limited(...)``, ``.server_error(...)``,
    ``.timeout(...)``, ``.bad_request(...)``, ``.auth(...)``, ``.tls(...)``, ...
    ``retryable`` says whether the runner may try again (by default, as the kind says);
    ``retry_after`` is the server's hint in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        retryable: bool | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        if not isinstance(kind, ErrorKind):
            raise TypeError(
                f"ProviderError kind must be an ErrorKind, not {kind!r}; "
                "use a factory such as ProviderError.rate_limited(...) "
                f"or one of: {', '.join(k.name for k in ErrorKind)}"
            )
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = kind.retryable if retryable is None else retryable
        self.status = status
        self.retry_after = retry_after
        self.rate_limit = rate_limit  # when the server sent its x-ratelimit-* headers

    # ---- factories, one per kind

    @classmethod
    def rate_limited(
        cls,
        message: str,
        *,
        status: int | None = 429,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> ProviderError:
        """The server refused the call for now (429): retried after ``retry_after``."""
        return cls(
            message,
            kind=ErrorKind.RATE_LIMIT,
            status=status,
            retry_after=retry_after,
            rate_limit=rate_limit,
        )

    @classmethod
    def quota_exhausted(cls, message: str, *, status: int | None = 429) -> ProviderError:
        """The account is out of credit: final."""
        return cls(message, kind=ErrorKind.QUOTA, status=status)

    @classmethod
    def server_error(
        cls,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> ProviderError:
        """The server failed (5xx, overloaded): retried."""
        return cls(
            message,
            kind=ErrorKind.SERVER_ERROR,
            status=status,
            retry_after=retry_after,
            rate_limit=rate_limit,
        )

    @classmethod
    def timeout(cls, message: str = "request timed out") -> ProviderError:
        """No answer in time: retried."""
        return cls(message, kind=ErrorKind.TIMEOUT)

    @classmethod
    def connection(cls, message: str) -> ProviderError:
        """The connection failed or dropped: retried."""
        return cls(message, kind=ErrorKind.CONNECTION)

    @classmethod
    def tls(cls, message: str) -> ProviderError:
        """The TLS handshake failed (an untrusted certificate): final."""
        return cls(message, kind=ErrorKind.TLS)

    @classmethod
    def auth(cls, message: str, *, status: int | None = None) -> ProviderError:
        """The key was refused (401) or may not do this (403): final."""
        return cls(message, kind=ErrorKind.AUTH, status=status)

    @classmethod
    def bad_request(
        cls,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> ProviderError:
        """The request was refused as wrong (4xx): final unless ``retryable`` (408, 409)."""
        return cls(
            message,
            kind=ErrorKind.CLIENT_ERROR,
            retryable=retryable,
            status=status,
            retry_after=retry_after,
            rate_limit=rate_limit,
        )

    @classmethod
    def malformed(cls, message: str) -> ProviderError:
        """The answer is not the API's shape: retried."""
        return cls(message, kind=ErrorKind.MALFORMED)

    @classmethod
    def too_large(cls, message: str) -> ProviderError:
        """The answer passed the size cap: final."""
        return cls(message, kind=ErrorKind.TOO_LARGE)

    @classmethod
    def empty_response(cls, message: str) -> ProviderError:
        """A well-formed answer with nothing in it: retried."""
        return cls(message, kind=ErrorKind.EMPTY_RESPONSE)

    @classmethod
    def content_filter(cls, message: str) -> ProviderError:
        """The server's filter withheld the answer: final."""
        return cls(message, kind=ErrorKind.CONTENT_FILTER)

    @classmethod
    def config(cls, message: str) -> ProviderError:
        """The call cannot be made as asked (no such model in the run): final."""
        return cls(message, kind=ErrorKind.CONFIG)

    @classmethod
    def provider_bug(cls, message: str) -> ProviderError:
        """A provider raised something other than ProviderError: final."""
        return cls(message, kind=ErrorKind.PROVIDER_BUG)

    @classmethod
    def unknown(cls, message: str) -> ProviderError:
        """An exception that no table maps: final."""
        return cls(message, kind=ErrorKind.UNKNOWN)

    def redacted(self, secret: str) -> ProviderError:
        """The same error with ``secret`` masked in its message."""
        return ProviderError(
            self.message.replace(secret, "[redacted]"),
            kind=self.kind,
            retryable=self.retryable,
            status=self.status,
            retry_after=self.retry_after,
            rate_limit=self.rate_limit,
        )


class MetricError(PromptbenchError):
    """A metric could not give a verdict; the record's score is an error, not a fail."""


class RunStoreError(UsageError):
    """A stored run is missing or unreadable."""


class InfrastructureError(PromptbenchError):
    """The disk, the run store or a service failed; what was paid for is kept.

    The message names the path and the fix; the same command takes the run up.
    """

    exit_code = 4


class TooManyErrorsError(PromptbenchError):
    """Too many model calls failed to give a verdict."""

    exit_code = 3
