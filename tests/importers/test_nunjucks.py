"""nunjucks templates rewritten as Jinja2: what differs is rewritten, and only inside tags."""

from __future__ import annotations

import jinja2
import pytest

from promptbench.importers.nunjucks import to_jinja

CASES = [
    ("{{ items | dump }}", "{{ items | tojson }}"),
    ("{{ items | dump(2) }}", "{{ items | tojson(2) }}"),
    ("{% if items.length > 1 %}x{% endif %}", "{% if items | length > 1 %}x{% endif %}"),
    ("{% if a === 'x' && b !== 2 %}y{% endif %}", "{% if a == 'x' and b != 2 %}y{% endif %}"),
    ("{% if !done || x == null %}z{% endif %}", "{% if not done or x == none %}z{% endif %}"),
    ("{% if a %}1{% elseif b %}2{% endif %}", "{% if a %}1{% elif b %}2{% endif %}"),
    (
        "{% for k, v in obj %}{{ k }}{% endfor %}",
        "{% for k, v in (obj).items() %}{{ k }}{% endfor %}",
    ),
    (
        "{{ name | upper }} and {{ name | default('x') }}",
        "{{ name | upper }} and {{ name | default('x') }}",
    ),
]


@pytest.mark.parametrize(("nunjucks", "jinja"), CASES)
def test_rewrites(nunjucks: str, jinja: str) -> None:
    converted = to_jinja(nunjucks)
    assert converted.text == jinja
    assert (converted.changes == []) == (nunjucks == jinja)
    jinja2.Environment().parse(converted.text)  # valid Jinja2


def test_text_outside_tags_and_string_literals_is_untouched() -> None:
    text = "Use a.length && b === c here. {{ 'a === b' ~ x }} {{ \"!x\" }}"
    assert to_jinja(text).text == text


def test_rendered_the_same_as_nunjucks_would() -> None:
    template = to_jinja(
        "{% if hints.length > 0 %}{% for k, v in meta %}{{ k }}={{ v }};{% endfor %}{% endif %}"
    )
    out = jinja2.Environment().from_string(template.text).render(hints=[1], meta={"a": 1, "b": 2})
    assert out == "a=1;b=2;"


def test_what_has_no_jinja_equivalent_is_reported() -> None:
    converted = to_jinja("{% if r/ab+c/gi.test(x) %}{{ x | nl2br }}{% endif %}")
    assert any("regular-expression literal" in p for p in converted.problems)
    assert any("nl2br" in p for p in converted.problems)
