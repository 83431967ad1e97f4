"""``promptbench render``: show the prompts a run would send, without sending them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel

from promptbench.cli._common import JsonOpt, SuiteArg, out, user_errors


def render(
    suite_path: SuiteArg,
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="Only this variant (repeatable).")
    ] = None,
    case: Annotated[
        list[str] | None, typer.Option("--case", "-c", help="Only this case id (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many cases.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Render prompts for chosen cases; no model is called.

    Example: promptbench render suites/triage.yaml --variant guided --case 7
    """
    from promptbench.errors import UsageError
    from promptbench.runner.options import RunOptions
    from promptbench.runner.selection import select, selected_cases
    from promptbench.suite import load_suite
    from promptbench.types import Message

    with user_errors():
        suite = load_suite(suite_path)
        options = RunOptions(variants=variant, cases=case, limit=limit)
        variants, _ = select(suite, options)
        rendered: list[tuple[str, str, tuple[Message, ...]]] = []
        for c in selected_cases(suite, options):
            for name in variants:
                rendered.append((c.id, name, suite.variants[name].render(c)))
        if case and not rendered:
            raise UsageError(f"no case with id {', '.join(case)} in {suite.cases.origin}")
    if as_json:
        data = [
            {"case_id": cid, "variant": v, "messages": [m.to_json() for m in msgs]}
            for cid, v, msgs in rendered
        ]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for cid, v, msgs in rendered:
        body = "\n\n".join(f"[bold]{m.role}[/bold]\n{escape(m.content)}" for m in msgs)
        title = f"case {escape(cid)} · variant {escape(v)}"
        out.print(Panel(body, title=title, title_align="left"))
