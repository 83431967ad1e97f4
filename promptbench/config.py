"""Base pydantic models for what users write in a suite.

Everything read from YAML or the command line is a pydantic model that forbids
unknown keys. Providers and metrics subclass :class:`ModelConfig` and
:class:`MetricParams` to declare their own fields; the suite loader validates
each entry against the class its provider or metric registered.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """A pydantic model that rejects unknown keys and is immutable."""

    # defer_build: a model's validator is built when first used, so that the dozens of
    # metric and provider models a suite does not use cost nothing at start-up.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Price(StrictModel):
    """USD per one million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class ModelConfig(StrictModel):
    """Fields every model entry of a suite accepts, whatever its provider."""

    provider: str = "openai"
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    response_format: str | dict[str, Any] | None = None
    concurrency: int | None = Field(
        default=None, ge=1, description="at most this many calls to this model at once"
    )
    timeout: float = Field(
        default=60.0, gt=0, description="seconds before one attempt is abandoned"
    )
    max_retries: int = Field(default=4, ge=0, le=20)
    price: Price | None = None
    rpm: float | None = Field(
        default=None, gt=0, description="at most this many requests per minute"
    )
    tpm: float | None = Field(default=None, gt=0, description="at most this many tokens per minute")
    judge_only: bool = Field(
        default=False, description="only grade other models' outputs; not evaluated itself"
    )
    vision: bool | None = Field(
        default=None,
        description="whether the model takes images (default: what promptbench knows of it)",
    )

    # Fields holding file paths: the suite loader makes them absolute, relative to the suite.
    path_fields: ClassVar[tuple[str, ...]] = ()

    # Fields that change how a call is made but not what it returns; not in the cache key.
    call_fields: ClassVar[tuple[str, ...]] = (
        "concurrency",
        "timeout",
        "max_retries",
        "price",
        "api_key_env",
        "api_key_file",
        "judge_only",
        "rpm",
        "tpm",
        "vision",
    )

    # The sampling parameters sent with every request.
    sampling_fields: ClassVar[tuple[str, ...]] = (
        "temperature",
        "max_tokens",
        "top_p",
        "seed",
        "stop",
        "response_format",
    )

    def cache_identity(self) -> dict[str, Any]:
        """Everything about this model that can change its output, for the cache key.

        Every field counts unless it is listed in ``call_fields`` (how a call is
        made, not what it returns: timeouts, retries, concurrency, prices, where
        the key lives). Listing what to leave out, rather than what to keep in,
        means a provider's new field is part of the key unless said otherwise.
        """
        return self.model_dump(mode="json", exclude=set(self.call_fields), exclude_none=True)

    def rate_key(self) -> tuple[str, ...] | None:
        """What shares one rate limit (server, key, model); None: no server limits to learn.

        Models with the same key share one gate; ``rpm``/``tpm`` apply whatever it is.
        """
        return None

    def preflight(self) -> None:
        """Raise a UsageError now if this model cannot be called (no key, no runtime).

        Runs before a run writes anything; the provider itself is created later,
        on the first call that misses the cache.
        """

    def default_price(self) -> Price | None:
        """The price when the suite sets none; providers that know theirs override this."""
        return None

    def takes_images(self) -> bool | None:
        """Whether the model takes image parts: the suite's ``vision``, else what is known.

        None: unknown, so the images are sent and the server decides.
        """
        return self.vision

    def takes_tools(self) -> bool:
        """Whether the provider maps ``tools`` to its API; providers that do override this."""
        return False

    def effective_price(self) -> Price | None:
        """The suite's price if set, else the provider's."""
        return self.price if self.price is not None else self.default_price()

    def sampling_params(self) -> dict[str, Any]:
        """The set sampling parameters (temperature, max_tokens, ...)."""
        values = {name: getattr(self, name) for name in self.sampling_fields}
        return {name: value for name, value in values.items() if value is not None}


class ToolTarget(StrictModel):
    """A metric's ``target``: a tool call's arguments rather than the reply's text."""

    tool: str | None = Field(default=None, description="the tool (default: the first call's)")
    arg: str | None = Field(
        default=None, description="a path into the arguments, e.g. city or items.0.sku"
    )


class MetricParams(StrictModel):
    """Fields every metric accepts.

    A subclass may set ``shorthand`` to the field a scalar value fills, so that
    ``- contains: refund`` means ``- contains: {value: refund}``.
    """

    shorthand: ClassVar[str | None] = None
    # Fields that may hold a file path (a str; a mapping is inline content): the suite
    # loader makes them absolute, relative to the suite, and checks that they exist.
    path_fields: ClassVar[tuple[str, ...]] = ()
    # Fields that name a model of the suite (a judge); the loader checks they exist.
    model_fields_named: ClassVar[tuple[str, ...]] = ()
    # True for metrics that import the user's Python (refused under --no-user-code).
    runs_user_code: ClassVar[bool] = False

    def check(self) -> str | None:
        """Say what is wrong beyond the fields' types (run once, when the suite loads).

        Called with file paths already absolute; return None when all is well.
        """
        return None

    name: str | None = Field(default=None, description="label for this metric in tables")
    weight: float = Field(default=1.0, ge=0, description="weight in the case's weighted score")
    threshold: float | None = Field(
        default=None, ge=0, le=1, description="score at or above which the metric passes"
    )
    turn: Annotated[int, Field(ge=1)] | Literal["all"] | None = Field(
        default=None,
        description="in a conversation: the turn scored (from 1), or all (each must pass); "
        "default: the last",
    )
    target: Literal["text"] | ToolTarget = Field(
        default="text",
        description="what is scored: the reply's text, or {tool: NAME, arg: PATH}, "
        "a tool call's arguments (their JSON text, or one argument)",
    )
