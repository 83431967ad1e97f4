"""The run directory: ``run.json`` (metadata) and ``records.jsonl`` (one line per call).

A record is appended and flushed the moment its call is scored, so memory stays
flat and a killed run keeps everything it finished. ``run.json`` is written when
the run starts and rewritten when it ends. No API key is ever written: model
settings are copied field by field from what is safe to show.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from promptbench._version import __version__
from promptbench.config import ModelConfig
from promptbench.errors import RunStoreError
from promptbench.suite import Suite
from promptbench.types import Record

RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"


def default_runs_dir() -> Path:
    """``$PROMPTBENCH_RUNS_DIR``, else ``runs/`` in the working directory."""
    return Path(os.environ.get("PROMPTBENCH_RUNS_DIR", "runs"))


def new_run_id(suite_name: str) -> str:
    """A sortable, unique id: ``20261126-081835-ticket-triage-3fa2``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in suite_name.lower()).strip("-")[:32]
    return f"{stamp}-{slug or 'suite'}-{secrets.token_hex(2)}"


def git_info(directory: Path) -> dict[str, Any] | None:
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
    return {"commit": commit, "dirty": bool(dirty)}


def model_metadata(config: ModelConfig) -> dict[str, Any]:
    """What a run records about a model: never its key, nor where the key lives."""
    meta: dict[str, Any] = {"provider": config.provider, "model": config.model}
    base_url = getattr(config, "base_url", None)
    if base_url:
        meta["base_url"] = base_url
    meta["params"] = config.sampling_params()
    price = config.effective_price()
    meta["price"] = price.model_dump() if price else None
    return meta


@dataclass
class RunInfo:
    """A run's identity and state, as written to ``run.json``."""

    run_id: str
    run_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def records_path(self) -> Path:
        """Where the records are."""
        return self.run_dir / RECORDS_FILE

    @property
    def status(self) -> str:
        """running, finished, interrupted or failed."""
        return str(self.meta.get("status", "unknown"))


def suite_metadata(suite: Suite) -> dict[str, Any]:
    """The suite's part of ``run.json``."""
    return {
        "name": suite.name,
        "description": suite.description,
        "path": str(suite.path),
        "hash": suite.hash,
        "cases": suite.cases.origin,
        "repeat": suite.repeat,
        "metrics": suite.metric_names,
        "gate": [str(g) for g in suite.gate],
        "regression": [r.to_json() for r in suite.regression],  # for diff --fail-on-regression
        "max_error_rate": suite.max_error_rate,  # so that `show` gives the run's verdict
        "variables": suite.cases.var_names,
        "wandb": suite.wandb.model_dump() if suite.wandb else None,  # `show --wandb` defaults
    }


RESUMABLE = ("running", "interrupted", "failed", "stopped_at_budget")


def resume_key(suite: Suite, options: dict[str, Any]) -> str:
    """What makes two runs the same job: the suite's content and the options that select work."""
    chosen = {
        k: options.get(k) for k in ("variants", "models", "cases", "limit", "repeat", "shard")
    }
    blob = json.dumps({"suite": suite.hash, "options": chosen}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _alive(meta: dict[str, Any]) -> bool:
    """Whether the process that wrote a "running" run.json still runs (on this host)."""
    if meta.get("host") != socket.gethostname():
        return True  # another machine's run: leave it alone
    pid = meta.get("pid")
    if not isinstance(pid, int):
        return False
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
        meta_path = run_dir / RUN_FILE
        if not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(meta, dict) or meta.get("resume_key") != key:
            continue
        status = meta.get("status")
        if status not in RESUMABLE or (status == "running" and _alive(meta)):
            continue
        candidates.append((str(meta.get("started_at", "")), run_dir))
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
    ) -> None:
        self.resumed_from: dict[str, Any] | None = None
        if resume is not None:
            self._take_up(resume)
            return
        self.info = RunInfo(run_id or new_run_id(suite.name), Path())
        self.info.run_dir = runs_dir / self.info.run_id
        try:
            self.info.run_dir.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise RunStoreError(
                f"cannot create the run directory {self.info.run_dir}: {exc.strerror}; "
                "choose another with --runs-dir"
            ) from None
        self.info.meta = {
            "run_id": self.info.run_id,
            "status": "running",
            # Microseconds: runs started within one second still sort (their ids do not).
            "started_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "finished_at": None,
            "suite": suite_metadata(suite),
            "variants": {name: suite.variants[name].source() for name in variants},
            "models": {name: model_metadata(suite.models[name]) for name in models},
            "options": options,
            "git": git_info(suite.path.parent),
            "promptbench": __version__,
            "python": platform.python_version(),
            "command": sys.argv[1:] if sys.argv and "promptbench" in sys.argv[0] else None,
            "counts": {},
            "resume_key": resume_key(suite, options),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        self._started = time.perf_counter()
        self._records: IO[str] = self.info.records_path.open("a", encoding="utf-8")
        self._write_meta()

    def _take_up(self, run_dir: Path) -> None:
        """Continue an unfinished run: repair its records, and append to them."""
        meta = read_meta(run_dir)
        self.info = RunInfo(str(meta["run_id"]), run_dir, meta)
        self.resumed_from = {
            "status": meta.get("status"),
            "torn_bytes": repair_records(self.info.records_path),
        }
        meta["status"] = "running"
        meta["pid"] = os.getpid()
        meta["host"] = socket.gethostname()
        meta.setdefault("resumed_at", []).append(
            datetime.now(UTC).isoformat(timespec="microseconds")
        )
        self._started = time.perf_counter() - float(meta.get("wall_seconds") or 0.0)
        self._records = self.info.records_path.open("a", encoding="utf-8")
        self._write_meta()

    def write(self, record: Record) -> None:
        """Append one record and flush it to the OS."""
        self._records.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._records.flush()

    def finish(self, status: str, counts: dict[str, int]) -> RunInfo:
        """Close the records and write the final metadata."""
        self._records.close()
        self.info.meta["status"] = status
        self.info.meta["finished_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
        self.info.meta["wall_seconds"] = round(time.perf_counter() - self._started, 3)
        self.info.meta["counts"] = counts
        self._write_meta()
        return self.info

    def _write_meta(self) -> None:
        path = self.info.run_dir / RUN_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.info.meta, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file


def read_meta(run_dir: Path) -> dict[str, Any]:
    """Read a run's ``run.json``."""
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: not a promptbench run (no {RUN_FILE})") from None
    except (OSError, ValueError) as exc:
        raise RunStoreError(f"{run_dir / RUN_FILE}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise RunStoreError(f"{run_dir / RUN_FILE}: unreadable: not a JSON object")
    return data


def iter_records(run_dir: Path) -> Any:
    """Yield every record of a run, streaming; a torn last line (a killed run) is skipped."""
    path = run_dir / RECORDS_FILE
    try:
        fh = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: no {RECORDS_FILE}") from None
    with fh:
        for line in fh:
            if not line.endswith("\n"):
                return  # the last write of a killed run
            try:
                yield Record.from_json(json.loads(line))
            except (ValueError, KeyError) as exc:
                raise RunStoreError(f"{path}: corrupt record: {exc}") from None
