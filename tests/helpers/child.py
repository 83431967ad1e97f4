"""A server a test starts in a child process: its port, its log, and a stop that always ends it."""

from __future__ import annotations

import socket
import subprocess
from types import TracebackType
from typing import IO, Self

__all__ = ["ChildServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ChildServer:
    """A child process whose stdout and stderr go to a temporary file read by :meth:`log`."""

    process: subprocess.Popen[bytes]
    _log: IO[bytes]

    def log(self) -> str:
        """What the server has printed so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Terminate the server (kill it when it will not go) and close its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
