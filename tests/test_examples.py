"""The repository's example project is the one ``promptbench init`` scaffolds, and it is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptbench.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
SCAFFOLD = ROOT / "promptbench" / "scaffold"


@pytest.mark.parametrize(
    "rel",
    sorted(
        str(p.relative_to(SCAFFOLD))
        for p in SCAFFOLD.rglob("*")
        # init --example NAME scaffolds scaffold/examples/NAME; the root mirrors the quickstart
        if p.is_file() and p.relative_to(SCAFFOLD).parts[0] != "examples"
    ),
)
def test_root_example_matches_the_scaffold(rel: str) -> None:
    assert (ROOT / rel).read_bytes() == (SCAFFOLD / rel).read_bytes()


@pytest.mark.parametrize("suite", sorted((ROOT / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_example_suites_are_valid(suite: Path) -> None:
    loaded = load_suite(suite)
    assert loaded.cases.count == 20
    assert not loaded.check_render()
