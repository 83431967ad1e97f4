"""``promptbench view``: the stored runs in a browser, served on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import err, fail, missing_extra
from promptbench.cli.runs import RunsDirOpt


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
    """
    from promptbench.runner.store import default_runs_dir

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise missing_extra("promptbench view", "starlette and uvicorn", "view") from None
    from promptbench.view import serve

    base = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    if not base.is_dir():
        raise fail(f"no runs directory {base}; run a suite first, or give --runs-dir")

    def ready(url: str) -> None:
        err.print(
            f"promptbench view: {url} (runs in {base}; Ctrl-C stops)", markup=False, soft_wrap=True
        )

    try:
        serve(base, host=host, port=port, ready=ready)
    except OSError as exc:
        raise fail(
            f"cannot serve on {host}:{port}: {exc.strerror}; choose another --port"
        ) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
