"""``promptbench run SUITE --watch``: run again whenever a file the suite reads is saved.

Each iteration is an ordinary run: calls whose inputs did not change are cache hits,
so only what an edit touched reaches a model. After each one the summary is printed,
then the paired diff against the previous iteration, flipped cases first. A broken
edit prints its one-line error and the loop waits for the next save; Ctrl-C exits 130.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from promptbench.cli._common import err, missing_extra, out, with_flag
from promptbench.errors import PromptbenchError, SuiteError

if TYPE_CHECKING:
    from promptbench.api import RunResult
    from promptbench.runner import Observer, RunOptions
    from promptbench.suite import Suite

# Whatever the editor leaves beside a file (swap files, backups) is not an edit.
_IGNORED_SUFFIXES = (".swp", ".swx", ".tmp", "~")


def watched_files(suite_paths: Iterable[Path], loaded: dict[Path, list[Path]]) -> set[Path]:
    """The suites themselves and every file they read (templates, datasets, python: metrics)."""
    files = {p.resolve() for p in suite_paths}
    for used in loaded.values():
        files.update(f.resolve() for f in used)
    return files


Stamp = tuple[int, int] | None


def stamps(files: Iterable[Path]) -> dict[Path, Stamp]:
    """Each file's modification time and size (None when it cannot be read): its version."""
    out: dict[Path, Stamp] = {}
    for f in files:
        try:
            st = f.stat()
        except OSError:
            out[f] = None
        else:
            out[f] = (st.st_mtime_ns, st.st_size)
    return out


def _metric_files(suite: Suite) -> list[Path]:
    """The files of the suite's ``python:`` metrics (suite-wide and per variant)."""
    specs = [*suite.metrics, *(m for v in suite.variants.values() for m in v.metrics)]
    files = [s.params.get("file") for s in specs if s.kind == "python"]
    return [Path(f) if Path(f).is_absolute() else suite.path.parent / f for f in files if f]


def _run_once(
    path: Path,
    options: RunOptions,
    observers: Callable[[], list[Observer]],
    loaded: dict[Path, list[Path]],
) -> RunResult | None:
    """One iteration of one suite; None (after one line per problem) when the edit broke it."""
    from promptbench.api import prepare, run_prepared

    try:
        suite, runner = prepare(path, options)
        loaded[path] = [suite.path, *suite.files, *_metric_files(suite)]
        return run_prepared(suite, runner, observers())
    except SuiteError as exc:
        for issue in exc.issues:
            err.print(with_flag(str(issue), issue.hint), style="red", markup=False, soft_wrap=True)
    except PromptbenchError as exc:
        err.print(f"error: {with_flag(str(exc), exc.hint)}", style="red", markup=False)
    return None


def _print_changes(previous: Path, result: RunResult) -> None:
    from promptbench.diff import compare
    from promptbench.report.diff_terminal import print_iteration_diff

    try:
        diff = compare(previous, result.run_dir)
    except PromptbenchError as exc:  # e.g. the edit renamed every case: nothing to pair
        err.print(f"no diff against the previous iteration: {exc}", markup=False, soft_wrap=True)
        return
    print_iteration_diff(out, diff, before=previous.name, after=result.run_dir.name)


def watch(
    suite_paths: list[Path],
    options: RunOptions,
    observers: Callable[[], list[Observer]],
    print_result: Callable[[RunResult], None],
) -> NoReturn:
    """Run, print, wait for a save, and again, until Ctrl-C (exit 130)."""
    try:
        from watchfiles import watch as watch_changes
    except ImportError:
        raise missing_extra("run --watch", "watchfiles", "watch") from None

    previous: dict[Path, Path] = {}
    loaded: dict[Path, list[Path]] = {}
    try:
        while True:
            # The files' versions as the runs are about to read them: a save made while
            # they run, or before the watcher below is in place, is not an event the
            # watcher sees, so each wait also compares these with the files on disk.
            read = stamps(watched_files(suite_paths, loaded))
            for path in suite_paths:
                result = _run_once(path, options, observers, loaded)
                if result is None:
                    continue
                print_result(result)
                if path in previous:
                    _print_changes(previous[path], result)
                previous[path] = result.run_dir
            files = watched_files(suite_paths, loaded)
            read = {**stamps(files - read.keys()), **{f: read[f] for f in files & read.keys()}}
            roots = sorted({f.parent for f in files if f.parent.is_dir()})
            err.print(
                f"watching {len(files)} files; save one to run again (Ctrl-C stops)",
                markup=False,
            )
            # yield_on_timeout: an empty set every rust_timeout ms once the watcher is in
            # place, when the files are compared with what the runs read.
            for changes in watch_changes(
                *roots, raise_interrupt=True, yield_on_timeout=True, rust_timeout=500
            ):
                if changes:
                    touched = {Path(p).resolve() for _, p in changes} & files
                    touched = {p for p in touched if not str(p).endswith(_IGNORED_SUFFIXES)}
                else:
                    now = stamps(files)
                    touched = {f for f in files if now[f] != read[f]}
                if touched:
                    names = ", ".join(sorted(p.name for p in touched))
                    err.print(f"\nchanged: {names}", markup=False)
                    break
    except KeyboardInterrupt:
        err.print("stopped watching", style="yellow", markup=False)
        raise typer.Exit(130) from None
