"""``run.json``: a run's metadata as one versioned model, and the only code that reads or writes it.

Every reader (``show``, ``runs``, ``diff``, ``merge``, the reports, W&B, the Python API)
goes through :class:`RunMeta`; nothing else opens ``run.json`` or reaches into it as a
dict. It lives in the runner, the layer that writes it; the layers above (stats' run
verdict, stored runs, diff, reports) read it from here.

The rules of the format:

* ``schema_version`` says how to read the file. It is bumped only when a field changes
  type or meaning, so that an older reader would misread it; adding a field does not bump
  it. A file without one was written before the field existed (promptbench 0.x up to the
  typed record) and is read as version 1: its gate rules are strings ("exact >= 0.9"),
  which are parsed here once. A file of a newer version than this module knows is refused
  with a message saying to upgrade.
* Unknown keys are tolerated and kept (``extra="allow"``): ``run.json`` is written by
  promptbench, not by users, and a newer promptbench may add fields that an older one
  should neither choke on nor drop when it takes the run up again. What users write
  (suites, options, the command line) is the opposite: it forbids unknown keys
  (:class:`~promptbench.config.StrictModel`).
* No API key is ever written: a model's entry is built field by field from what is safe
  to show (:func:`model_meta`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptbench.config import ModelConfig
from promptbench.errors import RunStoreError
from promptbench.suite.metricspec import GATE_OPS, GateRule
from promptbench.suite.regression import RegressionRule

RUN_FILE = "run.json"
SCHEMA_VERSION = 2  # 2: gate rules stored as {metric, op, threshold, text}
_EPOCH = datetime.min.replace(tzinfo=UTC)

RunStatus = Literal["running", "finished", "interrupted", "failed", "stopped_at_budget"]


class _Stored(BaseModel):
    """Written by promptbench: unknown keys (a newer version's) are read and kept."""

    model_config = ConfigDict(extra="allow")


class GateRuleMeta(_Stored):
    """One gate rule, structurally, so that it reads back exactly as the suite had it."""

    metric: str
    op: str
    threshold: float
    text: str = ""  # as the suite wrote it, such as ">= 90%"

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value not in GATE_OPS:
            raise ValueError(f"unknown comparison {value!r}")
        return value

    @classmethod
    def of(cls, rule: GateRule) -> GateRuleMeta:
        """The stored form of a suite's rule."""
        return cls(metric=rule.metric, op=rule.op, threshold=rule.value, text=rule.text)

    def rule(self) -> GateRule:
        """The rule, as the suite parsed it."""
        text = self.text or f"{self.op} {self.threshold!r}"
        return GateRule(self.metric, self.op, self.threshold, text)


class RegressionRuleMeta(_Stored):
    """One ``gate.regression`` rule."""

    metric: str
    margin: float = 0.0

    def rule(self) -> RegressionRule:
        """The rule, as the suite parsed it."""
        return RegressionRule(self.metric, self.margin)


class SuiteMeta(_Stored):
    """What the run recorded about its suite, as it was when the run started."""

    name: str = ""
    description: str = ""
    path: str = ""
    hash: str = ""
    cases: str = ""  # where the cases came from
    repeat: int = 1
    metrics: list[str] = Field(default_factory=list)
    gate: list[GateRuleMeta] = Field(default_factory=list)
    regression: list[RegressionRuleMeta] = Field(default_factory=list)
    max_error_rate: float = 0.1  # so that `show` gives the run's verdict
    variables: list[str] = Field(default_factory=list)
    wandb: dict[str, Any] | None = None  # `show --wandb` defaults
    probes: dict[str, str] = Field(default_factory=dict)  # the suite's probes: name -> kind

    @field_validator("gate", mode="before")
    @classmethod
    def _landed_gate(cls, value: Any) -> Any:
        # Version 1 wrote "metric op value" strings, the value with six significant digits.
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if isinstance(item, str):
                metric, op, number = item.rsplit(maxsplit=2)
                out.append({"metric": metric, "op": op, "threshold": float(number)})
                out[-1]["text"] = f"{op} {number}"
            else:
                out.append(item)
        return out

    def gate_rules(self) -> list[GateRule]:
        """The gate as the suite had it when the run started."""
        return [g.rule() for g in self.gate]

    def regression_rules(self) -> list[RegressionRule]:
        """The ``gate.regression`` rules, as recorded."""
        return [r.rule() for r in self.regression]


class ModelMeta(_Stored):
    """A model as a run records it: never its key, nor where the key lives."""

    provider: str = ""
    model: str | None = None
    base_url: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    price: dict[str, float] | None = None


class GitMeta(_Stored):
    """The commit of the repository holding the suite, and whether it had changes."""

    commit: str | None = None
    dirty: bool | None = None


class Counts(_Stored):
    """How many records the run wrote, and how many were errors, cache hits and retries."""

    records: int = 0
    errors: int = 0
    cached: int = 0
    retries: int = 0


class GroupCounts(_Stored):
    """One variant × model's tallies, so that a run is listed without reading its records.

    As :class:`promptbench.stats.Summary` counts them: a failed call is an error, never
    a fail; the pass rate is passed / (passed + failed); the cost is None when no call
    that answered had a known price.
    """

    variant: str
    model: str
    records: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    cost_total: float = 0.0
    cost_known: int = 0  # answered calls with a known price

    def add(self, error: bool, passed: bool | None, cost: float | None) -> None:
        """Count one record in."""
        self.records += 1
        if error:
            self.errors += 1
            return
        if passed is True:
            self.passed += 1
        elif passed is False:
            self.failed += 1
        if cost is not None:
            self.cost_total += cost
            self.cost_known += 1

    @property
    def pass_rate(self) -> float | None:
        """Passed among the records with a verdict."""
        judged = self.passed + self.failed
        return self.passed / judged if judged else None

    @property
    def cost(self) -> float | None:
        """USD spent, None when no answered call had a known price."""
        return self.cost_total if self.cost_known else None


class BudgetMeta(_Stored):
    """``--max-cost``: the limit, what was spent, and the calls not made."""

    limit: float
    spent: float
    exhausted: bool
    not_run: int


class OptionsMeta(_Stored):
    """The run options that were set (RunOptions, without the unset ones)."""

    variants: list[str] | None = None
    models: list[str] | None = None
    cases: list[str] | None = None
    limit: int | None = None
    repeat: int | None = None
    shard: tuple[int, int] | None = None
    order_seed: int | None = None  # run --sequential: the seeded random order of the cases
    max_error_rate: float | None = None
    max_cost: float | None = None
    use_cache: bool = True
    probes: list[str] | None = None  # --probe (and [] for --no-probes)
    probes_only: bool = False

    def selection(self) -> dict[str, Any]:
        """The options that select work: what makes two runs the same job."""
        chosen = {
            k: getattr(self, k) for k in ("variants", "models", "cases", "limit", "repeat", "shard")
        }
        if self.probes is not None:  # only then: older runs keep their keys
            chosen["probes"] = self.probes
        return chosen

    def without_shard(self) -> dict[str, Any]:
        """Every option set but the shard, as written."""
        data = self.to_json()
        data.pop("shard", None)
        return data

    def to_json(self) -> dict[str, Any]:
        """The options as written to run.json: the ones that were set, only."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return data


# Written only when they hold something: a run that was never resumed, merged or
# budgeted has no such key, as before there was a model.
_OMIT_WHEN_EMPTY = (
    "groups",
    "budget",
    "resumed_at",
    "merged_from",
    "merged_at",
    "stopped_early",
    "sequential",
    "wandb_run",
)


class SequentialMeta(_Stored):
    """``run --sequential``: the anytime-valid verdict, how many cases it took, and why."""

    method: str = ""
    alpha: float = 0.05
    verdict: str = ""  # "regression", "no regression", or "no regression shown"
    settled: bool = False
    cases_needed: int | None = None  # complete cases when the verdict was settled
    cases_run: int = 0
    cases_available: int | None = None
    stopped_because: str = ""
    checks: list[dict[str, Any]] = Field(default_factory=list)  # per rule × group


class WandbRunMeta(_Stored):
    """The W&B run a run was logged to: where rank/diff --wandb add their tables."""

    id: str
    project: str | None = None
    entity: str | None = None


class RunMeta(_Stored):
    """Everything ``run.json`` holds about a run."""

    schema_version: int = 1  # a file without one was written before the field existed
    run_id: str = ""
    status: RunStatus = "running"
    started_at: str | None = None  # ISO 8601 with microseconds, UTC
    finished_at: str | None = None
    wall_seconds: float | None = None
    suite: SuiteMeta = Field(default_factory=SuiteMeta)
    variants: dict[str, str] = Field(default_factory=dict)  # name: the templates as written
    models: dict[str, ModelMeta] = Field(default_factory=dict)
    options: OptionsMeta = Field(default_factory=OptionsMeta)
    git: GitMeta | None = None
    promptbench: str | None = None  # the version that wrote the run
    python: str | None = None
    command: list[str] | None = None  # the command line, when the CLI ran it
    counts: Counts = Field(default_factory=Counts)
    # Per variant × model, written when the run ends (runs from before it: None, and
    # `promptbench runs` shows no pass rate for them rather than read their records).
    groups: list[GroupCounts] | None = None
    resume_key: str | None = None
    pid: int | None = None
    host: str | None = None
    resumed_at: list[str] = Field(default_factory=list)
    budget: BudgetMeta | None = None
    merged_from: list[str] | None = None
    merged_at: str | None = None
    stopped_early: str | None = None  # why the run stopped before its last case
    sequential: SequentialMeta | None = None
    wandb_run: WandbRunMeta | None = None

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {value} is newer than this promptbench reads "
                f"({SCHEMA_VERSION}); upgrade promptbench to open this run"
            )
        return value

    @property
    def started(self) -> datetime:
        """When the run started (UTC); the epoch when unknown, so that it sorts last."""
        try:
            when = datetime.fromisoformat(str(self.started_at))
        except ValueError:
            return _EPOCH
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    @property
    def max_error_rate(self) -> float:
        """The share of failed calls above which the run gives no verdict on its gates."""
        limit = self.options.max_error_rate
        return self.suite.max_error_rate if limit is None else limit

    def to_json(self) -> dict[str, Any]:
        """The metadata as written to ``run.json`` (also ``load_run(...).attrs["run"]``)."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data["schema_version"] = SCHEMA_VERSION
        data["options"] = self.options.to_json()
        for model in data["models"].values():
            if model.get("base_url") is None:
                model.pop("base_url", None)  # only a model with a server has one
        for key in _OMIT_WHEN_EMPTY:
            if not data.get(key):
                data.pop(key, None)
        if not data["suite"].get("probes"):  # a suite without probes: as before there were any
            data["suite"].pop("probes", None)
        return data


def model_meta(config: ModelConfig) -> ModelMeta:
    """What a run records about a model: never its key, nor where the key lives."""
    price = config.effective_price()
    return ModelMeta(
        provider=config.provider,
        model=config.model,
        base_url=getattr(config, "base_url", None) or None,
        params=config.sampling_params(),
        price=price.model_dump() if price else None,
    )


def parse_meta(data: Any, where: Path) -> RunMeta:
    """Validate what ``run.json`` holds; a RunStoreError names the file and the field."""
    if not isinstance(data, dict):
        raise RunStoreError(f"{where}: unreadable: not a JSON object")
    try:
        return RunMeta.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "run.json"
        raise RunStoreError(f"{where}: unreadable: {field}: {first['msg']}") from None
    except ValueError as exc:  # a version-1 gate rule that is not "metric op value"
        raise RunStoreError(f"{where}: unreadable: {exc}") from None


def read_meta(run_dir: Path) -> RunMeta:
    """Read a run's ``run.json``."""
    path = run_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunStoreError(f"{run_dir}: not a promptbench run (no {RUN_FILE})") from None
    except (OSError, ValueError) as exc:
        raise RunStoreError(f"{path}: unreadable: {exc}") from None
    return parse_meta(data, path)


def write_meta(run_dir: Path, meta: RunMeta) -> None:
    """Write ``run.json`` atomically: a reader never sees half a file."""
    path = run_dir / RUN_FILE
    tmp = path.with_suffix(".json.tmp")
    text = json.dumps(meta.to_json(), indent=2, ensure_ascii=False)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
