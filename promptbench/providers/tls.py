"""TLS for every transport: which certificates are trusted, and what an untrusted one says.

Every client that promptbench builds (the official SDK on httpx or on aiohttp, and
the aiohttp client for a ``base_url``) verifies servers against the same
certificates: the CA bundle named by ``SSL_CERT_FILE`` and the directory named by
``SSL_CERT_DIR`` when either is set, else the system's store (and certifi's bundle
where the system has none). The SDK on its own would use certifi's bundle only and
ignore ``SSL_CERT_FILE``, so a company's CA would work on one transport and not on
another.

A certificate the client does not trust is no transient failure: every retry would
meet the same certificate. :func:`tls_failure` finds the TLS error inside whatever a
library raised, so that each transport reports it as one final ``tls`` error.
"""

from __future__ import annotations

import os
import ssl

from promptbench.errors import ProviderConfigError

CERT_FILE_ENV = "SSL_CERT_FILE"
CERT_DIR_ENV = "SSL_CERT_DIR"
_ADVICE = f"set {CERT_FILE_ENV} to your CA bundle (a PEM file)"


def tls_context() -> ssl.SSLContext:
    """A client context trusting ``SSL_CERT_FILE``/``SSL_CERT_DIR``, else the system's CAs."""
    cafile = os.environ.get(CERT_FILE_ENV) or None
    capath = os.environ.get(CERT_DIR_ENV) or None
    if cafile or capath:
        try:
            return ssl.create_default_context(cafile=cafile, capath=capath)
        except (OSError, ssl.SSLError) as exc:
            where = cafile or capath
            raise ProviderConfigError(
                f"{CERT_FILE_ENV if cafile else CERT_DIR_ENV}={where}: cannot load "
                f"certificates ({getattr(exc, 'strerror', None) or exc}); "
                "point it at a PEM bundle, or unset it to use the system's certificates"
            ) from None
    context = ssl.create_default_context()
    if not context.cert_store_stats().get("x509_ca"):
        # No system store (a slim container, some macOS Pythons): certifi's bundle, which
        # the openai SDK depends on, is what the SDK would have used anyway.
        try:
            import certifi
        except ImportError:  # pragma: no cover - certifi comes with the SDK
            return context
        context.load_verify_locations(cafile=certifi.where())
    return context


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc`` (itself, or along its causes), if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # aiohttp's own TLS errors subclass ssl's but carry OpenSSL's error inside.
        inner = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        if isinstance(inner, ssl.SSLError):
            return inner
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def tls_message(host: str, error: ssl.SSLError) -> str:
    """One line saying why the handshake with ``host`` failed and what to do."""
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = (
            getattr(error, "verify_message", None)
            or getattr(error, "reason", None)
            or "verification failed"
        )
        if "hostname" in str(reason).lower() or "not valid for" in str(reason).lower():
            return (
                f"certificate for {host} does not name that host ({reason}); "
                "use the host name the certificate was issued for in base_url"
            )
        return f"certificate for {host} not trusted ({reason}); {_ADVICE}"
    reason = getattr(error, "reason", None) or type(error).__name__
    return (
        f"TLS handshake with {host} failed ({reason}); check that base_url uses https:// "
        "only for a server that speaks TLS"
    )
