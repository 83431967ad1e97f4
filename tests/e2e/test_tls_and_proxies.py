"""Runs over HTTPS and through a real forwarding proxy, on every transport.

The server is the loopback server serving HTTPS with a certificate from a CA made for
this session (trustme); the proxy is pproxy, a real forwarding proxy from PyPI, in a
child process. Nothing is faked on the client's side: each run builds its client as
a user's would, from ``SSL_CERT_FILE``, ``HTTP(S)_PROXY`` and ``NO_PROXY``.
"""

from __future__ import annotations

import pytest

from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases, records, run
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project
from tests.helpers.proxy import ForwardProxy, free_port
from tests.helpers.tls import Pki

pytestmark = pytest.mark.each_transport

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def _trust(monkeypatch: pytest.MonkeyPatch, ca_file: object) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


# --------------------------------------------------------------------------- TLS


def test_https_server_trusted_through_ssl_cert_file(
    https_loopback: LoopbackServer, project: Project, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxies(monkeypatch)
    _trust(monkeypatch, pki.ca_file)
    assert https_loopback.url.startswith("https://127.0.0.1:")
    path = project.suite(echo_suite(https_loopback.url, cases=qa_cases(4)))
    result, _ = run(path)
    recs = records(result)
    assert [r["error"] for r in recs] == [None] * 4
    assert all(r["passed"] for r in recs)
    stats = https_loopback.stats()
    assert stats["requests"] == 4
    assert stats["tls_failures"] == 0


def test_untrusted_certificate_fails_at_once_with_one_line(
    https_loopback: LoopbackServer, project: Project, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxies(monkeypatch)
    _trust(monkeypatch, pki.other_ca_file)  # a CA that did not sign the server's certificate
    path = project.suite(echo_suite(https_loopback.url, cases=qa_cases(3), concurrency=1))
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 3, result.output
    assert "tls: 3" in result.stdout
    recs = project.records()
    assert len(recs) == 3
    for r in recs:
        assert r["error"]["kind"] == "tls"
        message = r["error"]["message"]
        assert message.startswith("certificate for 127.0.0.1 not trusted (")
        assert message.endswith("; set SSL_CERT_FILE to your CA bundle (a PEM file)")
        assert "\n" not in message
        assert r["retries"] == 0
    stats = https_loopback.stats()
    # One handshake, refused: not retried, no later call tried again, no request sent.
    assert stats["tls_failures"] == 1
    assert stats["requests"] == 0


def test_a_bad_ssl_cert_file_is_a_usage_error_before_any_call(
    https_loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxies(monkeypatch)
    _trust(monkeypatch, project.root / "missing.pem")
    path = project.suite(echo_suite(https_loopback.url))
    result = invoke("run", str(path))
    no_traceback(result)
    assert result.exit_code == 2, result.output
    assert "SSL_CERT_FILE=" in result.output and "missing.pem" in result.output
    stats = https_loopback.stats()
    assert (stats["requests"], stats["tls_failures"]) == (0, 0)


# --------------------------------------------------------------------------- proxies


def test_http_proxy_carries_the_run(
    loopback: LoopbackServer,
    project: Project,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    before = forward_proxy.forwarded_to(loopback.port)
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(3)))
    result, _ = run(path)
    assert all(r["passed"] for r in records(result))
    assert loopback.stats()["requests"] == 3
    assert forward_proxy.forwarded_to(loopback.port) > before


def test_https_proxy_tunnels_to_an_https_server(
    https_loopback: LoopbackServer,
    project: Project,
    pki: Pki,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _no_proxies(monkeypatch)
    _trust(monkeypatch, pki.ca_file)
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    before = forward_proxy.forwarded_to(https_loopback.port)
    path = project.suite(echo_suite(https_loopback.url, cases=qa_cases(3)))
    result, _ = run(path)
    assert all(r["passed"] for r in records(result))
    assert https_loopback.stats()["requests"] == 3
    assert forward_proxy.forwarded_to(https_loopback.port) > before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_no_proxy_bypasses_the_proxy(
    loopback: LoopbackServer,
    project: Project,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    _no_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    before = forward_proxy.forwarded_to(loopback.port)
    url = loopback.url.replace("127.0.0.1", host)
    path = project.suite(echo_suite(url, cases=qa_cases(3)))
    result, _ = run(path)
    assert all(r["passed"] for r in records(result))
    assert loopback.stats()["requests"] == 3
    assert forward_proxy.forwarded_to(loopback.port) == before


def test_no_proxy_bypasses_a_proxy_that_is_down(
    loopback: LoopbackServer, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxies(monkeypatch)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(2)))
    result, _ = run(path)
    assert all(r["passed"] for r in records(result))
    # And without NO_PROXY the same proxy is used, and fails: the variable is read.
    monkeypatch.delenv("no_proxy")
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(2), max_error_rate=1.0))
    result, _ = run(path, use_cache=False)
    errors = [r["error"] for r in records(result)]
    assert all(e is not None and e["kind"] == "connection" for e in errors), errors
