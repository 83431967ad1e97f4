"""Certificates made at test time: a CA that a run is told to trust, and one it is not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["Pki"]


@dataclass(frozen=True)
class Pki:
    """PEM files: the server's certificate and key, its CA, and an unrelated CA."""

    ca_file: Path  # signed the server's certificate
    other_ca_file: Path  # a CA that did not: trusting only it, a client must refuse the server
    cert_file: Path  # the server's certificate chain, for 127.0.0.1 and localhost
    key_file: Path

    @classmethod
    def make(cls, directory: Path) -> Pki:
        """Make both CAs and the server's certificates in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        ca, other = trustme.CA(), trustme.CA()
        server = ca.issue_cert("127.0.0.1", "localhost")
        files = {
            "ca_file": directory / "ca.pem",
            "other_ca_file": directory / "other-ca.pem",
            "cert_file": directory / "server.pem",
            "key_file": directory / "server.key",
        }
        ca.cert_pem.write_to_path(str(files["ca_file"]))
        other.cert_pem.write_to_path(str(files["other_ca_file"]))
        files["cert_file"].write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
        server.private_key_pem.write_to_path(str(files["key_file"]))
        return cls(**files)
