"""Rendering: strict, once, sandboxed; errors name the case, variant, template and variable."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptbench.errors import RenderError
from promptbench.render import Renderer, is_template
from promptbench.suite import Suite, load_suite
from promptbench.types import Case
from tests.helpers.project import Project


def suite_from(project: Project, text: str) -> Suite:
    project.suite(textwrap.dedent(text).lstrip("\n"))
    return load_suite("suites/suite.yaml")


def render(suite: Suite, variant: str, case: Case) -> list[str]:
    return [m.content for m in suite.variants[variant].render(case)]


def test_is_template() -> None:
    assert is_template("Hi {{ name }}")
    assert is_template("{% if x %}y{% endif %}")
    assert is_template("{# note #}")
    assert not is_template("plain { braces } and }} and {")


def test_plain_text_is_not_compiled() -> None:
    template = Renderer().from_string("no {braces} here", "o")
    assert template.compiled is None
    assert template.render({}, where="w") == "no {braces} here"


def test_undefined_variable_in_a_file_names_case_variant_template_line_and_variable(
    project: Project,
) -> None:
    project.write("prompts/ask.j2", "Question: {{ question }}\n\nContext: {{ context }}\n")
    suite = suite_from(
        project,
        """
        name: demo
        prompts: {ask: prompts/ask.j2}
        models: {m: {provider: mock}}
        cases: [{id: q7, question: why}]
        """,
    )
    case = next(iter(suite.cases))
    with pytest.raises(RenderError) as info:
        suite.variants["ask"].render(case)
    assert str(info.value) == (
        "case 'q7', variant 'ask': template prompts/ask.j2:3: undefined variable 'context'; "
        "add it to the case's vars or fix the template"
    )


def test_undefined_variable_in_an_inline_chat_message(project: Project) -> None:
    suite = suite_from(
        project,
        """
        name: demo
        prompts:
          chat:
            system: "You are {{ role }}."
            user: |
              line one
              {{ question }} and {{ missing }}
        models: {m: {provider: mock}}
        cases: [{role: r, question: q}]
        """,
    )
    with pytest.raises(RenderError) as info:
        suite.variants["chat"].render(Case("c2", {"role": "r", "question": "q"}))
    assert str(info.value) == (
        "case 'c2', variant 'chat': template prompts.chat.user:2: undefined variable "
        "'missing'; add it to the case's vars or fix the template"
    )


def test_undefined_attribute() -> None:
    template = Renderer().from_string("Hi {{ user.name }}", "T")
    with pytest.raises(RenderError) as info:
        template.render({"user": {}}, where="case 'a', variant 'v'")
    assert str(info.value) == (
        "case 'a', variant 'v': template T:1: undefined attribute 'name' "
        "('dict object' has no attribute 'name'); add it to the case's vars or fix the template"
    )


@pytest.mark.parametrize(
    "value",
    [
        "{{ x }}",
        "{% if %}",
        "{% for i in range(3) %}{{ i }}{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{# not a comment #}",
    ],
)
def test_var_values_are_inserted_verbatim_never_rendered_again(
    project: Project, value: str
) -> None:
    suite = suite_from(
        project,
        """
        name: demo
        prompts:
          a: "<{{ text }}>"
          chat:
            system: "{{ text }}"
            user: "{{ text | upper }}"
        models: {m: {provider: mock}}
        cases: [{text: x}]
        """,
    )
    case = Case("1", {"text": value, "x": "SHOULD NOT APPEAR"})
    assert render(suite, "a", case) == [f"<{value}>"]
    assert render(suite, "chat", case) == [value, value.upper()]


def test_include_and_import_partials_from_prompts(project: Project) -> None:
    project.write("prompts/header.j2", "[{{ product }} support]")
    project.write("prompts/macros.j2", "{% macro bullet(x) %}- {{ x | upper }}{% endmacro %}")
    project.write(
        "prompts/main.j2",
        '{% include "header.j2" %}\n'
        '{% from "macros.j2" import bullet %}{{ bullet(item) }}\n'
        '{% import "prompts/macros.j2" as m %}{{ m.bullet("two") }}',
    )
    suite = suite_from(
        project,
        """
        name: demo
        prompts:
          file: prompts/main.j2
          inline: '{% include "header.j2" %} {{ item }}'
        models: {m: {provider: mock}}
        cases: [{product: Acme, item: one}]
        """,
    )
    case = Case("1", {"product": "Acme", "item": "one"})
    assert render(suite, "file", case) == ["[Acme support]\n- ONE\n- TWO"]
    assert render(suite, "inline", case) == ["[Acme support] one"]


@pytest.mark.parametrize(
    ("source", "blocked"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object"),
        ("{{ cycler.__init__.__globals__ }}", "access to attribute '__init__'"),
        ("{{ x | attr('__class__') }}", "access to attribute '__class__' of 'int' object"),
        ('{{ "{0.__class__}".format(x) }}', "access to attribute '__class__' of 'int' object"),
    ],
)
def test_sandbox_blocks_payloads_with_a_render_error(source: str, blocked: str) -> None:
    template = Renderer().from_string(source, "prompts.evil")
    with pytest.raises(RenderError) as info:
        template.render({"x": 1}, where="case '3', variant 'evil'")
    message = str(info.value)
    assert message.startswith(
        "case '3', variant 'evil': template prompts.evil:1: unsafe operation blocked by the "
        "sandbox: "
    )
    assert blocked in message


def test_errors_raised_by_filters_on_user_data_become_render_errors() -> None:
    template = Renderer().from_string("{{ 10 / n }}", "T")
    with pytest.raises(RenderError) as info:
        template.render({"n": 0}, where="case 'z'")
    assert str(info.value) == "case 'z': template T:1: ZeroDivisionError: division by zero"
    huge = Renderer().from_string("{{ range(10**7) | list | length }}", "T")
    with pytest.raises(RenderError, match="OverflowError: Range too big"):
        huge.render({}, where="case 'z'")


def test_syntax_error_carries_origin_and_line() -> None:
    with pytest.raises(RenderError) as info:
        Renderer().from_string("ok\n{{ broken }\n", "prompts.x")
    err = info.value
    assert (err.origin, err.line, err.reason) == (
        "prompts.x",
        2,
        "template syntax error: unexpected '}'",
    )
    assert str(err) == "prompts.x:2: template syntax error: unexpected '}'"


def test_from_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "latin.j2"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(RenderError) as info:
        Renderer().from_file(bad, "prompts/latin.j2")
    assert str(info.value) == (
        "prompts/latin.j2:1: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    )
    with pytest.raises(RenderError, match=r"^prompts/none\.j2: cannot read: "):
        Renderer().from_file(tmp_path / "none.j2", "prompts/none.j2")


def test_templates_are_compiled_once() -> None:
    renderer = Renderer()
    assert renderer.from_string("{{ a }}", "o") is renderer.from_string("{{ a }}", "o")
    assert renderer.render_text("{{ a }}-{{ b }}", {"a": 1, "b": 2}, where="w") == "1-2"


def test_check_render_reports_every_bad_case_without_calling_a_model(project: Project) -> None:
    project.write("prompts/p.j2", "{{ question }} / {{ hint }}")
    suite = suite_from(
        project,
        # An unreachable server with no key: check_render must not set up or call it.
        """
        name: demo
        prompts:
          file: prompts/p.j2
          inline: "{{ question }}"
        models:
          remote: {model: gpt-4o-mini, base_url: "http://127.0.0.1:9/v1", api_key_env: NO_KEY}
        metrics:
          - exact
          - contains: "{{ must }}"
        cases:
          - {id: good, question: q, hint: h, must: m, expected: e}
          - {id: no_hint, question: q, must: m, expected: e}
          - {id: no_expected, question: q, hint: h, must: m}
          - {id: no_must, question: q, hint: h, expected: e}
        """,
    )
    messages = [str(e) for e in suite.check_render()]
    assert messages == [
        "case 'no_hint', variant 'file': template prompts/p.j2:1: undefined variable 'hint'; "
        "add it to the case's vars or fix the template",
        # Once per case, not once per variant; the template is the metric's parameter.
        "case 'no_expected', metric 'exact': template exact.expected:1: "
        "undefined variable 'expected'; add it to the case's vars or fix the template",
        "case 'no_must', metric 'contains': template contains.value:1: "
        "undefined variable 'must'; add it to the case's vars or fix the template",
    ]


def test_check_render_stops_at_the_limit(project: Project) -> None:
    suite = suite_from(
        project,
        """
        name: demo
        prompts: {a: "{{ nope }}"}
        models: {m: {provider: mock}}
        cases: [{q: 1}, {q: 2}, {q: 3}, {q: 4}, {q: 5}]
        """,
    )
    assert len(suite.check_render()) == 5
    errors = suite.check_render(limit=2)
    assert [str(e).split(":")[0] for e in errors] == [
        "case '1', variant 'a'",
        "case '2', variant 'a'",
    ]


FAST_CASES = [
    ("Q: {{ q }}", {"q": "hi"}),
    ("{{q}} and {{  q  }}\n", {"q": 1}),
    ("a\n{{ x }}\n\n", {"x": None}),
    ("{{ x }}{{ y }}", {"x": 1.5, "y": True}),
    ("{{ x }}", {"x": {"a": [1, "b"]}}),
    ("literal } and { braces {{ x }}", {"x": "{{ not rendered }}"}),
    ("{{ true }} {{ x }}", {"x": 1}),
]


@pytest.mark.parametrize(("source", "ctx"), FAST_CASES)
def test_fast_substitution_renders_what_jinja_renders(source: str, ctx: dict[str, object]) -> None:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    reference = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)
    template = Renderer().from_string(source, "t")
    assert template.render(ctx, where="c") == reference.from_string(source).render(ctx)


def test_fast_substitution_is_used_for_plain_placeholders_only() -> None:
    r = Renderer()
    assert r.from_string("Q: {{ q }}", "a").fast is not None
    assert r.from_string("Q: {{ q | upper }}", "b").fast is None
    assert r.from_string("{% if q %}{{ q }}{% endif %}", "c").fast is None
    assert r.from_string("{{ q.x }}", "d").fast is None
    assert r.from_string("{{- q }}", "e").fast is None


def test_fast_substitution_names_the_missing_variable_and_line() -> None:
    template = Renderer().from_string("first\n\nQ: {{ question }}", "prompts/q.j2")
    with pytest.raises(RenderError) as info:
        template.render({}, where="case '3', variant 'terse'")
    assert str(info.value) == (
        "case '3', variant 'terse': template prompts/q.j2:3: undefined variable 'question'; "
        "add it to the case's vars or fix the template"
    )
