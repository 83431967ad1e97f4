"""Weights & Biases Tables: one W&B run per promptbench run, as a runner observer.

The records table streams in while the run goes (wandb's ``INCREMENTAL`` table
log mode: each log uploads only the rows added since the last one), and a
complete table, a per variant × model table, the summary figures and the run's
files as an artifact follow at the end, all read back from the run directory so
that W&B shows exactly what is on disk.

wandb is imported only here and only when asked for (``--wandb``): without it,
promptbench sends nothing to W&B and loads none of its code. A W&B failure never
costs the run its records: the first one is kept as an InfrastructureError
(:attr:`WandbLogger.error`, naming the W&B directory and the fix), W&B logging
stops, and the run goes on; the CLI says it once, at the end, with exit code 4.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from promptbench.errors import InfrastructureError, MissingExtraError, UsageError
from promptbench.report.wandb_rows import (
    Redactor,
    WandbTarget,
    record_columns,
    record_row,
    run_config,
    summary_columns,
    summary_rows,
    summary_values,
)
from promptbench.runner import BaseObserver, RunInfo, iter_records
from promptbench.runner.runmeta import WandbRunMeta
from promptbench.stats import Summary
from promptbench.stats.probes import figure, probe_report
from promptbench.types import Record

Warn = Callable[[str], None]

# Keys in the W&B run.
LIVE_KEY = "records_live"  # the incremental table, streamed while the run goes
RECORDS_KEY = "records"  # the complete table, logged at the end
SUMMARY_KEY = "summary"  # one row per variant x model
ROBUSTNESS_KEY = "robustness"  # a row per probe × variant × model
ARTIFACT_TYPE = "promptbench-run"


def import_wandb() -> ModuleType:
    """The wandb module, or a one-line MissingExtraError naming the extra."""
    # wandb's own crash reports and usage metrics go to its error tracker, not to the W&B
    # the user named: off unless the user turns them on (before wandb starts its service).
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    # wandb keeps a debug log in its directory; once that disk is full, the logging
    # module would print "--- Logging error ---" and a traceback for each line it drops.
    # The failure itself is said once, as one line (WandbLogger.error).
    logging.raiseExceptions = False
    try:
        import wandb
    except ImportError:
        raise MissingExtraError("wandb", "wandb", "--wandb") from None
    return wandb


def preflight() -> None:
    """Check, before any model is called, that a W&B run can be started.

    Online mode needs credentials; offline and disabled modes (``WANDB_MODE``,
    or ``wandb offline`` in this directory) need none.
    """
    wandb = import_wandb()
    try:
        settings = wandb.setup().settings
        mode = str(settings.mode)
    except ValidationError as exc:  # a WANDB_* variable wandb cannot use, such as WANDB_MODE
        first = exc.errors(include_url=False)[0]
        name = "WANDB_" + "_".join(str(p) for p in first["loc"]).upper()
        raise UsageError(
            f"{name}={first.get('input')!r} is not a setting W&B takes ({first['msg']}): "
            f"fix or unset {name}"
        ) from None
    if mode == "disabled":
        return
    # wandb falls back to /tmp, with two lines of its own, when it cannot create its
    # directory: say so now, before any model is called, and log nowhere unexpected.
    check_writable(Path(getattr(settings, "wandb_dir", None) or wandb_dir()))
    if mode in ("offline", "dryrun"):
        return
    # verify=False: no network call here; a wrong key shows when the run starts.
    if not wandb.login(prompt=False, verify=False):
        raise UsageError(
            "W&B is not logged in: run `wandb login` (or set WANDB_API_KEY), "
            "or log offline with WANDB_MODE=offline and upload later with `wandb sync`"
        )


def wandb_dir() -> Path:
    """The directory wandb writes its runs to: ``$WANDB_DIR/wandb``, else ``./wandb``."""
    return Path(os.environ.get("WANDB_DIR") or os.getcwd()) / "wandb"


def check_writable(directory: Path) -> None:
    """Create ``directory`` and a file in it, or raise the InfrastructureError that says why."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise InfrastructureError(
            f"W&B cannot write to {directory} ({exc.strerror or exc}): {_FIX}"
        ) from None


_FIX = "set WANDB_DIR to a writable directory, or run without --wandb"


def failure(what: str, exc: BaseException) -> InfrastructureError:
    """A W&B failure as one line: what failed, where, why, and the fix."""
    if isinstance(exc, OSError) and (exc.filename2 or exc.filename):
        where = str(exc.filename2 or exc.filename)  # the destination of a copy
        reason = exc.strerror or str(exc)
    else:
        where, reason = str(wandb_dir()), f"{type(exc).__name__}: {exc}"
    fix = _FIX
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        fix = "free some space, or " + _FIX
    elif not isinstance(exc, OSError):
        fix = (
            "check W&B's status and your login, or log offline with WANDB_MODE=offline, "
            "or run without --wandb"
        )
    return InfrastructureError(f"{what} in {where} ({reason}): {fix}")


def _settings(wandb: ModuleType) -> Any:
    wanted: dict[str, Any] = {
        "console": "off",  # our progress bar is not W&B's business
        "disable_git": True,  # the commit is in the config; a remote URL may hold a token
        "save_code": False,
        "x_disable_stats": True,  # no CPU/GPU/host metrics: nobody asked for them
        # wandb's own lines would break into the progress bar; the CLI prints one line
        # saying where the run went (WandbLogger.location) instead.
        "silent": True,
    }
    # Private settings come and go between wandb versions; pass only what it knows.
    known = set(getattr(wandb.Settings, "model_fields", wanted))
    return wandb.Settings(**{k: v for k, v in wanted.items() if k in known})


class WandbLogger(BaseObserver):
    """Logs one promptbench run to one W&B run.

    ``every_rows`` and ``every_seconds`` bound how often the live table is
    logged; the row bound grows with the run so that a long run stays within the
    hundred increments the W&B workspace shows.
    """

    every_rows: int = 50
    every_seconds: float = 30.0
    max_increments: int = 80

    def __init__(
        self,
        target: WandbTarget,
        *,
        warn: Warn,
        redactor: Redactor | None = None,
        live: bool = True,
    ) -> None:
        self.target = target
        self.warn = warn
        self.redactor = redactor if redactor is not None else Redactor.from_environment()
        self.live = live
        self.run: Any = None  # the wandb Run while logging works; None otherwise
        self.error: InfrastructureError | None = None  # the first W&B failure
        self.location: str | None = None  # the run's URL, or its offline directory
        self._wandb: ModuleType | None = None
        self._info: RunInfo | None = None
        self._table: Any = None
        self._vars: list[str] = []
        self._metrics: list[str] = []
        self._pending = 0
        self._live_rows = 0
        self._last_log = 0.0
        self._rows_per_log = self.every_rows

    # -- observer ------------------------------------------------------------------------

    def on_start(self, info: RunInfo, total: int) -> None:
        """Start the W&B run and the live table."""
        self._info = info
        with self._guard("could not start the W&B run"):
            wandb = self._wandb = import_wandb()
            self.run = wandb.init(
                project=self.target.project,
                entity=self.target.entity,
                group=self.target.group,
                tags=list(self.target.tags) or None,
                name=self.target.name or info.run_id,
                job_type="eval",
                config=run_config(info.meta, self.redactor),
                reinit="create_new",  # one W&B run per suite, several suites per command
                settings=_settings(wandb),
            )
            self.location = _location(self.run)
            if self.location is not None:  # so that rank/diff --wandb can log to this run
                info.meta.wandb_run = WandbRunMeta(
                    id=self.run.id, project=self.target.project, entity=self.target.entity
                )
            self._vars = list(info.meta.suite.variables)
            self._metrics = list(info.meta.suite.metrics)
            if self.live:
                # Metrics named only by cases are unknown yet: they are in the final table.
                self._table = wandb.Table(
                    columns=record_columns(self._vars, self._metrics), log_mode="INCREMENTAL"
                )
                self._rows_per_log = max(self.every_rows, math.ceil(total / self.max_increments))
                self._last_log = time.monotonic()

    def on_record(self, record: Record) -> None:
        """Add the record to the live table; log the new rows now and then."""
        if self.run is None or self._table is None or self._live_rows >= self._max_rows():
            return  # past W&B's row limit the records are in the artifact only
        with self._guard("W&B logging failed"):
            self._live_rows += 1
            self._table.add_data(*record_row(record, self._vars, self._metrics, self.redactor))
            self._pending += 1
            due = time.monotonic() - self._last_log >= self.every_seconds
            if self._pending >= self._rows_per_log or due:
                self._flush()

    def on_finish(self, info: RunInfo) -> None:
        """Log the rest: the last live rows, the complete tables, the summary, the files."""
        if self.run is None:
            return
        with self._guard("W&B logging failed"):
            if self._table is not None and self._pending:
                self._flush()
            self._log_final(info)  # and finishes the W&B run

    # -- internals -----------------------------------------------------------------------

    def _max_rows(self) -> int:
        # W&B keeps at most this many rows of a table (200,000 in wandb 0.31).
        limit: int = getattr(getattr(self._wandb, "Table", None), "MAX_ARTIFACT_ROWS", 200_000)
        return limit

    def _flush(self) -> None:
        self.run.log({LIVE_KEY: self._table})
        self._pending = 0
        self._last_log = time.monotonic()

    def _log_final(self, info: RunInfo) -> None:
        wandb = self._wandb
        assert wandb is not None
        meta = info.meta
        summary = Summary.of(iter_records(info.run_dir), self._metrics, meta.variants, meta.models)
        metrics = summary.metric_names  # now with the metrics that cases named
        table = wandb.Table(columns=record_columns(self._vars, metrics))
        limit = self._max_rows()
        for record in itertools.islice(iter_records(info.run_dir), limit):
            table.add_data(*record_row(record, self._vars, metrics, self.redactor))
        if summary.records > limit:
            self.warn(
                f"warning: the W&B tables hold the first {limit:,} of {summary.records:,} "
                "records (W&B's row limit); the run's artifact has all of them"
            )
        groups = wandb.Table(columns=summary_columns(summary), data=summary_rows(summary))
        tables = {RECORDS_KEY: table, SUMMARY_KEY: groups}
        probes = probe_report(iter_records(info.run_dir), probes=meta.suite.probes or None)
        if probes:
            from promptbench.report.probes import FIELDS, values

            rows = [list(values(r)) for r in probes.results]
            tables[ROBUSTNESS_KEY] = wandb.Table(columns=list(FIELDS), data=rows)
            self.run.summary.update(
                {
                    f"probe/{r.probe}/{r.variant}/{r.model}/{name}": figure(r, name)
                    for r in probes.results
                    for name in ("pdr", "flip_rate")
                }
            )
        self.run.log(tables)
        self.run.summary.update({**summary_values(summary), "run/status": info.status})
        with tempfile.TemporaryDirectory(prefix="promptbench-wandb-") as tmp:
            artifact = wandb.Artifact(
                f"promptbench-{info.run_id}",
                type=ARTIFACT_TYPE,
                description=f"records of promptbench run {info.run_id}",
                metadata={"run_id": info.run_id, "suite": meta.suite.name},
            )
            for path in self._artifact_files(info, summary, Path(tmp)):
                artifact.add_file(str(path), name=path.name)
            self.run.log_artifact(artifact)
            # The artifact's files are copied when it is logged; the run is finished
            # while the temporary directory still exists, to be sure.
            run, self.run = self.run, None
            run.finish(exit_code=0 if info.status == "finished" else 1)

    def _artifact_files(self, info: RunInfo, summary: Summary, tmp: Path) -> Iterator[Path]:
        from promptbench.report.csv_out import write_csv

        csv_path = tmp / "records.csv"
        write_csv(csv_path, iter_records(info.run_dir), self._vars, summary.metric_names)
        for path in (info.run_dir / "run.json", info.records_path, csv_path):
            yield self._redacted(path, tmp) if self.redactor else path

    def _redacted(self, path: Path, tmp: Path) -> Path:
        out = tmp / "redacted" / path.name
        out.parent.mkdir(exist_ok=True)
        with path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
            for line in src:
                dst.write(self.redactor.text(line))
        return out

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Keep the first W&B error as :attr:`error`; after it, log nothing more."""
        try:
            yield
        except Exception as exc:
            self._stop(what, exc)

    @property
    def failed(self) -> bool:
        """Whether W&B failed, so that logging stopped."""
        return self.error is not None

    def _stop(self, what: str, exc: Exception) -> None:
        run, self.run, self._table = self.run, None, None
        if self.error is None:
            line = str(failure(what, exc))
            if self._info is not None:
                again = (
                    f"send them later with: promptbench show {self._info.run_id} --wandb"
                    if self.live
                    else "run the same command again"
                )
                line += f"; the run's records are safe in {self._info.run_dir}: {again}"
            # W&B's message may quote a credential it was given; no key reaches stderr.
            self.error = InfrastructureError(self.redactor.text(line))
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish(exit_code=1)


def _location(run: Any) -> str | None:
    """Where the W&B run can be seen: its URL, or the offline directory to upload."""
    if str(run.settings.mode) == "disabled":
        return None
    if run.offline:  # run.url would only warn
        return f"{run.sync_dir} (offline; upload it with: wandb sync {run.sync_dir})"
    url: str | None = run.url
    return url


Table = tuple[list[str], list[list[Any]]]  # columns, rows


def log_tables(ref: Mapping[str, Any], tables: Mapping[str, Table]) -> str | None:
    """Log ``tables`` to the existing W&B run ``ref`` (``{id, project, entity}``).

    For ``rank --wandb`` and ``diff --wandb``: the tables go to the run they
    describe, resumed by its id. Returns where the run is; raises an
    InfrastructureError, naming the W&B directory and the fix, when W&B fails.
    """
    run = None
    try:
        wandb = import_wandb()
        run = wandb.init(
            id=ref["id"],
            project=ref.get("project"),
            entity=ref.get("entity"),
            resume="allow",
            reinit="create_new",
            settings=_settings(wandb),
        )
        run.log({key: wandb.Table(columns=c, data=d) for key, (c, d) in tables.items()})
        where = _location(run)
        run.finish()
        return where
    except Exception as exc:  # W&B's errors, many kinds: one line, exit code 4
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish(exit_code=1)
        raise failure(f"could not log to W&B run {ref.get('id')}", exc) from None


def export_run(info: RunInfo, target: WandbTarget, *, warn: Warn) -> WandbLogger:
    """Send a stored run to W&B without calling any model; the logger says how it went."""
    logger = WandbLogger(target, warn=warn, live=False)
    logger.on_start(info, 0)
    logger.on_finish(info)
    return logger
