"""JUnit XML for CI: one testcase per case × variant × model (× repeat), the gates apart.

The shape is the common one that GitHub test reporters, GitLab and Jenkins read: a
``<testsuites>`` root with totals, a ``<testsuite>`` per variant × model group (and
one for the gate, one for the regression checks against a baseline), ``<testcase
name classname time>`` with at most one child: ``<failure>`` (the failing metrics'
reasons), ``<error>`` (the call failed, or a metric could not judge) or ``<skipped>``
(no metric applies). Text that XML 1.0 cannot carry (control characters a model may
emit) is dropped rather than producing a file no parser reads.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from promptbench.diff import DiffResult, RegressionReport
from promptbench.diff.pairing import natural_key
from promptbench.stats import GateVerdict, RunOutcome
from promptbench.stats.probes import ProbeReport
from promptbench.types import Record

_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_CHARS = 1000  # of a failure message attribute; the element text holds the rest
OUTPUT_CHARS = 4000


def clean(text: str, limit: int | None = None) -> str:
    """``text`` without characters XML 1.0 forbids, cut to ``limit``."""
    text = _INVALID_XML.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + " …"
    return text


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=clean(name))


def _case(suite: ET.Element, name: str, classname: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", name=clean(name), classname=clean(classname), time=f"{seconds:.3f}"
    )


def _child(case: ET.Element, tag: str, message: str, kind: str, text: str = "") -> None:
    el = ET.SubElement(case, tag, message=clean(message, MESSAGE_CHARS), type=clean(kind))
    if text:
        el.text = clean(text)


def _record_case(suite: ET.Element, r: Record, classname: str, repeats: int) -> None:
    name = r.case_id if repeats <= 1 else f"{r.case_id} (repeat {r.repeat + 1})"
    case = _case(suite, name, classname, (r.latency_ms or 0.0) / 1000.0)
    output = "" if r.output is None else clean(r.output, OUTPUT_CHARS)
    if r.error is not None:
        _child(case, "error", f"{r.error.kind}: {r.error.message}", r.error.kind)
        return
    verdict = r.verdict
    if verdict is None:
        ET.SubElement(case, "skipped", message="no metric applies to this case")
        return
    broken = {n: s.error or "error" for n, s in r.scores.items() if s.verdict == "error"}
    if verdict == "error":
        message = "; ".join(f"{n}: {e}" for n, e in broken.items()) or "no verdict"
        _child(case, "error", message, "metric_error", f"output:\n{output}")
        return
    if verdict == "fail":
        failing = {n: s for n, s in r.scores.items() if s.verdict == "fail"}
        reasons = [f"{n}: {s.reason or 'failed'}" for n, s in failing.items()]
        reasons += [f"{n}: error: {e}" for n, e in broken.items()]
        message = "; ".join(reasons) or "the case's weighted score is below its threshold"
        text = "\n".join(reasons) + f"\n\noutput:\n{output}"
        _child(case, "failure", message, ",".join(failing) or "threshold", text)


def _gate_suite(root: ET.Element, suite_name: str, verdict: GateVerdict) -> None:
    suite = _suite(root, f"{suite_name} · gate")
    for c in verdict.checks:
        case = _case(suite, f"{c.rule} for {c.variant} × {c.model}", f"{suite_name}.gate")
        if not c.holds:
            actual = "unknown" if c.actual is None else f"{c.actual:.4g}"
            _child(case, "failure", f"{c.rule.metric} is {actual}; the gate needs {c.rule}", "gate")
    if verdict.outcome is RunOutcome.TOO_MANY_ERRORS:
        case = _case(suite, "call errors within max_error_rate", f"{suite_name}.gate")
        _child(
            case,
            "error",
            f"{verdict.error_rate:.1%} of calls failed; the limit is {verdict.max_error_rate:.0%}",
            "too_many_errors",
        )
    elif verdict.outcome is RunOutcome.NO_GATE:
        # Skipped, not passed: a CI page must not show a green gate that checked nothing.
        case = _case(suite, "gate", f"{suite_name}.gate")
        ET.SubElement(case, "skipped", message="the suite has no gate: nothing was checked")
    elif verdict.outcome not in (RunOutcome.PASSED, RunOutcome.GATE_FAILED):
        # Any other way the run ended without a verdict (a budget, an interruption).
        case = _case(suite, "the run finished", f"{suite_name}.gate")
        value = verdict.outcome.value
        _child(case, "error", f"the run ended as {value.replace('_', ' ')}", value)


def _regression_suite(root: ET.Element, name: str, report: RegressionReport) -> None:
    suite = _suite(root, f"{name} · regression")
    for c in report.checks:
        case = _case(suite, f"{c.rule.metric} (margin {c.rule.margin:g}) for {c.pair}", name)
        if c.regressed:
            _child(case, "failure", c.reason, "regression")


def _totals(root: ET.Element) -> ET.Element:
    """Fill in the counts every reader wants, per suite and for the whole file."""
    grand = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    grand_time = 0.0
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        seconds = sum(float(c.get("time", "0")) for c in cases)
        for key, n in counts.items():
            suite.set(key, str(n))
            grand[key] += n
        suite.set("time", f"{seconds:.3f}")
        grand_time += seconds
    # The root takes tests, failures and errors only: the schema most readers follow
    # (Jenkins' junit-10.xsd) has no "skipped" on <testsuites>.
    for key in ("tests", "failures", "errors"):
        root.set(key, str(grand[key]))
    root.set("time", f"{grand_time:.3f}")
    return root


def run_junit(
    records: Iterable[Record],
    *,
    suite_name: str,
    repeats: int = 1,
    verdict: GateVerdict | None = None,
    regression: RegressionReport | None = None,
    groups: Iterable[tuple[str, str]] = (),
    probes: ProbeReport | None = None,
) -> ET.Element:
    """A run as JUnit: a testsuite per variant × model, then the gate and the regressions.

    Records arrive in the order their calls finished; the file lists groups in
    ``groups`` order (the suite's, then any other) and cases by id and repeat, so
    that two runs of a suite give files that compare line by line.
    """
    root = ET.Element("testsuites", name=clean(suite_name))
    by_group: dict[tuple[str, str], list[Record]] = {g: [] for g in groups}
    for r in records:
        by_group.setdefault((r.variant, r.model), []).append(r)
    for (variant, model), recs in by_group.items():
        if not recs:
            continue
        suite = _suite(root, f"{suite_name} · {variant} × {model}")
        for r in sorted(recs, key=lambda r: (natural_key(r.case_id), r.repeat)):
            _record_case(suite, r, f"{suite_name}.{variant}.{model}", repeats)
    if verdict is not None and (verdict.checks or verdict.outcome is not RunOutcome.PASSED):
        _gate_suite(root, suite_name, verdict)
    if regression is not None:
        _regression_suite(root, suite_name, regression)
    if probes:
        _probe_suite(root, suite_name, probes)
    return _totals(root)


def _probe_suite(root: ET.Element, suite_name: str, report: ProbeReport) -> None:
    """A testcase per probe × variant × model; its figures as properties and text.

    A sensitive probe is a finding, not a failure: what fails CI is a probe's gate
    (``probe.typos.pdr``), reported with the gate's checks.
    """
    from promptbench.report.probes import COLUMNS, cells

    suite = _suite(root, f"{suite_name} · robustness")
    for r in report.results:
        case = _case(suite, f"{r.probe} · {r.variant} × {r.model}", f"{suite_name}.probes")
        row = cells(r)
        props = ET.SubElement(case, "properties")
        for col in COLUMNS:
            ET.SubElement(props, "property", name=clean(col), value=clean(row[col]))
        out = ET.SubElement(case, "system-out")
        out.text = clean("; ".join(f"{c}: {row[c]}" for c in COLUMNS))


def diff_junit(result: DiffResult, regression: RegressionReport | None = None) -> ET.Element:
    """A diff as JUnit: one testcase per metric per pair; failing is what the gate fails on.

    With a regression report, a testcase fails where a regression check failed; without
    one, where the metric's verdict is "worse".
    """
    name = f"diff {result.a.label} → {result.b.label}"
    root = ET.Element("testsuites", name=clean(name))
    for pr in result.pairs:
        suite = _suite(root, pr.pair.label)
        for m in pr.metrics:
            c = m.comparison
            case = _case(suite, c.name, f"diff.{pr.pair.label}")
            if regression is None and c.verdict == "worse":
                _child(
                    case, "failure", f"B − A = {c.diff:+.4f}, p (Holm) = {c.p_adjusted}", "worse"
                )
    if regression is not None:
        _regression_suite(root, name, regression)
    return _totals(root)


def write_xml(root: ET.Element, path: Path) -> None:
    """Write ``root`` as an XML file with a declaration, atomically."""
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
