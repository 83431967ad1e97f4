"""The event loop a run goes on: uvloop where installed, asyncio's own when asked or absent."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys

import pytest

from promptbench.errors import UsageError
from promptbench.runner import loop

# In CI uvloop must be there (it is a dependency): its absence fails the test below.
HAS_UVLOOP = sys.platform != "win32" and (
    importlib.util.find_spec("uvloop") is not None or bool(os.environ.get("CI"))
)


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.LOOP_ENV, "asyncio")
    assert loop.loop_factory() is None
    assert loop.loop_name() == "asyncio"
    assert loop.run(_loop_module()).startswith("asyncio")


def test_uvloop_by_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loop.LOOP_ENV, raising=False)
    # uvloop is a dependency off Windows: where it is installed it is used, else asyncio.
    expected = "uvloop" if HAS_UVLOOP else "asyncio"
    assert loop.loop_name() == expected
    assert loop.run(_loop_module()).startswith(expected)


def test_without_uvloop_the_run_goes_on_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(loop.LOOP_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # an import of it raises ImportError
    assert loop.loop_factory() is None
    assert loop.run(_loop_module()).startswith("asyncio")


def test_insisting_on_a_missing_uvloop_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.LOOP_ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(UsageError, match="pip install uvloop"):
        loop.loop_factory()


def test_an_unknown_loop_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loop.LOOP_ENV, "trio")
    with pytest.raises(UsageError, match=f"{loop.LOOP_ENV}='trio'.*asyncio or uvloop"):
        loop.loop_factory()


def test_ctrl_c_cancels_the_main_coroutine_as_asyncio_run_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The runner drains on Ctrl-C by catching the cancellation of its task: on either loop
    # the first SIGINT must arrive as a CancelledError inside the coroutine.
    import os
    import signal

    seen: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    for name in ("asyncio", "uvloop") if HAS_UVLOOP else ("asyncio",):
        monkeypatch.setenv(loop.LOOP_ENV, name)
        seen.clear()
        with pytest.raises(KeyboardInterrupt):
            loop.run(main())
        assert seen == ["cancelled"], name
