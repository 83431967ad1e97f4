"""A real forwarding HTTP proxy on loopback: pproxy (from PyPI) in a child process.

It forwards plain HTTP requests and tunnels HTTPS with ``CONNECT``, and with ``-v``
logs one line per connection it forwards, naming the destination: the proof that a
run went through it (or, with ``NO_PROXY``, that it did not).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from typing import IO

from tests.helpers.child import ChildServer, free_port

__all__ = ["ForwardProxy", "free_port"]


class ForwardProxy(ChildServer):
    """``python -m pproxy -l http://127.0.0.1:PORT -v``, started and stopped by the test."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log

    @classmethod
    def start(cls, timeout: float = 20.0) -> ForwardProxy:
        """Start pproxy and wait until it accepts connections."""
        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the proxy
        # pproxy installs uvloop when it can import it, and fails on uvloop 0.23 (no current
        # event loop): it runs on asyncio's loop here, as it does where uvloop is absent.
        cmd = [
            sys.executable,
            "-c",
            "import runpy, sys; sys.modules['uvloop'] = None; "
            "runpy.run_module('pproxy', run_name='__main__', alter_sys=True)",
            "-l",
            f"http://127.0.0.1:{port}",
            "-v",
        ]
        process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"pproxy did not start: {cmd}\n{output}") from None
                time.sleep(0.05)
        return cls(process, port, log)

    def forwarded_to(self, port: int) -> int:
        """How many logged connections went to 127.0.0.1:``port`` (or localhost:``port``)."""
        lines = self.log().splitlines()
        targets = (f"127.0.0.1:{port}", f"localhost:{port}")
        return sum(1 for line in lines if "->" in line and any(t in line for t in targets))
