"""``promptbench view``: the stored runs in a browser, served on 127.0.0.1."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import err, fail, missing_extra
from promptbench.errors import InfrastructureError

# As every command's --runs-dir, but read here: Click would call a directory that cannot be
# read a usage error (exit 2), and it is the machine refusing (exit 4).
RunsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--runs-dir",
        readable=False,
        help="Where runs are stored (default: ./runs or $PROMPTBENCH_RUNS_DIR).",
    ),
]


def view(
    runs_dir: RunsDirOpt = None,
    port: Annotated[
        int,
        typer.Option(
            "--port", "-p", help="The port to serve on (0: any free port).", min=0, max=65535
        ),
    ] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to serve on. The default, 127.0.0.1, is this machine only; "
            "another address shows every run to whoever can reach it.",
        ),
    ] = "127.0.0.1",
) -> None:
    """Browse the stored runs: history charts, any two runs compared, live progress.

    Pages: the runs (filter by suite, model, status; sort; pages of 50), a suite's
    history (pass rate and each metric per variant × model over its runs, with the
    gate's threshold), a run's report (as promptbench report writes it), and any two
    runs, or two variants of one run, compared as promptbench diff does. A run in
    progress updates as it goes. The viewer only reads the runs directory.

    Example: promptbench view

    Example: promptbench view --runs-dir ci-runs --port 8123

    Exit codes: 2 bad usage (a bad --port, no such runs directory), 4 the machine
    refused (the port is in use, the runs directory cannot be read), 130 Ctrl-C.
    """
    from promptbench.runner.store import default_runs_dir

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise missing_extra("promptbench view", "starlette and uvicorn", "view") from None
    from promptbench.view import serve

    base = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not base.is_dir():  # a wrong path: usage, exit 2
        raise fail(f"no runs directory {base}; run a suite first, or give --runs-dir")
    try:
        os.listdir(base)
    except OSError as exc:  # there, but the machine refuses it: infrastructure, exit 4
        raise fail(
            f"cannot read the runs directory {base}: {exc.strerror}; make it readable "
            "or give another --runs-dir",
            InfrastructureError.exit_code,
        ) from None

    def ready(url: str) -> None:
        err.print(
            f"promptbench view: {url} (runs in {base}; Ctrl-C stops)", markup=False, soft_wrap=True
        )

    try:
        serve(base, host=host, port=port, ready=ready)
    except socket.gaierror as exc:  # a host name that does not resolve: usage
        raise fail(f"cannot serve on {host}: {exc.strerror}; give another --host") from None
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:  # not an address of this machine: usage
            raise fail(
                f"cannot serve on {host}:{port}: {exc.strerror}; give an address of this "
                "machine as --host"
            ) from None
        # The port is taken, or refused to this user: the machine, exit code 4.
        raise fail(
            f"cannot serve on {host}:{port}: {exc.strerror}; choose another --port "
            "(--port 0 takes any free one)",
            InfrastructureError.exit_code,
        ) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
