"""The importer's YAML writer: what it writes reads back as the data, comments aside."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from promptbench.importers.yamltext import Noted, dump, unwrap

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
keys = st.text(min_size=1).filter(lambda k: k.strip() == k and k)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3),
        st.builds(Noted, inner, st.text(alphabet="abc xyz:#-", min_size=1, max_size=80)),
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=4))
def test_reads_back_as_the_data(data: dict[str, Any]) -> None:
    assert yaml.safe_load(dump(data, "a header")) == unwrap(data)


def test_comments_and_blocks_are_readable() -> None:
    text = dump(
        {
            "prompts": {"a": Noted({"template": "Hello {{ name }}\nBye\n"}, "from a.txt")},
            "models": {"m": {"temperature": Noted(0, "was 0.0")}},
            "cases": [Noted({"id": "1", "vars": {"q": "yes"}}, "tests[0]")],
        }
    )
    assert text == (
        "prompts:\n"
        "  # from a.txt\n"
        "  a:\n"
        "    template: |\n"
        "      Hello {{ name }}\n"
        "      Bye\n"
        "models:\n"
        "  m:\n"
        "    temperature: 0  # was 0.0\n"
        "cases:\n"
        "  # tests[0]\n"
        '  - id: "1"\n'
        "    vars:\n"
        '      q: "yes"\n'
    )
