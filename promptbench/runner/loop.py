"""The event loop a run goes on: uvloop where it is installed, else asyncio's own.

A run against a fast server spends much of its time in the event loop and in the
HTTP client's protocol callbacks; uvloop (libuv underneath) does that work for less
CPU per call (``bench/run_bench.py`` prints the bare HTTP loop on both). It is a
dependency everywhere but Windows; where it is missing the run goes on asyncio's
loop, unchanged.

``PROMPTBENCH_EVENT_LOOP=asyncio`` chooses asyncio's loop all the same, to tell a
problem of uvloop's from one of ours; ``=uvloop`` insists on uvloop.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

from promptbench.errors import UsageError

LOOP_ENV: Final = "PROMPTBENCH_EVENT_LOOP"
_CHOICES: Final = ("auto", "asyncio", "uvloop")

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop maker of uvloop, or None for asyncio's default loop."""
    choice = os.environ.get(LOOP_ENV, "").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise UsageError(
            f"{LOOP_ENV}={os.environ[LOOP_ENV]!r} is not an event loop; set it to asyncio "
            "or uvloop, or unset it"
        )
    if choice == "asyncio" or (choice == "auto" and sys.platform == "win32"):
        return None
    try:
        # Imported by name: uvloop is optional at run time, and so to the type checker.
        module = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise UsageError(
                f"{LOOP_ENV}=uvloop, but uvloop is not installed; pip install uvloop, or "
                f"unset {LOOP_ENV}"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = module.new_event_loop
    return factory


def loop_name() -> str:
    """The loop :func:`run` would use: ``uvloop`` or ``asyncio``."""
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the chosen loop (Ctrl-C cancels ``main``, as there)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
