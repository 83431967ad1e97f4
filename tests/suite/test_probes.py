"""A suite's probes: parsed strictly, expanded into twins that keep their original's id."""

from __future__ import annotations

import textwrap

import pytest

from promptbench.errors import SuiteError, UsageError
from promptbench.suite import Suite, load_suite
from tests.helpers.project import Project

SUITE = "suites/suite.yaml"
HEAD = """
name: demo
prompts:
  plain: "Q: {{ question }}"
  chat:
    system: You answer in one word. Be brief.
    user: "{{ question }}{% if doc is defined %} {{ doc }}{% endif %}"
models:
  m: {provider: mock}
cases:
  - {id: q1, question: "Did he pay his bill of 3 dollars at the café?", doc: "A doc. It ends."}
  - {id: q2, question: "What is the capital of France?", doc: "Another doc."}
metrics:
  - contains: "4"
"""


def load(project: Project, probes: str) -> Suite:
    project.suite(textwrap.dedent(HEAD).lstrip("\n") + textwrap.dedent(probes))
    return load_suite(SUITE)


def problems(project: Project, probes: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load(project, probes)
    return [str(i) for i in info.value.issues]


def test_each_probe_makes_a_twin_of_every_case_it_changes(project: Project) -> None:
    suite = load(
        project,
        """
        probes:
          typos: {kind: typos, rate: 0.5, target: {vars: [question]}}
          gender: {kind: gender}
          upper: {kind: case, mode: upper}
        """,
    )
    cases = list(suite.probes.expand(suite.cases))
    ids = [c.id for c in cases]
    # q2 mentions no gender term: no twin, so it is not counted.
    assert ids == ["q1", "q1~typos", "q1~gender", "q1~upper", "q2", "q2~typos", "q2~upper"]
    by = {c.id: c for c in cases}
    assert by["q1~gender"].vars["question"] == "Did she pay her bill of 3 dollars at the café?"
    assert by["q1~gender"].vars["doc"] == "A doc. It ends."
    assert by["q1~typos"].vars["doc"] == "A doc. It ends."  # only the targeted var
    assert by["q1~typos"].vars["question"] != by["q1"].vars["question"]
    assert by["q1~upper"].vars["doc"] == "A DOC. IT ENDS."  # no target: every text var
    tag = by["q1~gender"].probe
    assert tag is not None and tag.origin == "q1" and tag.name == "gender"
    assert tag.details["groups"] == ["male", "female"]
    # Deterministic: expanding again gives the same twins.
    assert [c.vars for c in suite.probes.expand(suite.cases)] == [c.vars for c in cases]


def test_prompt_target_perturbs_the_instruction_and_not_the_vars(project: Project) -> None:
    suite = load(project, "probes:\n  shout: {kind: case, mode: upper, target: prompt}\n")
    twin = next(c for c in suite.probes.expand(suite.cases) if c.id == "q1~shout")
    assert twin.vars == next(iter(suite.cases)).vars
    chat = suite.variants["chat"].render(twin)
    assert chat[0].content == "YOU ANSWER IN ONE WORD. BE BRIEF."
    assert chat[1].content == "Did he pay his bill of 3 dollars at the café? A doc. It ends."
    assert suite.variants["plain"].render(twin)[0].content == (
        "Q: Did he pay his bill of 3 dollars at the café?"
    )


def test_injection_twins_carry_a_canary_and_the_canary_check(project: Project) -> None:
    suite = load(
        project,
        "probes:\n  inject:\n    {kind: injection, target: {vars: [doc]}, per_case: 3, "
        "families: [encoded]}\n",
    )
    twins = list(suite.probes.expand(suite.cases, originals=False))
    assert len(twins) == 6
    for twin in twins:
        assert twin.probe is not None and twin.probe.details["family"] == "encoded"
        assert twin.id.startswith(f"{twin.probe.origin}~inject.encoded-")
        assert [m.kind for m in twin.metrics] == ["canary"]
        assert (
            twin.vars["question"]
            == next(c for c in suite.cases if c.id == twin.probe.origin).vars["question"]
        )


def test_a_suite_list_extends_a_builtin_one(project: Project) -> None:
    project.write("suites/more.csv", "male,female\nbill,bella\n")
    suite = load(project, "probes:\n  g: {kind: gender, terms_file: more.csv}\n")
    twin = next(c for c in suite.probes.expand(suite.cases) if c.id == "q1~g")
    assert twin.vars["question"] == "Did she pay her bella of 3 dollars at the café?"
    assert any(p.name == "more.csv" for p in suite.files)


def test_kind_swap_uses_only_the_suites_list(project: Project) -> None:
    suite = load(
        project,
        """
        probes:
          city:
            kind: swap
            terms: {groups: {fr: [France, Paris], de: [Germany, Berlin]}}
        """,
    )
    twins = {c.id: c for c in suite.probes.expand(suite.cases, originals=False)}
    assert list(twins) == ["q2~city"]
    assert twins["q2~city"].vars["question"] == "What is the capital of Germany?"


def test_run_probe_selects_by_name(project: Project) -> None:
    suite = load(project, "probes:\n  a: {kind: case}\n  b: {kind: accents}\n")
    assert list(suite.probes.select(["b"]).probes) == ["b"]
    with pytest.raises(UsageError, match="unknown probe 'c'"):
        suite.probes.select(["c"])


@pytest.mark.parametrize(
    ("probes", "expected"),
    [
        (
            "probes:\n  t: {kind: typo}\n",
            "suites/suite.yaml:15:13: probes.t.kind: unknown probe kind 'typo'; "
            "did you mean 'typos'?",
        ),
        (
            "probes:\n  t: {kind: typos, target: {vars: [questoin]}}\n",
            "suites/suite.yaml:15:36: probes.t.target.vars[0]: no case has a var 'questoin'; "
            "did you mean 'question'?",
        ),
        (
            "probes:\n  t: {kind: typos, rate: 2}\n",
            "suites/suite.yaml:15:26: probes.t.rate: input should be less than or equal to 1 "
            "(got 2)",
        ),
        (
            "probes:\n  i: {kind: injection}\n",
            "suites/suite.yaml:15:6: probes.i: name the var to inject into: "
            "target: {vars: [document]}",
        ),
        (
            "probes:\n  i: {kind: injection, target: prompt, per_case: all}\n",
            "suites/suite.yaml:15:32: probes.i.target: an injection probe changes case vars, not "
            "the prompt; target: {vars: [..]}",
        ),
        (
            "probes:\n  p: {kind: paraphrase, model: big}\n",
            "suites/suite.yaml:15:32: probes.p.model: unknown model 'big'; expected one of: m",
        ),
        (
            "probes:\n  r: {kind: religion, groups: [muslim, jedi]}\n",
            "suites/suite.yaml:15:6: probes.r: unknown group 'jedi'; the list has: christian, "
            "muslim, jewish, hindu, buddhist",
        ),
        (
            "probes:\n  s: {kind: swap}\n",
            "suites/suite.yaml:15:6: probes.s: value error, kind swap needs a term list of your "
            "own: terms_file or terms",
        ),
        (
            "probes:\n  s: {kind: swap, terms_file: nope.yaml}\n",
            "suites/suite.yaml:15:31: probes.s.terms_file: term list 'nope.yaml' not found; paths "
            "are relative to the suite",
        ),
    ],
)
def test_bad_probes_name_the_line_and_the_fix(project: Project, probes: str, expected: str) -> None:
    assert problems(project, probes) == [expected]


def test_a_term_list_file_with_an_error_names_its_own_line(project: Project) -> None:
    project.write("suites/terms.yaml", "groups:\n  a: [x, y]\n  b: [z, '']\n")
    assert problems(project, "probes:\n  s: {kind: swap, terms_file: terms.yaml}\n") == [
        "suites/terms.yaml:2:3: groups: value error, group 'b': term 2 is empty"
    ]
