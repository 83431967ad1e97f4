"""llama.cpp's own OpenAI-compatible server (``python -m llama_cpp.server``), as a test peer."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.helpers.child import ChildServer, free_port

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LlamaServer(ChildServer):
    """A real llama.cpp server on 127.0.0.1 serving one GGUF model."""

    def __init__(
        self,
        model: Path,
        *,
        n_ctx: int = 2048,
        timeout: float = 60.0,
        chat_format: str | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--n_ctx",
                str(n_ctx),
                *(["--chat_format", chat_format] if chat_format else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited early:\n{self.log()[-4000:]}")
            try:
                with _OPENER.open(f"{self.url}/models", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not start in {timeout} s:\n{self.log()[-4000:]}")
