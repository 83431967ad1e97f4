"""``promptbench render``: show the prompts a run would send, without sending them."""

from __future__ import annotations

import json
from typing import Annotated, Any

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

    A conversation shows its later user turns, its tools and its simulated user too.

    Example: promptbench render suites/triage.yaml --variant guided --case 7
    """
    from promptbench.errors import UsageError
    from promptbench.runner.options import RunOptions
    from promptbench.runner.selection import select, selected_cases
    from promptbench.suite import load_suite
    from promptbench.suite.model import Conversation
    from promptbench.types import Message

    with user_errors():
        suite = load_suite(suite_path)
        options = RunOptions(variants=variant, cases=case, limit=limit)
        variants, _ = select(suite, options)
        rendered: list[tuple[str, str, tuple[Message, ...], Conversation]] = []
        for c in selected_cases(suite, options):
            for name in variants:
                chosen = suite.variants[name]
                rendered.append((c.id, name, chosen.render(c), suite.conversation(chosen, c)))
        if case and not rendered:
            raise UsageError(f"no case with id {', '.join(case)} in {suite.cases.origin}")
    if as_json:
        data = []
        for cid, v, msgs, conv in rendered:
            entry: dict[str, Any] = {
                "case_id": cid,
                "variant": v,
                "messages": [m.to_json() for m in msgs],
            }
            if conv.turns:
                entry["turns"] = list(conv.turns)
            if conv.user is not None:
                sim = conv.user
                entry["user"] = {
                    "model": sim.model,
                    "persona": sim.persona,
                    "goal": sim.goal,
                    "max_turns": sim.max_turns,
                }
            if conv.tools is not None:
                entry["tools"] = conv.tools.params()
            data.append(entry)
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for cid, v, msgs, conv in rendered:
        parts = []
        for m in msgs:
            images = "".join(f"\n[dim]\\[image {escape(i.shown)}][/dim]" for i in m.images)
            parts.append(f"[bold]{m.role}[/bold]\n{escape(m.content)}{images}")
        first = 2 if conv.opens else 1
        parts += [
            f"[bold]user, turn {i}[/bold]\n{escape(t)}" for i, t in enumerate(conv.turns, first)
        ]
        if conv.user is not None:
            sim = conv.user
            parts.append(
                f"[bold]simulated user[/bold] ({escape(sim.model)}, up to {sim.max_turns} turns)"
                f"\n{escape(sim.persona)}; goal: {escape(sim.goal)}"
            )
        if conv.tools is not None:
            names = ", ".join(conv.tools.names)
            parts.append(
                f"[bold]tools[/bold] {escape(names)} (at most {conv.tools.max_steps} "
                f"call{'' if conv.tools.max_steps == 1 else 's'} per turn)"
            )
        title = f"case {escape(cid)} · variant {escape(v)}"
        out.print(Panel("\n\n".join(parts), title=title, title_align="left"))
