"""CI outputs: ``--junit`` and ``--markdown`` on ``run`` and ``diff``, and the word diff.

The JUnit files are read back with xml.etree and checked against the shape of the
common JUnit schema (Jenkins' junit-10.xsd, which GitLab and GitHub's test reporters
also accept): which attributes each element may and must carry, which children.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from promptbench.diff import SideInfo
from promptbench.diff.compute import diff_indexes
from promptbench.diff.pairing import RecordIndex, pairs_of_runs
from promptbench.report.markdown import MARKER, MAX_CHARS, diff_markdown, esc
from promptbench.report.worddiff import plain, word_diff
from promptbench.types import Record, Score
from tests.helpers.e2e import echo_suite, invoke, no_traceback, qa_cases
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

# The JUnit schema's rules, element by element: (required, allowed) attributes, children.
SCHEMA: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors"},
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp"}
        | {"hostname", "id", "package", "file", "log", "url"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "testcase": (
        {"name"},
        {"name", "time", "classname", "group"},
        {"skipped", "error", "failure", "system-out", "system-err"},
    ),
    "failure": (set(), {"type", "message"}, set()),
    "error": (set(), {"type", "message"}, set()),
    "skipped": (set(), {"type", "message"}, set()),
}
TIME = re.compile(r"^[0-9]*(\.[0-9]*)?$")


def check_schema(el: ET.Element) -> None:
    assert el.tag in SCHEMA, f"unexpected element <{el.tag}>"
    required, allowed, children = SCHEMA[el.tag]
    assert required <= set(el.attrib), f"<{el.tag}> lacks {required - set(el.attrib)}"
    assert set(el.attrib) <= allowed, f"<{el.tag}> has {set(el.attrib) - allowed}"
    if "time" in el.attrib:
        assert TIME.match(el.attrib["time"]), el.attrib["time"]
    for child in el:
        assert child.tag in children, f"<{child.tag}> inside <{el.tag}>"
        check_schema(child)
    if el.tag == "testcase":
        assert len([c for c in el if c.tag in ("failure", "error", "skipped")]) <= 1


def read_junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    check_schema(root)
    # Counts agree with the testcases, per suite and in total.
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr, "-1")) == sum(c.find(tag) is not None for c in cases)
    suites = root.findall("testsuite")
    for attr in ("tests", "failures", "errors"):
        assert int(root.get(attr, "-1")) == sum(int(s.get(attr, "0")) for s in suites)
    return root


def cases_of(root: ET.Element, suite_name: str) -> dict[str, ET.Element]:
    suite = next(s for s in root.findall("testsuite") if s.get("name") == suite_name)
    return {c.get("name", ""): c for c in suite.findall("testcase")}


# --------------------------------------------------------------------------- run --junit


def test_run_junit_has_a_testcase_per_call_with_reasons(
    loopback: LoopbackServer, project: Project
) -> None:
    loopback.configure(
        rules=[
            {"match": "Q: q2", "reply": "wrong\u0000 \u001b[31mred\u001b[0m"},  # XML-hostile
            {"match": "Q: q3", "faults": ["400"]},
        ]
    )
    suite = echo_suite(
        loopback.url,
        prompts={"plain": "Q: {{ q }}", "other": "Other {{ q }}"},
        cases=qa_cases(10),
        gate={"exact": ">= 0.9"},
        max_error_rate=0.5,
    )
    result = invoke("run", str(project.suite(suite)), "-q", "--junit", "out/junit.xml")
    no_traceback(result)
    assert result.exit_code == 1, result.output  # the gate fails for both variants
    root = read_junit(project.root / "out" / "junit.xml")
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == ["e2e · plain × loop", "e2e · other × loop", "e2e · gate"]
    # 2 variants × 10 cases, plus one gate check per group. Failures: q2 on plain, every
    # case of other ("Other qN" is not "Q: qN"), and both gate checks; the error: q3.
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("22", "13", "1")
    plain_cases = cases_of(root, "e2e · plain × loop")
    assert list(plain_cases) == [f"q{i}" for i in range(1, 11)]  # in order, q10 last
    assert plain_cases["q1"].get("classname") == "e2e.plain.loop"
    assert len(plain_cases["q1"]) == 0  # passed
    failure = plain_cases["q2"].find("failure")
    assert failure is not None and failure.get("type") == "exact"
    assert failure.get("message", "").startswith("exact: ")
    assert "wrong \u001b" not in (failure.text or "") and "wrong [31mred[0m" in (failure.text or "")
    error = plain_cases["q3"].find("error")
    assert error is not None and error.get("type") == "client_error"
    other = cases_of(root, "e2e · other × loop")
    assert all(c.find("failure") is not None for c in other.values())  # "Other qN" ≠ "Q: qN"
    gate = cases_of(root, "e2e · gate")
    assert set(gate) == {"exact >= 0.9 for plain × loop", "exact >= 0.9 for other × loop"}
    assert gate["exact >= 0.9 for other × loop"].find("failure") is not None


def test_junit_names_repeats_and_skips_cases_without_metrics(
    loopback: LoopbackServer, project: Project
) -> None:
    suite = echo_suite(loopback.url, cases=qa_cases(2), metrics=[], repeat=2)
    assert invoke("run", str(project.suite(suite)), "-q", "--junit", "j.xml").exit_code == 0
    root = read_junit(project.root / "j.xml")
    cases = cases_of(root, "e2e · plain × loop")
    assert sorted(cases) == ["q1 (repeat 1)", "q1 (repeat 2)", "q2 (repeat 1)", "q2 (repeat 2)"]
    assert all(c.find("skipped") is not None for c in cases.values())
    # No gate: one skipped testcase says so, where a CI page would show a green gate.
    (gate,) = cases_of(root, "e2e · gate").values()
    skipped = gate.find("skipped")
    assert skipped is not None and "no gate" in skipped.get("message", "")


def test_junit_with_a_baseline_adds_the_regression_checks(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(30)))
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    loopback.configure(rules=[{"match": f"q{i}", "reply": "no"} for i in range(11, 31)])
    result = invoke(
        "run", str(path), "-q", "--no-cache", "--baseline", "base.json", "--junit", "j.xml"
    )
    assert result.exit_code == 1
    root = read_junit(project.root / "j.xml")
    checks = cases_of(root, "e2e · regression")
    assert set(checks) == {
        "pass_rate (margin 0) for plain × loop",
        "exact (margin 0) for plain × loop",
    }
    failure = checks["exact (margin 0) for plain × loop"].find("failure")
    assert failure is not None and "significantly worse" in failure.get("message", "")


# --------------------------------------------------------------------------- run --markdown


def test_run_markdown_has_the_table_gate_and_regressions(
    loopback: LoopbackServer, project: Project
) -> None:
    path = project.suite(echo_suite(loopback.url, cases=qa_cases(30), gate={"exact": ">= 0.5"}))
    assert invoke("run", str(path), "-q").exit_code == 0
    assert invoke("baseline", "save", "latest", "base.json").exit_code == 0
    rules = [{"match": f"q{i}", "reply": f"answer | {i}\nline <b>"} for i in range(11, 31)]
    loopback.configure(rules=rules)
    result = invoke(
        "run", str(path), "-q", "--no-cache", "--baseline", "base.json", "--markdown", "pr.md"
    )
    assert result.exit_code == 1
    md = (project.root / "pr.md").read_text(encoding="utf-8")
    assert md.startswith(MARKER + "\n## e2e · run ")
    assert "**❌ gate failed · ❌ regression against the baseline**" in md
    assert "| variant | model | cases | pass rate | exact | errors |" in md
    assert "| plain | loop | 30 | 33.3% | 0.333 | 0 |" in md
    assert "- ❌ gate `exact >= 0.5` for plain × loop: 0.3333" in md
    assert "### Regressions against the baseline" in md
    assert "- ❌ `exact` (margin 0) for plain × loop: B − A = -0.667" in md
    assert "| metric | A | B | B − A [95% CI] | p (Holm) | verdict | MDE | n |" in md
    assert "| pass\\_rate | 100.0% | 33.3% | -66.7 pts [" in md
    assert "**worse**" in md
    assert "Flipped: 20 pass → fail, 0 fail → pass" in md
    assert "<summary>▼ pass → fail: <code>q11</code> (score change -1.000)</summary>" in md
    # Model text is escaped: a pipe cannot break the table, a tag is shown, not rendered.
    assert "| Q: q11 | answer \\| 11<br>line &lt;b&gt; |" in md
    assert "word diff: <del>Q: q11</del><ins>answer \\| 11<br>line &lt;b&gt;</ins>" in md
    assert "… and 10 more flipped cases" in md  # --limit 10 by default
    assert len(md) < 65_536


def test_markdown_stays_under_githubs_comment_limit() -> None:
    long = "word " * 400
    a = [
        Record(
            f"c{i}",
            "v",
            "m",
            0,
            {},
            (),
            output=long + "a",
            scores={"exact": Score("exact", 1.0, True)},
            passed=True,
        )
        for i in range(300)
    ]
    b = [
        Record(
            f"c{i}",
            "v",
            "m",
            0,
            {},
            (),
            output=long + "b",
            scores={"exact": Score("exact", 0.0, False, "no")},
            passed=False,
        )
        for i in range(300)
    ]
    ia, ib = RecordIndex.of(a), RecordIndex.of(b)
    result = diff_indexes(
        ia, ib, pairs_of_runs(ia, ib), a=SideInfo("A", "a"), b=SideInfo("B", "b"), mode="runs"
    )
    md = diff_markdown(result, limit=300)
    assert len(md) <= MAX_CHARS
    assert "more flipped cases (run `promptbench diff` to see all)" in md


# --------------------------------------------------------------------------- diff outputs


def test_diff_writes_markdown_and_junit(loopback: LoopbackServer, project: Project) -> None:
    loopback.configure(rules=[{"match": f"Say Q: q{i}", "reply": f"Q: q{i}"} for i in range(1, 4)])
    suite = echo_suite(
        loopback.url, prompts={"a": "Q: {{ q }}", "b": "Say Q: {{ q }}"}, cases=qa_cases(30)
    )
    assert invoke("run", str(project.suite(suite)), "-q").exit_code == 0
    result = invoke(
        "diff", "--variants", "a", "b", "--markdown", "d.md", "--junit", "d.xml", "--limit", "2"
    )
    assert result.exit_code == 0, result.output
    md = (project.root / "d.md").read_text(encoding="utf-8")
    assert md.startswith(MARKER + "\n## promptbench diff")
    assert "#### a × loop → b × loop" in md
    assert "| exact | 100.0%" not in md and "| exact | 1.000 | 0.100 |" in md
    assert md.count("<details>") == 2
    root = read_junit(project.root / "d.xml")
    cases = cases_of(root, "a × loop → b × loop")
    assert set(cases) == {"pass_rate", "exact"}
    assert all(c.find("failure") is not None for c in cases.values())  # both "worse"
    gated = invoke("diff", "--variants", "a", "b", "--fail-on-regression", "--junit", "g.xml")
    assert gated.exit_code == 1
    regression = cases_of(read_junit(project.root / "g.xml"), "diff a → b · regression")
    assert len(regression) == 2 and all(c.find("failure") is not None for c in regression.values())


def test_unwritable_outputs_exit_2(loopback: LoopbackServer, project: Project) -> None:
    path = project.suite(echo_suite(loopback.url))
    (project.root / "taken").mkdir()
    result = invoke("run", str(path), "-q", "--markdown", "taken")
    no_traceback(result)
    assert result.exit_code == 2
    assert "cannot write taken" in result.stderr


# --------------------------------------------------------------------------- word diff


def test_word_diff_marks_deletions_and_insertions_by_word() -> None:
    segments = word_diff("the queue is billing today", "the queue is refunds today")
    assert segments == [
        ("equal", "the queue is "),
        ("delete", "billing"),
        ("insert", "refunds"),
        ("equal", " today"),
    ]
    assert plain(segments) == "the queue is [-billing-]{+refunds+} today"
    # Whole words, not characters: "billing" → "billed" is one word replaced.
    assert plain(word_diff("billing", "billed")) == "[-billing-]{+billed+}"
    assert word_diff("same text", "same text") == [("equal", "same text")]
    assert plain(word_diff("", "new")) == "{+new+}"


def test_markdown_escapes_model_text() -> None:
    assert esc("a|b *c* _d_ <i>\nx") == "a\\|b \\*c\\* \\_d\\_ &lt;i&gt;<br>x"


def test_terminal_word_diff_strikes_deletions_red_and_shows_insertions_green() -> None:
    from rich.console import Console

    from promptbench.report.diff_terminal import diff_text

    colour = Console(force_terminal=True, color_system="truecolor", no_color=False)
    text = diff_text(colour, "the queue is billing", "the queue is refunds")
    styles = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styles == {"billing": "red strike", "refunds": "green"}
    assert text.plain == "the queue is billingrefunds"
    plain_console = Console(no_color=True, force_terminal=False)
    assert diff_text(plain_console, "a b", "a c").plain == "a [-b-]{+c+}"
