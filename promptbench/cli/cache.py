"""``promptbench cache``: what the completion cache holds, and clearing it."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from promptbench.cli._common import JsonOpt, fail, out, user_errors

app = typer.Typer(
    help="Inspect or clear the completion cache.\n\nExample: promptbench cache stats --json",
    no_args_is_help=True,
)

CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--path",
        help="The cache file (default: $PROMPTBENCH_CACHE or ~/.cache/promptbench/cache.db).",
    ),
]


@app.command()
def stats(path: CacheOpt = None, as_json: JsonOpt = False) -> None:
    """Show where the cache is, how many completions it holds, and its size.

    Example: promptbench cache stats
    """
    from promptbench.cache import Cache

    with user_errors():
        cache = Cache(path)
        s = cache.stats()
        cache.close()
    data = {
        "path": str(s.path),
        "entries": s.entries,
        "bytes": s.bytes,
        "oldest": _when(s.oldest),
        "newest": _when(s.newest),
    }
    if as_json:
        print(json.dumps(data, indent=2))
        return
    out.print(f"cache:   {s.path}", markup=False)
    out.print(f"entries: {s.entries:,}")
    out.print(f"size:    {s.bytes / 1e6:.1f} MB")
    if s.oldest:
        out.print(f"span:    {_when(s.oldest)} … {_when(s.newest)}")


@app.command()
def clear(
    path: CacheOpt = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Only entries older than this: 30m, 12h, 7d.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete cached completions (all, or those older than a duration).

    Example: promptbench cache clear --older-than 7d --yes
    """
    from promptbench.cache import Cache

    seconds = _duration(older_than) if older_than else None
    if not yes and not typer.confirm(
        "Delete cached completions? Re-running suites will call the models again.", default=False
    ):
        raise typer.Exit(1)
    with user_errors():
        cache = Cache(path)
        n = cache.clear(seconds)
        cache.close()
    out.print(f"deleted {n:,} cached completions")


def _when(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else None


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match:
        raise fail(f"--older-than {text!r}: write a number and a unit, such as 30m, 12h or 7d")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
