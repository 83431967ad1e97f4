"""The run directory: ``run.json`` (metadata) and ``records.jsonl`` (one line per call).

A record is appended and flushed the moment its call is scored, so memory stays
flat and a killed run keeps everything it finished. ``run.json`` is written when
the run starts and rewritten when it ends. No API key is ever written: model
settings are copied field by field from what is safe to show.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from promptbench import __version__
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
        "max_error_rate": suite.max_error_rate,  # so that `show` gives the run's verdict
        "variables": suite.cases.var_names,
        "wandb": suite.wandb.model_dump() if suite.wandb else None,  # `show --wandb` defaults
    }


class RunWriter:
    """Creates a run directory and streams records into it."""

    def __init__(
        self,
        runs_dir: Path,
        suite: Suite,
        *,
        options: dict[str, Any],
        variants: list[str],
        models: list[str],
        run_id: str | None = None,
    ) -> None:
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
        }
        self._started = time.perf_counter()
        self._records: IO[str] = self.info.records_path.open("a", encoding="utf-8")
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
