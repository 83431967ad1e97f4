"""Shared fixtures: the loopback OpenAI-compatible server and a scratch project.

A test module marked ``each_transport`` runs each of its tests that talk to a server
(they ask for ``loopback`` or ``llama_server``) once per transport of the ``openai``
provider that a user can get: the official SDK on httpx, the SDK on aiohttp, and the
aiohttp client. The ``project`` fixture writes that transport into its suites.
"""

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
from tests.helpers.proxy import ForwardProxy
from tests.helpers.tls import Pki

TRANSPORTS = ("sdk", "sdk-aiohttp", "aiohttp")
_SERVERS = frozenset({"loopback", "https_loopback", "llama_server"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "each_transport: run the module's server tests once per openai transport"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = set(metafunc.fixturenames)
    if metafunc.definition.get_closest_marker("each_transport") is not None and (
        _SERVERS & names or "transport" in names
    ):
        if "transport" not in names:
            metafunc.fixturenames.append("transport")
        metafunc.parametrize("transport", TRANSPORTS)


@pytest.fixture
def transport() -> str | None:
    """The openai transport a test runs under (parametrised in ``each_transport`` modules)."""
    return None


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


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA made for this test session, the server's certificate from it, and another CA."""
    return Pki.make(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def https_loopback_session(pki: Pki) -> Iterator[LoopbackServer]:
    """The loopback server serving HTTPS with a certificate from ``pki``'s CA."""
    with LoopbackServer.start(
        certfile=str(pki.cert_file), keyfile=str(pki.key_file), cafile=str(pki.ca_file)
    ) as srv:
        yield srv


@pytest.fixture
def https_loopback(https_loopback_session: LoopbackServer) -> LoopbackServer:
    """The HTTPS server, reset for this test."""
    https_loopback_session.reset()
    return https_loopback_session


@pytest.fixture(scope="session")
def forward_proxy() -> Iterator[ForwardProxy]:
    """pproxy on 127.0.0.1, forwarding HTTP and tunnelling HTTPS, logging each connection."""
    with ForwardProxy.start() as proxy:
        yield proxy


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Project:
    """An empty project directory, made the working directory, with its own cache and runs."""
    callspec = getattr(request.node, "callspec", None)
    chosen = callspec.params.get("transport") if callspec is not None else None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTBENCH_CACHE", str(tmp_path / ".cache" / "cache.db"))
    monkeypatch.setenv("PROMPTBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # only the proxy tests set one
    return Project(tmp_path, chosen)


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
