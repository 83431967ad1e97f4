"""Markdown for a pull-request comment or ``$GITHUB_STEP_SUMMARY``.

GitHub-flavoured: pipe tables, ``<details>`` for the flipped cases' outputs, ``<del>`` and
``<ins>`` for the word diff. Text from models is escaped (HTML, and the characters
Markdown would read as formatting or table syntax). The whole stays under GitHub's
65,536-character limit for a comment: flipped cases are dropped first, with a note.
The first line is a marker (an HTML comment) by which a workflow finds its own
comment to update it rather than add another.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from promptbench.diff import DiffResult, PairResult, RegressionReport
from promptbench.diff.result import Flip
from promptbench.report.diff_terminal import (
    Only,
    coverage_line,
    fmt_delta,
    fmt_diff,
    fmt_mean,
    fmt_p,
    keep_flips,
    keep_metric,
    planning_line,
    tests_phrase,
)
from promptbench.report.worddiff import word_diff
from promptbench.stats import GateVerdict, RunOutcome
from promptbench.stats.probes import ProbeReport
from promptbench.stats.summary import Summary

MARKER = "<!-- promptbench-report -->"
MAX_CHARS = 60_000  # GitHub rejects comments over 65,536 characters
OUTPUT_CHARS = 800
OUTCOMES = {  # by value: an outcome added later still reads, as its value
    "passed": "✅ passed",
    "no_gate": "➖ no gate: nothing was checked",
    "gate_failed": "❌ gate failed",
    "too_many_errors": "⚠️ too many call errors for a verdict",
    "budget_exceeded": "⚠️ stopped at --max-cost before the end",
    "interrupted": "⚠️ interrupted",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def esc(text: str) -> str:
    """``text`` safe inside a Markdown table cell or paragraph: shown as written."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", "<br>")


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + " …"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def summary_table(summary: Summary) -> list[str]:
    """One row per variant × model, as the terminal table has them."""
    names = summary.metric_names
    head = ["variant", "model", "cases", "pass rate", *map(esc, names), "errors"]
    lines = [_row(head), _row(["---", "---", *["---:"] * (len(head) - 2)])]
    for g in summary.groups.values():
        means = []
        for n in names:
            m = g.metrics.get(n)
            means.append("—" if m is None or m.mean is None else f"{m.mean:.3f}")
        rate = "—" if g.pass_rate is None else f"{g.pass_rate:.1%}"
        lines.append(
            _row([esc(g.variant), esc(g.model), str(g.records), rate, *means, str(g.call_errors)])
        )
    return lines


def gate_lines(verdict: GateVerdict) -> list[str]:
    """The gate's checks as a list."""
    lines = []
    for c in verdict.checks:
        mark = "✅" if c.holds else "❌"
        actual = "—" if c.actual is None else f"{c.actual:.4g}"
        lines.append(f"- {mark} gate `{c.rule}` for {esc(c.variant)} × {esc(c.model)}: {actual}")
    if verdict.outcome is RunOutcome.TOO_MANY_ERRORS:
        lines.append(
            f"- ❌ too many call errors for a verdict: {verdict.error_rate:.1%} of calls failed "
            f"(the limit is {verdict.max_error_rate:.0%})"
        )
    return lines


def regression_lines(report: RegressionReport, what: str = "the baseline") -> list[str]:
    """The regression checks, failures first."""
    lines = [f"### Regressions against {what}", ""]
    if not report.checks:
        return [*lines, "Nothing to check: no metric was compared.", ""]
    if report.default_rules:
        lines += ["Every metric, margin 0 (no `gate.regression` rules in the suite).", ""]
    for c in sorted(report.checks, key=lambda c: not c.regressed):
        mark = "❌" if c.regressed else "✅"
        lines.append(
            f"- {mark} `{c.rule.metric}` (margin {c.rule.margin:g}) for {esc(c.pair)}: "
            f"{esc(c.reason)}"
        )
    return [*lines, ""]


def pair_table(pr: PairResult, only: Only | None) -> list[str]:
    """The comparison table of one pair."""
    rows = [m for m in pr.metrics if keep_metric(m, only)]
    if not rows:
        return []
    head = ["metric", "A", "B", "B − A [95% CI]", "p (Holm)", "verdict", "MDE", "n"]
    lines = [_row(head), _row(["---", "---:", "---:", "---:", "---:", "---", "---:", "---:"])]
    for m in rows:
        c = m.comparison
        verdict = f"**{c.verdict}**" if c.verdict in ("worse", "better") else c.verdict
        lines.append(
            _row(
                [
                    esc(c.name),
                    fmt_mean(c.name, c.mean_a),
                    fmt_mean(c.name, c.mean_b),
                    fmt_diff(m),
                    fmt_p(c.p_adjusted),
                    verdict,
                    fmt_delta(c.name, c.mde, sign=False),
                    str(c.n_paired),
                ]
            )
        )
    return lines


def word_diff_html(a: str, b: str) -> str:
    """The word diff with ``<del>`` and ``<ins>``."""
    tags = {"delete": "del", "insert": "ins"}
    parts = []
    for op, text in word_diff(a, b):
        tag = tags.get(op)
        parts.append(esc(text) if tag is None else f"<{tag}>{esc(text)}</{tag}>")
    return "".join(parts)


def flip_block(flip: Flip) -> list[str]:
    """One flipped case, folded: both outputs side by side and the word diff."""
    regression = flip.direction == "regression"
    arrow = "▼ pass → fail" if regression else "▲ fail → pass"
    change = "" if flip.score_change is None else f" (score change {flip.score_change:+.3f})"
    lines = [
        "<details>",
        f"<summary>{arrow}: <code>{html.escape(flip.case_id)}</code>{change}</summary>",
        "",
    ]
    reasons = flip.reasons_b if regression else flip.reasons_a
    side = "B" if regression else "A"
    lines += [f"- why {side} fails: {esc(n)}: {esc(r)}" for n, r in reasons.items()]
    a, b = _clip(flip.output_a), _clip(flip.output_b)
    lines += [
        "",
        _row(["A output", "B output"]),
        _row(["---", "---"]),
        _row([esc(a) if a is not None else "*(none)*", esc(b) if b is not None else "*(none)*"]),
        "",
    ]
    if a is not None and b is not None:
        lines += [f"word diff: {word_diff_html(a, b)}", ""]
    return [*lines, "</details>", ""]


def diff_sections(
    result: DiffResult, *, only: Only | None = None, limit: int = 10, budget: int = MAX_CHARS
) -> list[str]:
    """Every pair: table, coverage, planning figure and flips, within ``budget`` characters."""
    lines = [
        f"**A**: {esc(result.a.label)} ({result.a.kind} `{result.a.source}`) · "
        f"**B**: {esc(result.b.label)} ({result.b.kind} `{result.b.source}`)",
        "",
    ]
    for tag, groups in (("A", result.unmatched_a), ("B", result.unmatched_b)):
        if groups:
            lines += [f"Not compared, only in {tag}: {esc(', '.join(groups))}", ""]
    used = sum(len(x) + 1 for x in lines)
    for pr in result.pairs:
        part = [f"#### {esc(pr.pair.label)}", "", *pair_table(pr, only), ""]
        part += [esc(coverage_line(pr)), ""]
        plan = planning_line(pr, result)
        if plan and only is None:
            part += [esc(plan), ""]
        if pr.flaky and only is None:
            shown = ", ".join(
                f"`{html.escape(c.case_id)}` {c.passes_a}/{c.runs_a} → {c.passes_b}/{c.runs_b}"
                for c in pr.flaky[:20]
            )
            part += [f"Flaky (verdict changes across repeats): {shown}", ""]
        flips = keep_flips(pr, only)
        if flips:
            part += [
                f"Flipped: {len(pr.regressions)} pass → fail, {len(pr.improvements)} fail → pass",
                "",
            ]
        lines += part
        used += sum(len(x) + 1 for x in part)
        left = 0
        for i, flip in enumerate(flips[:limit]):
            block = flip_block(flip)
            size = sum(len(x) + 1 for x in block)
            if used + size > budget:
                left = len(flips[:limit]) - i
                break
            lines += block
            used += size
        hidden = left + max(0, len(flips) - limit)
        if hidden:
            lines += [f"… and {hidden} more flipped cases (run `promptbench diff` to see all).", ""]
    lines.append(
        f"{result.count('worse')} worse, {result.count('better')} better, "
        f"{result.count('no detectable difference')} no detectable difference "
        f"(Holm over {tests_phrase(result.family)} at alpha {result.alpha:g})."
    )
    return lines


def diff_markdown(
    result: DiffResult,
    regression: RegressionReport | None = None,
    *,
    only: Only | None = None,
    limit: int = 10,
) -> str:
    """A ``promptbench diff`` as Markdown."""
    lines = [MARKER, "## promptbench diff", ""]
    if regression is not None:
        lines += regression_lines(regression, "A")
    used = sum(len(x) + 1 for x in lines)
    lines += diff_sections(result, only=only, limit=limit, budget=MAX_CHARS - used)
    return "\n".join(lines) + "\n"


def run_markdown(
    *,
    title: str,
    summary: Summary,
    verdict: GateVerdict,
    diff: DiffResult | None = None,
    regression: RegressionReport | None = None,
    limit: int = 10,
    notes: Iterable[str] = (),
    probes: ProbeReport | None = None,
) -> str:
    """A run as Markdown: its table and gate, the robustness tables, then the baseline's diff."""
    value = verdict.outcome.value
    outcome = OUTCOMES.get(value, f"⚠️ {value.replace('_', ' ')}")
    if regression is not None and not regression.passed:
        outcome += " · ❌ regression against the baseline"
    lines = [MARKER, f"## {esc(title)}", "", f"**{outcome}**", "", *summary_table(summary), ""]
    if verdict.checks or verdict.outcome is RunOutcome.TOO_MANY_ERRORS:
        lines += [*gate_lines(verdict), ""]
    lines += [f"> ⚠️ {esc(note)}\n" for note in notes]
    if probes:
        from promptbench.report.probes import probes_markdown

        lines += [*probes_markdown(probes), ""]
    if regression is not None:
        lines += regression_lines(regression)
    if diff is not None:
        used = sum(len(x) + 1 for x in lines)
        lines += ["### Diff against the baseline", ""]
        lines += diff_sections(diff, limit=limit, budget=MAX_CHARS - used)
    return "\n".join(lines) + "\n"
