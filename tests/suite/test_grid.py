"""Sweeps: grid: in a model or a variant expands into named settings, checked with file:line."""

from __future__ import annotations

import textwrap

import pytest

from promptbench.errors import SuiteError, UsageError
from promptbench.runner import RunOptions
from promptbench.runner.selection import select
from promptbench.suite import Suite, load_suite
from promptbench.suite.grid import base_name, format_value, point_name, selects
from promptbench.types import Case
from tests.helpers.project import Project

SUITE = "suites/suite.yaml"
BASE = """\
name: sweep
prompts:
  plain: "Q: {{ q }}"
  guided:
    user: "{% for i in range(n_shots) %}example {{ i }}\\n{% endfor %}Q: {{ q }}"
    grid: {n_shots: [0, 2, 5]}
models:
  mini:
    provider: mock
    grid:
      temperature: [0, 0.7, 1.0]
      max_tokens: [64, 256]
  other: {provider: mock, temperature: 0}
cases:
  - {id: c1, q: hello}
"""


def load(project: Project, text: str = BASE) -> Suite:
    project.suite(textwrap.dedent(text))
    return load_suite(SUITE)


def issues(project: Project, text: str) -> list[str]:
    project.suite(textwrap.dedent(text))
    with pytest.raises(SuiteError) as info:
        load_suite(SUITE)
    return [str(i) for i in info.value.issues]


def test_models_expand_with_parameters_in_a_stable_order(project: Project) -> None:
    suite = load(project)
    gridded = [m for m in suite.models if m.startswith("mini")]
    assert gridded == [
        "mini[max_tokens=64,temperature=0]",
        "mini[max_tokens=256,temperature=0]",
        "mini[max_tokens=64,temperature=0.7]",
        "mini[max_tokens=256,temperature=0.7]",
        "mini[max_tokens=64,temperature=1.0]",
        "mini[max_tokens=256,temperature=1.0]",
    ]
    config = suite.models["mini[max_tokens=256,temperature=0.7]"]
    assert config.temperature == 0.7 and config.max_tokens == 256
    assert "other" in suite.models
    assert suite.model_points["mini[max_tokens=64,temperature=0]"].as_dict() == {
        "max_tokens": 64,
        "temperature": 0,
    }


def test_names_do_not_depend_on_the_order_the_grid_is_written(project: Project) -> None:
    first = list(load(project).models)
    swapped = BASE.replace(
        "      temperature: [0, 0.7, 1.0]\n      max_tokens: [64, 256]\n",
        "      max_tokens: [64, 256]\n      temperature: [0, 0.7, 1.0]\n",
    )
    assert sorted(load(project, swapped).models) == sorted(first)


def test_variants_expand_over_template_vars(project: Project) -> None:
    suite = load(project)
    assert list(suite.variants) == [
        "plain",
        "guided[n_shots=0]",
        "guided[n_shots=2]",
        "guided[n_shots=5]",
    ]
    case = Case("c1", {"q": "hi"})
    two = suite.variants["guided[n_shots=2]"].render(case)
    assert two[0].content == "example 0\nexample 1\nQ: hi"
    assert suite.variants["guided[n_shots=0]"].render(case)[0].content == "Q: hi"
    assert suite.grid_params("guided[n_shots=5]", "mini[max_tokens=64,temperature=0]") == {
        "max_tokens": 64,
        "temperature": 0,
        "n_shots": 5,
    }
    assert [p.name for p in suite.grid_points][-1] == "guided[n_shots=5]"


def test_selection_by_base_name_or_full_name(project: Project) -> None:
    suite = load(project)
    variants, models = select(suite, RunOptions(variants=["guided"], models=["mini"]))
    assert variants == ["guided[n_shots=0]", "guided[n_shots=2]", "guided[n_shots=5]"]
    assert len(models) == 6
    full = "mini[max_tokens=64,temperature=0.7]"
    _, models = select(suite, RunOptions(models=[full, "other"]))
    assert models == [full, "other"]
    with pytest.raises(UsageError, match="unknown model 'mini\\[temperature=9\\]'"):
        select(suite, RunOptions(models=["mini[temperature=9]"]))


def test_unknown_grid_field_points_at_its_line(project: Project) -> None:
    text = BASE.replace("      max_tokens: [64, 256]\n", "      max_tokns: [64, 256]\n")
    (line,) = issues(project, text)
    assert line.startswith("suites/suite.yaml:12:")
    assert "unknown model field 'max_tokns' in the grid" in line and "max_tokens" in line


def test_invalid_grid_value_points_at_the_value(project: Project) -> None:
    text = BASE.replace("temperature: [0, 0.7, 1.0]", "temperature: [0, 7.5, 1.0]")
    (line,) = issues(project, text)
    assert line.startswith("suites/suite.yaml:11:")
    assert "temperature" in line and "less than or equal to 2" in line


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("[0, 1]", "a grid maps parameters to lists of values"),
        ("{temperature: 0.5}", "give temperature a non-empty list"),
        ("{temperature: []}", "give temperature a non-empty list"),
        ("{temperature: [0, 0]}", "temperature lists a value twice"),
        ("{temperature: [[0]]}", "a grid value is a number"),
    ],
)
def test_malformed_grids(project: Project, grid: str, message: str) -> None:
    text = BASE.replace(
        "    grid:\n      temperature: [0, 0.7, 1.0]\n      max_tokens: [64, 256]\n",
        f"    grid: {grid}\n",
    )
    found = issues(project, text)
    assert len(found) == 1 and message in found[0]
    assert found[0].startswith("suites/suite.yaml:10:")


def test_a_field_both_set_and_gridded_is_refused(project: Project) -> None:
    text = BASE.replace(
        "    provider: mock\n    grid:", "    provider: mock\n    max_tokens: 5\n    grid:"
    )
    (line,) = issues(project, text)
    assert "max_tokens is set and also in the grid; remove one" in line


def test_a_variant_grid_var_cannot_shadow_what_cases_set(project: Project) -> None:
    text = BASE.replace("grid: {n_shots: [0, 2, 5]}", "grid: {expected: [a, b]}")
    (line,) = issues(project, text)
    assert line.startswith("suites/suite.yaml:6:") and "'expected' is set by each case" in line


def test_an_expanded_name_colliding_with_a_written_one(project: Project) -> None:
    text = BASE.replace(
        "  other: {provider: mock, temperature: 0}",
        "  other: {provider: mock, grid: {seed: [1]}}\n  other[seed=1]: {provider: mock}",
    )
    assert any("the name 'other[seed=1]' is used twice" in i for i in issues(project, text))


def test_judges_may_name_an_expanded_model_but_not_a_gridded_base(project: Project) -> None:
    ok = (
        BASE
        + "metrics:\n  - judge: {rubric: polite?, model: 'mini[max_tokens=64,temperature=0]'}\n"
    )
    load(project, ok)
    bad = BASE + "metrics:\n  - judge: {rubric: polite?, model: mini}\n"
    assert any("mini" in i for i in issues(project, bad))


def test_name_helpers() -> None:
    assert point_name("m", [("temperature", 0.7), ("max_tokens", 64)]) == (
        "m[max_tokens=64,temperature=0.7]"
    )
    assert [format_value(v) for v in (None, True, 1, 1.0, "x")] == ["null", "true", "1", "1.0", "x"]
    assert base_name("m[a=1]") == "m" and base_name("plain") == "plain"
    assert (
        selects("m", "m[a=1]") and selects("m[a=1]", "m[a=1]") and not selects("m[a=2]", "m[a=1]")
    )


def test_names_read_back_into_their_parameters() -> None:
    from promptbench.suite.grid import GridPoint, parse_name

    point = GridPoint("m", (("max_tokens", 64), ("mode", "fast"), ("seed", None), ("t", 0.7)))
    assert parse_name(point.name) == point
    assert parse_name("m[flag=true,x=1.0]") == GridPoint("m", (("flag", True), ("x", 1.0)))
    assert parse_name("plain") is None and parse_name("odd[x]") is None
