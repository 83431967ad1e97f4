"""What promptbench sends to Weights & Biases, as plain data; wandb itself is not imported here.

Kept apart from :mod:`promptbench.report.wandb_out` so that the shape of the
config, the summary and the table rows can be read and tested without wandb,
and so that every value passes one place that keeps secrets out.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from promptbench.diff.rank import RankReport
from promptbench.errors import UsageError
from promptbench.runner.runmeta import ModelMeta, RunMeta
from promptbench.stats import Summary
from promptbench.suite.grid import parse_name
from promptbench.suite.schema import wandb_project_problem
from promptbench.types import Record, messages_text

# The table of records: fixed columns, then one per var, then two per metric.
RECORD_HEAD = ["case_id", "variant", "model", "repeat"]
RECORD_TAIL = [
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "cached",
    "error",
]


@dataclass(frozen=True)
class WandbTarget:
    """Where a run goes in W&B; ``name`` None means the promptbench run id."""

    project: str
    entity: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    name: str | None = None


def split_tags(values: Iterable[str] | None) -> list[str]:
    """``--wandb-tags a,b --wandb-tags c`` → ``[a, b, c]``, without blanks or repeats."""
    tags: dict[str, None] = {}
    for value in values or ():
        tags.update(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    return list(tags)


def resolve_target(
    suite_name: str,
    suite_spec: Mapping[str, Any] | None,
    *,
    project: str | None = None,
    entity: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | None = None,
    name: str | None = None,
) -> WandbTarget:
    """The command line over the suite's ``wandb:`` mapping, over the environment.

    The project is ``project`` when given (``""`` means "not given": a bare
    ``--wandb``), else the suite's, else ``$WANDB_PROJECT``, else the suite name.
    Tags from the command line are added to the suite's.
    """
    spec = suite_spec or {}
    chosen = (
        project
        or spec.get("project")
        or os.environ.get("WANDB_PROJECT")
        or _project_from_name(suite_name)
    )
    problem = wandb_project_problem(chosen)
    if problem:
        raise UsageError(f"{problem}: '{chosen}'; choose another with --wandb PROJECT")
    return WandbTarget(
        project=chosen,
        entity=entity or spec.get("entity"),
        group=group or spec.get("group"),
        tags=tuple(split_tags([*spec.get("tags", ()), *(tags or ())])),
        name=name or spec.get("name"),
    )


def _project_from_name(suite_name: str) -> str:
    # A suite's name may hold characters W&B refuses in a project name.
    cleaned = re.sub(r"[/\\#?%:]+", "-", suite_name).strip("-")[:128]
    return cleaned or "promptbench"


# Environment variables whose values are credentials, by the usual naming.
_SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)(_|$)", re.IGNORECASE
)
_MIN_SECRET = 8  # shorter values would redact ordinary words


class Redactor:
    """Replaces known secret values in everything sent to W&B.

    promptbench never writes keys into a run, so this should never fire; it is
    the second lock, for keys that reach a record some other way (a var that
    holds one, an output that echoes one).
    """

    MASK = "[redacted]"

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found = {s.strip() for s in secrets if s and len(s.strip()) >= _MIN_SECRET}
        # Longest first, so that a key containing another is masked whole.
        self.secrets = sorted(found, key=len, reverse=True)

    @classmethod
    def from_environment(
        cls, env_names: Iterable[str] = (), files: Iterable[Path] = ()
    ) -> Redactor:
        """Secrets from variables named like credentials, the named ones, and key files."""
        names = {n for n in os.environ if _SECRET_NAME.search(n)} | set(env_names)
        values = [os.environ.get(n, "") for n in names]
        for path in files:
            try:
                values.append(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue  # the run could not read it either
        return cls(values)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def text(self, s: str) -> str:
        """``s`` with every secret masked."""
        for secret in self.secrets:
            if secret in s:
                s = s.replace(secret, self.MASK)
        return s

    def value(self, v: Any) -> Any:
        """A JSON-like value with every string masked."""
        if not self.secrets:
            return v
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, Mapping):
            return {self.text(str(k)): self.value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        return v


def _text(value: Any) -> str | None:
    """A table cell for a value of any type: strings as they are, the rest as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def prompt_text(record: Record) -> str:
    """The rendered messages as one text, as the CSV export writes them."""
    return messages_text(record.transcript or record.messages)


def record_columns(var_names: list[str], metric_names: list[str]) -> list[str]:
    """The columns of the records table."""
    return [
        *RECORD_HEAD,
        *(f"var.{v}" for v in var_names),
        "expected",
        "prompt",
        "output",
        "passed",
        *(c for m in metric_names for c in (f"score.{m}", f"pass.{m}")),
        *RECORD_TAIL,
    ]


def record_row(
    record: Record, var_names: list[str], metric_names: list[str], redact: Redactor
) -> list[Any]:
    """One row of the records table, in the order of :func:`record_columns`.

    Vars and ``expected`` are text (JSON for non-strings) so that a column never
    mixes types, which W&B would reject half-way through a run.
    """
    row: list[Any] = [record.case_id, record.variant, record.model, record.repeat]
    row += [_text(record.vars.get(v)) for v in var_names]
    row += [_text(record.expected), prompt_text(record), record.output, record.passed]
    for m in metric_names:
        s = record.scores.get(m)
        if s is None or s.error is not None:
            row += [None, None]
        else:
            row += [s.value, s.passed]
    row += [
        record.latency_ms,
        record.usage.prompt_tokens,
        record.usage.completion_tokens,
        record.usage.total_tokens,
        record.cost,
        record.cached,
        f"{record.error.kind}: {record.error.message}" if record.error else None,
    ]
    return [redact.text(x) if isinstance(x, str) else x for x in row]


def _safe_url(url: str) -> str:
    # A base_url may carry credentials (https://user:key@host/v1?api_key=...); keep
    # scheme, host, port and path only.
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _safe_model(meta: ModelMeta) -> dict[str, Any]:
    # Field by field from what run.json holds: a field added there later is not sent
    # to W&B until it is listed here.
    out: dict[str, Any] = {"provider": meta.provider, "model": meta.model}
    if meta.base_url:
        out["base_url"] = _safe_url(meta.base_url)
    out["params"] = dict(meta.params)
    out["price"] = meta.price
    return out


def run_config(meta: RunMeta, redact: Redactor) -> dict[str, Any]:
    """The W&B run config: suite, variants' templates, models and their params, git."""
    suite = meta.suite
    options = meta.options.to_json()
    config = {
        "promptbench_run_id": meta.run_id,
        "promptbench_version": meta.promptbench,
        "suite": {
            "name": suite.name,
            "hash": suite.hash,
            "description": suite.description,
            "cases": suite.cases,
            "metrics": list(suite.metrics),
            "gate": [str(rule) for rule in suite.gate_rules()],  # as `show` prints them
        },
        "variants": dict(meta.variants),
        "models": {name: _safe_model(m) for name, m in meta.models.items()},
        "repeat": meta.options.repeat or suite.repeat,
        "filters": {
            k: options[k] for k in ("variants", "models", "cases", "limit") if k in options
        },
        "use_cache": meta.options.use_cache,
        "git_commit": meta.git.commit if meta.git else None,
        "git_dirty": meta.git.dirty if meta.git else None,
        "grid": grid_config(meta.variants, meta.models),
    }
    redacted: dict[str, Any] = redact.value(config)
    return redacted


def _group_figures(summary: Summary) -> Iterator[tuple[str, dict[str, Any]]]:
    for g in summary.groups.values():
        figures: dict[str, Any] = {
            "records": g.records,
            "pass_rate": g.pass_rate,
        }
        for name in summary.metric_names:
            m = g.metrics.get(name)
            figures[f"score.{name}"] = m.mean if m else None
            figures[f"pass.{name}"] = m.pass_rate if m else None
        figures.update(
            {
                "errors": g.call_errors,
                "error_rate": g.error_rate,
                "latency_p50_ms": g.latency(0.5),
                "latency_p95_ms": g.latency(0.95),
                "prompt_tokens": g.prompt_tokens,
                "completion_tokens": g.completion_tokens,
                "tokens": g.tokens,
                "cost": g.cost,
                "cached": g.cached,
            }
        )
        yield f"{g.variant}/{g.model}", figures


def summary_values(summary: Summary) -> dict[str, Any]:
    """Flat run-summary keys such as ``guided/tiny/pass_rate``; unknown figures are left out."""
    # "run/...": a bare "records" would replace the records table's entry in the summary.
    out: dict[str, Any] = {
        "run/records": summary.records,
        "run/errors": summary.call_errors,
        "run/error_rate": summary.error_rate,
    }
    for prefix, figures in _group_figures(summary):
        out.update({f"{prefix}/{k}": v for k, v in figures.items() if v is not None})
    return out


def grid_params(variant: str, model: str) -> dict[str, Any]:
    """The grid parameters a variant × model's names carry (``mini[temperature=0.7]``)."""
    out: dict[str, Any] = {}
    for name in (model, variant):
        point = parse_name(name)
        if point is not None:
            out.update(point.as_dict())
    return out


def _param_columns(summary: Summary) -> list[str]:
    names: dict[str, None] = {}
    for variant, model in summary.groups:
        names.update(dict.fromkeys(grid_params(variant, model)))
    return list(names)


def summary_columns(summary: Summary) -> list[str]:
    """The columns of the per variant × model table: names, grid parameters, figures.

    A grid's parameters are columns of their own, so that W&B's parallel-coordinates
    and scatter panels can set them against the figures.
    """
    first = next(_group_figures(summary), None)
    keys = list(first[1]) if first else ["records", "pass_rate"]
    params = [p if p not in keys else f"param.{p}" for p in _param_columns(summary)]
    return ["variant", "model", *params, *keys]


def summary_rows(summary: Summary) -> list[list[Any]]:
    """One row per variant × model, in the order of :func:`summary_columns`."""
    params = _param_columns(summary)
    rows = []
    for (variant, model), (_, figures) in zip(summary.groups, _group_figures(summary), strict=True):
        values = grid_params(variant, model)
        rows.append([variant, model, *(values.get(p) for p in params), *figures.values()])
    return rows


def grid_config(variants: Iterable[str], models: Iterable[str]) -> dict[str, Any]:
    """The run config's ``grid``: each gridded model's and variant's parameters."""
    out: dict[str, Any] = {}
    for kind, names in (("models", models), ("variants", variants)):
        points = {n: p.as_dict() for n in names if (p := parse_name(n)) is not None}
        if points:
            out[kind] = points
            keys: dict[str, list[Any]] = {}
            for params in points.values():
                for k, v in params.items():
                    if v not in keys.setdefault(k, []):
                        keys[k].append(v)
            out.setdefault("values", {}).update(keys)
    return out


def rank_table(report: RankReport) -> tuple[list[str], list[list[Any]]]:
    """``rank --wandb``'s table: one row per setting, best first, grid parameters as columns."""
    params: dict[str, None] = {}
    for row in report.rows:
        params.update(dict.fromkeys(row.params))
    columns = [
        "rank", "setting", "variant", "model", *params, "mean", "ci_low", "ci_high", "gap",
        "gap_low", "gap_high", "mcs_p", "as_good_as_best", "cheapest_in_set", "cost_per_call",
        "latency_p50_ms",
    ]  # fmt: skip
    cheapest = report.cheapest_best
    rows = []
    for row in report.rows:
        r = row.ranked
        rows.append(
            [
                r.rank, r.setting, row.variant, row.model,
                *(row.params.get(p) for p in params),
                r.mean, r.ci_low, r.ci_high, r.gap, r.gap_low, r.gap_high, r.p_value,
                r.in_best_set, row is cheapest, row.cost_per_call, row.latency_p50_ms,
            ]
        )  # fmt: skip
    return columns, rows


DIFF_FIGURES = (
    "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict",
    "n_paired", "mde",
)  # fmt: skip


def diff_table(diff_json: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """``diff --wandb``'s table: one row per pair × metric, from the diff's JSON."""
    columns = ["pair", "metric", *DIFF_FIGURES]
    rows = []
    for pair in diff_json.get("pairs") or []:
        label = (pair.get("pair") or {}).get("label") or pair.get("label")
        for m in pair.get("metrics") or []:
            c = m.get("comparison", m)
            rows.append([label, c.get("name"), *(c.get(k) for k in DIFF_FIGURES)])
    return columns, rows
