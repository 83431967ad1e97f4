"""``promptbench init``: scaffold a project whose example suite is valid as written."""

from __future__ import annotations

from pathlib import Path

import pytest

import promptbench
from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.project import Project

SCAFFOLD = Path(promptbench.__file__).parent / "scaffold"


def _scaffold_files() -> list[Path]:
    if not SCAFFOLD.is_dir():
        return []
    return [
        p
        for p in SCAFFOLD.rglob("*")
        if p.is_file() and not any(part.startswith(("__", ".")) for part in p.parts)
    ]


needs_scaffold = pytest.mark.skipif(
    not _scaffold_files(), reason="promptbench/scaffold/ has no files yet"
)


@needs_scaffold
def test_init_creates_a_valid_quickstart(project: Project) -> None:
    result = invoke("init", "demo")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    quickstart = project.root / "demo" / "suites" / "quickstart.yaml"
    assert quickstart.is_file()
    for f in _scaffold_files():
        rel = f.relative_to(SCAFFOLD)
        assert (project.root / "demo" / rel).read_bytes() == f.read_bytes()
        assert f"created {Path('demo') / rel}" in result.stdout
    assert "next: cd demo && promptbench run suites/quickstart.yaml" in result.stdout
    result = invoke("validate", str(quickstart))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("✓ ")


@needs_scaffold
def test_init_does_not_overwrite_without_force(project: Project) -> None:
    assert invoke("init", "demo").exit_code == 0
    quickstart = project.root / "demo" / "suites" / "quickstart.yaml"
    quickstart.write_text("name: mine\n", encoding="utf-8")
    result = invoke("init", "demo")
    no_traceback(result)
    assert result.exit_code == 2
    assert "already exists; use --force" in result.stderr
    assert quickstart.read_text(encoding="utf-8") == "name: mine\n"
    assert invoke("init", "demo", "--force").exit_code == 0
    assert quickstart.read_bytes() == (SCAFFOLD / "suites" / "quickstart.yaml").read_bytes()


def test_help_has_an_example() -> None:
    result = invoke("init", "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
