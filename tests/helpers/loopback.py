"""Run ``promptbench.testing.openai_server`` as a subprocess for tests and benchmarks."""

from __future__ import annotations

import json
import os
import queue
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["LoopbackServer"]

_REPO_ROOT = Path(__file__).resolve().parents[2]


class LoopbackServer:
    """A fake OpenAI server in a child process (``python -m promptbench.testing.openai_server``).

    ``LoopbackServer.start()`` returns once the server is listening; ``url`` is the
    ``/v1`` base URL to give to ``openai.OpenAI(base_url=...)``.  ``configure``,
    ``reset`` and ``stats`` drive the server's control API (see the module docstring
    of :mod:`promptbench.testing.openai_server` for the JSON shapes).
    """

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        stderr: IO[bytes],
        reader: threading.Thread,
        cafile: str | None = None,
    ) -> None:
        self.process = process
        self.url = url
        # The control API never goes through a proxy from the environment, and trusts the
        # server's own CA whatever a test does to the client's.
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        self.root_url = url.removesuffix("/v1")
        self.port = int(self.root_url.rsplit(":", 1)[1])
        self._stderr = stderr
        self._reader = reader

    @classmethod
    def start(
        cls,
        latency_ms: float = 0.0,
        rate_limit_rps: float = 0.0,
        *,
        seed: int = 0,
        default_reply: str = "echo",
        host: str = "127.0.0.1",
        timeout: float = 20.0,
        certfile: str | None = None,
        keyfile: str | None = None,
        cafile: str | None = None,
    ) -> LoopbackServer:
        """Start the server process and wait (up to ``timeout`` s) for its READY line.

        With ``certfile`` (and ``keyfile``) it serves HTTPS; ``cafile`` is the CA that the
        control API trusts.
        """
        cmd = [
            sys.executable,
            "-m",
            "promptbench.testing.openai_server",
            "--host",
            host,
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--rate-limit-rps",
            str(rate_limit_rps),
            "--seed",
            str(seed),
            "--default-reply",
            default_reply,
            *(["--certfile", certfile] if certfile else []),
            *(["--keyfile", keyfile] if keyfile else []),
            # The server on asyncio's loop, as tests and benches have always measured it,
            # now that uvloop (which promptbench runs on) is installed beside it.
            "--no-uvloop",
        ]
        env = dict(os.environ)
        if (_REPO_ROOT / "promptbench").is_dir():  # importable even when not installed
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p
            )
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True, env=env
        )
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_pump, args=(process, lines), daemon=True)
        reader.start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = None
            problem = f"no READY line within {timeout} s"
        else:
            problem = "it exited before printing READY" if line is None else f"got {line!r}"
        if line is None or not line.startswith("READY http"):
            _terminate(process, reader)
            stderr.seek(0)
            output = stderr.read().decode(errors="replace").strip()
            stderr.close()
            raise RuntimeError(
                f"OpenAI test server failed to start ({problem}); command: {cmd}; "
                f"exit code: {process.returncode}; stderr:\n{output}"
            )
        return cls(process, line.split(maxsplit=1)[1].strip(), stderr, reader, cafile)

    # ---- control API

    def _control(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with self._opener.open(request, timeout=10.0) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path} failed with HTTP {exc.code}: {detail}") from None

    def configure(self, **config: Any) -> dict[str, Any]:
        """Apply a partial configuration (latency_ms, rate_limit_rps, rules, default_reply, seed).

        Returns the server's full configuration; raises ``RuntimeError`` if invalid.
        """
        result: dict[str, Any] = self._control("POST", "/_control/config", config)
        return result

    def config(self) -> dict[str, Any]:
        """Return the server's current configuration."""
        result: dict[str, Any] = self._control("GET", "/_control/config")
        return result

    def reset(self) -> None:
        """Drop rules, restore the start-up configuration and zero the counters."""
        self._control("POST", "/_control/reset", {})

    def stats(self) -> dict[str, Any]:
        """Return ``{"requests", "by_outcome", "by_prompt", "connections", ...}``."""
        result: dict[str, Any] = self._control("GET", "/_control/stats")
        return result

    def paid(self) -> list[dict[str, Any]]:
        """The paid answers ``[{"prompt", "at"}]``, in the order the server sent them."""
        result: list[dict[str, Any]] = self._control("GET", "/_control/paid")["paid"]
        return result

    def requests(self) -> list[dict[str, Any]]:
        """The recorded requests ``[{"body", "authorization"}]`` (configure record_requests=N)."""
        result: list[dict[str, Any]] = self._control("GET", "/_control/requests")["requests"]
        return result

    # ---- lifecycle

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the process (kill it after ``timeout`` s); return its exit code."""
        code = _terminate(self.process, self._reader, timeout)
        if not self._stderr.closed:
            self._stderr.close()
        return code

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Forward the first stdout line, then drain stdout so the child can never block on it."""
    assert process.stdout is not None
    first = True
    for line in process.stdout:
        if first:
            lines.put(line)
            first = False
    if first:
        lines.put(None)


def _terminate(
    process: subprocess.Popen[str], reader: threading.Thread, timeout: float = 5.0
) -> int | None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    reader.join(timeout)  # the pipe reaches EOF once the process is gone
    if process.stdout is not None and not reader.is_alive():
        process.stdout.close()
    return process.returncode
