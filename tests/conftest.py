"""Shared fixtures: the loopback OpenAI-compatible server and a scratch project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.hosted import (  # noqa: F401 - the hosted-API servers, as fixtures
    anthropic_module_server,
    anthropic_server,
    azure_module_server,
    azure_server,
    gemini_module_server,
    gemini_server,
    hosted_env,
)
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project


@pytest.fixture(scope="session")
def loopback_session() -> Iterator[LoopbackServer]:
    """One real HTTP server on 127.0.0.1 for the whole test session."""
    with LoopbackServer.start() as srv:
        yield srv


@pytest.fixture
def loopback(loopback_session: LoopbackServer) -> LoopbackServer:
    """The session's server, with rules, latency and counters reset for this test."""
    loopback_session.reset()
    return loopback_session


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty project directory, made the working directory, with its own cache and runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTBENCH_CACHE", str(tmp_path / ".cache" / "cache.db"))
    monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return Project(tmp_path)


# --------------------------------------------------------------------------- nothing skipped in CI
# A test skipped for a missing extra, browser or server would pass CI silently; in CI every skip
# is a failure, whatever raised it (importorskip, skipif, pytest.skip in a fixture).


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run every test: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"module skipped in CI, which must run every test: {report.longrepr}"
