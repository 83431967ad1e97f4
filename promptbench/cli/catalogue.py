"""``promptbench metrics`` and ``providers``: what is registered, built-in and plugin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from promptbench.cli._common import JsonOpt, out

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

COMMON_METRIC_FIELDS = ("name", "weight", "threshold", "turn", "target")


def _type(field: FieldInfo) -> str:
    text = str(field.annotation).replace("typing.", "")
    for noise in ("<class '", "'>"):
        text = text.replace(noise, "")
    return text


def _fields(model: type[BaseModel], skip: set[str]) -> list[dict[str, Any]]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        rows.append(
            {
                "name": name,
                "type": _type(field),
                "required": field.is_required(),
                "default": default,
                "description": field.description or "",
            }
        )
    return rows


def _origin(package: str) -> str:
    from promptbench.registry import BUILTIN_PACKAGE  # importlib.metadata: not for --help

    return "built-in" if package == BUILTIN_PACKAGE else package


def metrics(as_json: JsonOpt = False) -> None:
    """List every registered metric: what it checks, its parameters, an example.

    Every metric also takes name (its label), weight and threshold, and in a conversation
    turn (which turn it scores) and target (a tool call's arguments instead of the text).

    Example: promptbench metrics --json
    """
    from promptbench.metrics import metrics as registry

    items: list[dict[str, Any]] = []
    for name, definition, _ in registry.items():
        items.append(
            {
                "name": name,
                "summary": definition.summary,
                "params": _fields(definition.params, set(COMMON_METRIC_FIELDS)),
                "example": definition.example,
                "origin": _origin(registry.package(name)),
            }
        )
    # not_ is written around another metric, so it is suite syntax rather than a function.
    items.append(
        {
            "name": "not_",
            "summary": "the negation of any metric: passes when it fails, scores 1 - its score; "
            "an error stays an error",
            "params": [
                {
                    "name": "<metric>",
                    "type": "metric",
                    "required": True,
                    "default": None,
                    "description": "the metric to negate, written as in metrics:",
                }
            ],
            "example": "not_: {icontains: sorry}",
            "origin": "built-in",
        }
    )
    items.sort(key=lambda item: str(item["name"]))
    if as_json:
        print(json.dumps(items, indent=2, default=str))
        return
    table = Table(header_style="bold", show_lines=True)
    for col in ("metric", "checks", "parameters", "example"):
        table.add_column(col)
    for item in items:
        params = "\n".join(
            f"{p['name']}{'' if p['required'] else '=' + json.dumps(p['default'], default=str)}"
            + (f": {p['description']}" if p["description"] else "")
            for p in item["params"]
        )
        label = (
            item["name"] if item["origin"] == "built-in" else f"{item['name']} ({item['origin']})"
        )
        table.add_row(
            escape(label),
            escape(item["summary"]),
            escape(params or "—"),
            escape(f"- {item['example']}"),
        )
    out.print(table)
    out.print(
        "Every metric also takes name, weight and threshold; and turn (a conversation's "
        "turn, or all) and target ({tool, arg}: a tool call's arguments)."
    )
    for problem in registry.problems:
        out.print(f"[yellow]{escape(problem)}[/yellow]")


def providers(as_json: JsonOpt = False) -> None:
    """List every registered provider and the fields its model entries accept.

    Example: promptbench providers
    """
    from promptbench.config import ModelConfig
    from promptbench.providers import providers as registry

    common = set(ModelConfig.model_fields)
    items: list[dict[str, Any]] = []
    for name, definition, _ in registry.items():
        items.append(
            {
                "name": name,
                "summary": definition.summary,
                "fields": _fields(definition.config, common),
                "origin": _origin(registry.package(name)),
            }
        )
    if as_json:
        print(
            json.dumps({"common_fields": sorted(common), "providers": items}, indent=2, default=str)
        )
        return
    table = Table(header_style="bold", show_lines=True)
    for col in ("provider", "what", "its own fields"):
        table.add_column(col)
    for item in items:
        fields = "\n".join(f"{f['name']}: {f['description']}" for f in item["fields"])
        table.add_row(escape(item["name"]), escape(item["summary"]), escape(fields or "—"))
    out.print(table)
    out.print("Every model entry also takes: " + ", ".join(sorted(common)))
    for problem in registry.problems:
        out.print(f"[yellow]{escape(problem)}[/yellow]")
