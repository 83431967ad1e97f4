"""``promptbench view``: the run store in a browser, served on this machine only.

Layer: view, between :mod:`promptbench.report` (whose HTML pages it serves) and
:mod:`promptbench.cli`. It needs the ``view`` extra (starlette, uvicorn), imported
only here and below. The viewer reads the run store and writes nothing.

* :mod:`~promptbench.view.index`: the runs, readable or not, cached per file version;
* :mod:`~promptbench.view.security`: the Host check, read-only methods, the CSP;
* :mod:`~promptbench.view.query`: what a URL may ask for;
* :mod:`~promptbench.view.layout`, :mod:`~promptbench.view.chart`,
  :mod:`~promptbench.view.pages`: the pages;
* :mod:`~promptbench.view.partfold`: half of a big run's lines read in a worker process;
* :mod:`~promptbench.view.app`: the routes; :func:`serve` runs them on uvicorn.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from promptbench.view.app import create_app
from promptbench.view.partfold import FoldWorker

__all__ = ["create_app", "serve"]


def serve(
    runs_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    ready: Callable[[str], None] = lambda url: None,
) -> None:
    """Serve the viewer until interrupted (uvicorn, one process); ``ready`` gets its URL.

    The socket is bound here, before the app is made, so that ``port=0`` (any free
    port) still gives the app the real port to check ``Host`` headers against.
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    port = sock.getsockname()[1]
    # The second core's share of reading a big run: a process started now, so that it
    # is ready (its imports done) when the first run page is asked for.
    # PROMPTBENCH_FOLD_WORKER=0: none; =1: used whatever the machine's load.
    choice = os.environ.get("PROMPTBENCH_FOLD_WORKER", "")
    worker = None if choice == "0" else FoldWorker(busy=_never_busy if choice == "1" else None)
    try:
        app = create_app(runs_dir, host=host, port=port, fold_worker=worker)
        config = uvicorn.Config(app, log_level="warning", server_header=False, access_log=False)
        shown = f"[{host}]" if ":" in host else host
        server = uvicorn.Server(config)
        ready(f"http://{shown}:{port}/")
        server.run(sockets=[sock])
    finally:
        if worker is not None:
            worker.close()


def _never_busy() -> bool:
    return False
