"""The run directory: ``run.json`` (metadata) and ``records.jsonl`` (one line per call).

Records are appended in batches (:data:`FLUSH_RECORDS` lines, or whatever gathered
in :data:`FLUSH_SECONDS`: the runner flushes on a timer), one write to the OS each,
so memory stays flat and a record costs no system call of its own. A kill loses at
most the batch not yet written: those calls are not in the journal, so a resumed run
makes them again (their answers are in the cache, whose writer commits within 50 ms,
so they are not paid twice), and a write cut short leaves at most a torn last line,
which resuming cuts. No record is ever written twice. ``run.json`` is written when
the run starts and rewritten when it ends, through :mod:`promptbench.runner.runmeta`
(the only code that reads or writes it).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import secrets
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from promptbench._version import __version__
from promptbench.bulk import decode_fast, loads
from promptbench.errors import InfrastructureError, RunStoreError
from promptbench.runner.recordline import record_line
from promptbench.runner.runmeta import (
    RUN_FILE,
    BudgetMeta,
    Counts,
    GateRuleMeta,
    GitMeta,
    OptionsMeta,
    RegressionRuleMeta,
    RunMeta,
    RunStatus,
    SuiteMeta,
    model_meta,
    read_meta,
    write_meta,
)
from promptbench.types import Record

if TYPE_CHECKING:
    from promptbench.suite import Suite

RECORDS_FILE = "records.jsonl"
FLUSH_RECORDS = 256  # records gathered before they are written in one go
FLUSH_SECONDS = 0.2  # the longest a record waits in memory (the runner's flush timer)


def default_runs_dir() -> Path:
    """``$PROMPTBENCH_RUNS_DIR``, else ``runs/`` in the working directory."""
    return Path(os.environ.get("PROMPTBENCH_RUNS_DIR", "runs"))


def new_run_id(suite_name: str) -> str:
    """A sortable, unique id: ``20261126-081835-ticket-triage-3fa2``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in suite_name.lower()).strip("-")[:32]
    return f"{stamp}-{slug or 'suite'}-{secrets.token_hex(2)}"


def git_info(directory: Path) -> GitMeta | None:
    """The commit and dirtiness of the repository holding ``directory``, if any."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return GitMeta(commit=commit, dirty=bool(dirty))


@dataclass
class RunInfo:
    """A run's directory and its metadata, as written to ``run.json``."""

    run_dir: Path
    meta: RunMeta

    @property
    def run_id(self) -> str:
        """The run's id (its directory's name when run.json lacks it)."""
        return self.meta.run_id or self.run_dir.name

    @property
    def records_path(self) -> Path:
        """Where the records are."""
        return self.run_dir / RECORDS_FILE

    @property
    def status(self) -> RunStatus:
        """running, finished, interrupted, failed or stopped_at_budget."""
        return self.meta.status


def suite_meta(suite: Suite) -> SuiteMeta:
    """The suite's part of ``run.json``."""
    return SuiteMeta(
        name=suite.name,
        description=suite.description,
        path=str(suite.path),
        hash=suite.hash,
        cases=suite.cases.origin,
        repeat=suite.repeat,
        metrics=suite.metric_names,
        gate=[GateRuleMeta.of(g) for g in suite.gate],
        regression=[RegressionRuleMeta(metric=r.metric, margin=r.margin) for r in suite.regression],
        max_error_rate=suite.max_error_rate,
        variables=suite.cases.var_names,
        wandb=suite.wandb.model_dump() if suite.wandb else None,
        probes={name: p.kind for name, p in suite.probes.probes.items()},
    )


RESUMABLE = ("running", "interrupted", "failed", "stopped_at_budget")


def resume_key(suite: Suite, options: dict[str, Any]) -> str:
    """What makes two runs the same job: the suite's content and the options that select work."""
    chosen = OptionsMeta.model_validate(options).selection()
    blob = json.dumps({"suite": suite.hash, "options": chosen}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _alive(meta: RunMeta) -> bool:
    """Whether the process that wrote a "running" run.json still runs (on this host)."""
    if meta.host != socket.gethostname():
        return True  # another machine's run: leave it alone
    pid = meta.pid
    if pid is None or pid == os.getpid():
        return False  # this process ended that run, and could not say so (a full disk)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_resumable(runs_dir: Path, key: str) -> Path | None:
    """The latest run of the same job that did not finish and whose process is gone."""
    if not runs_dir.is_dir():
        return None
    candidates = []
    for run_dir in runs_dir.iterdir():
        if not (run_dir / RUN_FILE).is_file():
            continue
        try:
            meta = read_meta(run_dir)
        except RunStoreError:
            continue
        if meta.resume_key != key:
            continue
        status = meta.status
        if status not in RESUMABLE or (status == "running" and _alive(meta)):
            continue
        candidates.append((meta.started_at or "", run_dir))
    return max(candidates)[1] if candidates else None


def repair_records(path: Path) -> int:
    """Cut a torn last line (a write cut short by a kill); return the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as fh:
        # Read back from the end to the last newline.
        block = 1 << 16
        pos = size
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl != -1:
                keep = start + nl + 1
                break
            pos = start
        else:
            keep = 0
        if keep < size:
            fh.truncate(keep)
        return size - keep


class RunWriter:
    """Creates a run directory and streams records into it; or takes up an unfinished one."""

    def __init__(
        self,
        runs_dir: Path,
        suite: Suite,
        *,
        options: dict[str, Any],
        variants: list[str],
        models: list[str],
        run_id: str | None = None,
        resume: Path | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.resumed_from: dict[str, Any] | None = None
        self._pending: list[str] = []  # JSON lines not yet written
        if resume is not None:
            self._take_up(resume)
            return
        run_id = run_id or new_run_id(suite.name)
        run_dir = runs_dir / run_id
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise InfrastructureError(
                f"cannot create the run directory {run_dir}: {exc.strerror}; make it "
                "writable or choose another",
                hint="runs_dir",
            ) from None
        meta = RunMeta(
            run_id=run_id,
            status="running",
            # Microseconds: runs started within one second still sort (their ids do not).
            started_at=datetime.now(UTC).isoformat(timespec="microseconds"),
            suite=suite_meta(suite),
            variants={name: suite.variants[name].source() for name in variants},
            models={name: model_meta(suite.models[name]) for name in models},
            options=OptionsMeta.model_validate(options),
            git=git_info(suite.path.parent),
            promptbench=__version__,
            python=platform.python_version(),
            command=command,  # the caller's: the CLI passes its arguments, the Python API none
            resume_key=resume_key(suite, options),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        self.info = RunInfo(run_dir, meta)
        self._started = time.perf_counter()
        with store_faults(run_dir):
            self._records: IO[str] = self.info.records_path.open("a+", encoding="utf-8")
            write_meta(run_dir, meta)

    def _take_up(self, run_dir: Path) -> None:
        """Continue an unfinished run: repair its records, and append to them."""
        meta = read_meta(run_dir)
        self.info = RunInfo(run_dir, meta)
        self.resumed_from = {
            "status": meta.status,
            "torn_bytes": 0,  # set below, once the file is known to be writable
        }
        meta.status = "running"
        meta.pid = os.getpid()
        meta.host = socket.gethostname()
        meta.resumed_at.append(datetime.now(UTC).isoformat(timespec="microseconds"))
        self._started = time.perf_counter() - (meta.wall_seconds or 0.0)
        with store_faults(run_dir):
            self.resumed_from["torn_bytes"] = repair_records(self.info.records_path)
            self._records = self.info.records_path.open("a+", encoding="utf-8")
            write_meta(run_dir, meta)

    def write(self, record: Record) -> None:
        """Queue one record; write the batch once it holds :data:`FLUSH_RECORDS`.

        Raises InfrastructureError as :meth:`flush` does.
        """
        self._pending.append(record_line(record) + "\n")
        if len(self._pending) >= FLUSH_RECORDS:
            self.flush()

    @property
    def pending(self) -> int:
        """Records queued, not yet written."""
        return len(self._pending)

    def flush(self) -> None:
        """Write the queued records to the OS in one go.

        Raises InfrastructureError when the disk refuses them (what reached the file
        of a refused write is cut, so no torn line is left), or when the records file
        was removed under the run (writes to a removed file succeed and are lost):
        then what the open file holds is put back first, so nothing paid for is lost.
        """
        if not self._pending:
            return
        path = self.info.records_path
        batch = "".join(self._pending)
        self._pending.clear()
        try:
            self._records.write(batch)
            self._records.flush()
        except OSError as exc:
            self._drop_torn(batch)
            raise _disk_fault(path, exc) from None
        if os.fstat(self._records.fileno()).st_nlink == 0:
            kept = self._put_back()
            raise InfrastructureError(
                f"{path} was removed while the run wrote to it; its {kept} records were put "
                "back: run the same command again to take the run up"
            )

    def _drop_torn(self, line: str) -> None:
        """After a failed write: cut the part of ``line`` that reached the file, if any."""
        with contextlib.suppress(OSError, ValueError):
            self._records = _reopen_cut(self.info.records_path, self._records)

    def _put_back(self) -> int:
        """Copy the removed records file's content, still open, back to its path.

        The file is opened "a+" for this: appending, and readable.
        """
        path = self.info.records_path
        fd = self._records.fileno()
        kept = 0
        with store_faults(path.parent):
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                offset = 0
                while chunk := os.pread(fd, 1 << 20, offset):
                    out.write(chunk)
                    kept += chunk.count(b"\n")
                    offset += len(chunk)
            self._records.close()
            self._records = path.open("a+", encoding="utf-8")
        return kept

    def finish(
        self, status: RunStatus, counts: dict[str, int], budget: BudgetMeta | None = None
    ) -> RunInfo:
        """Close the records and write the final metadata.

        A run.json that cannot be written (a full disk) stays "running"; its process
        gone, the next run of the same command takes it up all the same.
        """
        # A batch the disk refuses now is not in the journal: resuming makes those calls again.
        with contextlib.suppress(InfrastructureError):
            self.flush()
        with contextlib.suppress(OSError):
            self._records.close()
        meta = self.info.meta
        meta.status = status
        meta.finished_at = datetime.now(UTC).isoformat(timespec="microseconds")
        meta.wall_seconds = round(time.perf_counter() - self._started, 3)
        meta.counts = Counts(**counts)
        if budget is not None:
            meta.budget = budget
        with contextlib.suppress(OSError):
            write_meta(self.info.run_dir, meta)
        return self.info


def _disk_fault(path: Path, exc: OSError) -> InfrastructureError:
    """A failed write as one line: the path, why, and what to do."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        fix = "free some space (or choose another runs directory)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = "make it writable (or choose another runs directory)"
    else:
        fix = "check the disk"
    return InfrastructureError(
        f"cannot write {path}: {exc.strerror or exc}; {fix}, then run the same command "
        "again to take the run up",
        hint="runs_dir",
    )


@contextlib.contextmanager
def store_faults(path: Path) -> Iterator[None]:
    """Turn the OS refusing a write under ``path`` into an InfrastructureError."""
    try:
        yield
    except OSError as exc:
        where = Path(exc.filename) if isinstance(exc.filename, str) else path
        raise _disk_fault(where, exc) from None


def _reopen_cut(path: Path, fh: IO[str]) -> IO[str]:
    """Close ``fh`` (dropping what it buffered), cut a torn last line, reopen for appending."""
    with contextlib.suppress(OSError):
        fh.close()
    repair_records(path)
    return path.open("a+", encoding="utf-8")


def iter_records(run_dir: Path) -> Iterator[Record]:
    """Yield every record of a run, streaming; a torn last line (a killed run) is skipped."""
    for data in iter_record_dicts(run_dir):
        try:
            yield Record.from_json(data)
        except (ValueError, KeyError) as exc:
            raise RunStoreError(f"{run_dir / RECORDS_FILE}: corrupt record: {exc}") from None


def iter_record_dicts(run_dir: Path, *, exact_big_ints: bool = True) -> Iterator[dict[str, Any]]:
    """Yield every line of a run's records as decoded JSON, streaming; a torn last line is skipped.

    For readers that need a few fields of each record (``diff``, ``baseline save``) and
    should not pay for building whole :class:`Record` objects. ``exact_big_ints=False``:
    see :func:`promptbench.bulk.loads` (integers beyond 64 bits can only be in a case's
    variables, which such readers do not read).
    """
    if exact_big_ints:
        for _, data in iter_record_offsets(run_dir, exact_big_ints=True):
            yield data
        return
    # Without the search for big integers: iter_record_offsets' loop, with orjson called
    # here rather than through decode_line and loads (a tenth of the decoding's cost,
    # per line of a 100,000-line diff). What orjson refuses goes that way, as before.
    path = run_dir / RECORDS_FILE
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None
    with fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # the last write of a killed run
            try:
                data = decode_fast(line)
            except ValueError:  # NaN, Infinity or not JSON: the standard library decides
                data = decode_line(path, line, False)
            if type(data) is not dict:
                data = decode_line(path, line, False)  # raises: not a JSON object
            yield data


def open_records(run_dir: Path) -> IO[bytes]:
    """The run's ``records.jsonl``, open for reading its lines (see :func:`decode_line`).

    For a reader that loops over the lines itself (the viewer); :func:`iter_record_offsets`
    is the same loop. A last line without its newline is a killed run's last write.
    """
    try:
        return (run_dir / RECORDS_FILE).open("rb")
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None


def iter_record_offsets(
    run_dir: Path, *, exact_big_ints: bool = True
) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`iter_record_dicts`, each line with its byte offset in ``records.jsonl``.

    A reader that keeps only a few fields of every record and shows whole records on
    demand (the viewer) reads them back with :func:`read_record_dicts`.
    """
    path = run_dir / RECORDS_FILE
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None
    offset = 0
    with fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # the last write of a killed run
            yield offset, decode_line(path, line, exact_big_ints)
            offset += len(line)


def read_record_dicts(
    run_dir: Path, offsets: Iterable[int], *, exact_big_ints: bool = True
) -> list[dict[str, Any]]:
    """The lines at ``offsets`` (from :func:`iter_record_offsets`), decoded, in that order.

    Raises RunStoreError when an offset is not the start of a whole line (the file was
    rewritten since the offsets were taken: its reader should read it again).
    """
    path = run_dir / RECORDS_FILE
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None
    out = []
    with fh:
        for offset in offsets:
            if offset:
                fh.seek(offset - 1)
                line = fh.readline()
                if line != b"\n":  # the byte before a line's start ends the line before
                    raise RunStoreError(f"{path}: changed while read; read it again")
            else:
                fh.seek(0)
            line = fh.readline()
            if not line.endswith(b"\n"):
                raise RunStoreError(f"{path}: changed while read; read it again")
            out.append(decode_line(path, line, exact_big_ints))
    return out


def decode_line(path: Path, line: bytes, exact_big_ints: bool) -> dict[str, Any]:
    """One line of ``path`` decoded, as :func:`iter_record_offsets` yields it.

    Raises RunStoreError when the line is not JSON, or not an object.
    """
    try:
        data = loads(line, exact_big_ints=exact_big_ints)
    except ValueError as exc:
        raise RunStoreError(f"{path}: corrupt record: {exc}") from None
    if not isinstance(data, dict):
        raise RunStoreError(f"{path}: corrupt record: not a JSON object")
    return data


@contextlib.contextmanager
def corrupt_records(run_dir: Path) -> Iterator[None]:
    """A fold of raw lines meeting a line that is not a record: one RunStoreError.

    What :func:`iter_records` says of a line that :meth:`Record.from_json` refuses,
    for the readers that fold the decoded lines themselves.
    """
    try:
        yield
    except (KeyError, TypeError, AttributeError) as exc:
        raise RunStoreError(f"{run_dir / RECORDS_FILE}: corrupt record: {exc!r}") from None
