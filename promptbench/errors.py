"""Every error promptbench raises on purpose.

Each message says what failed and what to do next; the CLI prints it on one
line and exits with the class's ``exit_code``. Anything else that escapes is a
bug in promptbench.

    PromptbenchError                 base; exit code 1
    ├── UsageError                   bad input from the user; exit code 2
    │   ├── SuiteError               the suite file or a file it names is invalid
    │   ├── RenderError              a template failed for one case
    │   ├── ProviderConfigError      a model cannot be set up (missing key, file, extra)
    │   └── MissingExtraError        an optional dependency is not installed
    ├── ProviderError                one model call failed; recorded, never raised to the user
    │   └── (retryable or not, with the HTTP status and Retry-After when known)
    ├── MetricError                  a metric could not give a verdict for one record
    ├── RunStoreError                a stored run is missing or unreadable
    ├── InfrastructureError          the machine failed the run, not the prompts: a full disk,
    │                                an unwritable runs directory, a removed records file,
    │                                W&B; exit code 4 (never 1, which CI reads as a gate)
    └── TooManyErrorsError           too many calls failed to give a verdict; exit code 3
"""

from __future__ import annotations

from dataclasses import dataclass

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


class ProviderError(PromptbenchError):
    """A model call failed.

    ``retryable`` says whether the runner may try again (429, 5xx, timeouts,
    dropped connections); ``retry_after`` is the server's hint in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.rate_limit = rate_limit  # when the server sent its x-ratelimit-* headers


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
