"""What a server said about its rate limits, in the ``x-ratelimit-*`` headers.

Its own module, below both ``errors`` and ``types``: a completion and a failed
call (a 429) both carry what the server said.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What a server's ``x-ratelimit-*`` headers said: limits, what is left, when it refills.

    ``reset`` is the time until the limit is back to full, as OpenAI defines it; with
    ``limit`` and ``remaining`` it gives the refill rate, (limit - remaining) / reset.
    """

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None  # seconds
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None  # seconds
