"""``promptbench init``: scaffold a project whose example suite is valid as written."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import promptbench
from tests.helpers.e2e import invoke, no_traceback
from tests.helpers.loopback import LoopbackServer
from tests.helpers.project import Project

SCAFFOLD = Path(promptbench.__file__).parent / "scaffold"


def _scaffold_files() -> list[Path]:
    if not SCAFFOLD.is_dir():
        return []
    return [
        p
        for p in SCAFFOLD.rglob("*")
        if p.is_file()
        and not any(part.startswith(("__", ".")) for part in p.parts)
        and p.relative_to(SCAFFOLD).parts[0] != "examples"  # init --example
    ]


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


def test_init_asks_nothing_when_not_on_a_terminal(project: Project) -> None:
    result = invoke("init", "demo")
    assert result.exit_code == 0
    assert "Which model" not in result.output
    suite = (project.root / "demo" / "suites" / "quickstart.yaml").read_text()
    assert "tiny: {provider: local" in suite


def test_init_for_an_openai_compatible_server(project: Project, loopback: LoopbackServer) -> None:
    result = invoke(
        "init",
        "demo",
        "--model",
        "server",
        "--base-url",
        loopback.url,
        "--model-name",
        "loopback",
        "-q",
    )
    assert result.exit_code == 0 and result.output == ""  # --quiet
    suite = project.root / "demo" / "suites" / "quickstart.yaml"
    text = suite.read_text()
    assert f"main: {{provider: openai, base_url: {loopback.url}, model: loopback" in text
    assert (
        "provider: local"
        not in text.split("models:")[1].split("cases:")[0].replace("#", "\n#").split("\n#")[0]
    )
    assert invoke("validate", str(suite)).exit_code == 0
    run = invoke("run", str(suite), "-q", "--json")
    assert run.exit_code in (0, 1), run.output
    assert loopback.stats()["requests"] == 40  # 20 cases x 2 variants, through the server


def test_init_offers_choices_on_a_terminal(tmp_path: Path) -> None:
    # A real pseudo-terminal: init sees a TTY and asks.
    primary, secondary = pty.openpty()
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    proc = subprocess.Popen(
        [*command, "init", "demo"],
        cwd=tmp_path,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
    )
    os.close(secondary)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while text not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(primary, 4096)
                except OSError:
                    break
        assert text in seen, seen.decode(errors="replace")

    read_until(b"Choice [1]:")
    os.write(primary, b"2\n")
    read_until(b"Server URL")
    os.write(primary, b"http://127.0.0.1:8000/v1\n")
    read_until(b"Model name")
    os.write(primary, b"qwen\n")
    read_until(b"next:")
    assert proc.wait(20) == 0
    os.close(primary)
    assert b"Which model should the example use?" in seen
    suite = (tmp_path / "demo" / "suites" / "quickstart.yaml").read_text()
    assert "main: {provider: openai, base_url: http://127.0.0.1:8000/v1, model: qwen" in suite


def test_init_example_tools_scaffolds_a_valid_tool_calling_suite(project: Project) -> None:
    result = invoke("init", "agent", "--example", "tools")
    no_traceback(result)
    assert result.exit_code == 0, result.output
    example = SCAFFOLD / "examples" / "tools"
    made = sorted(
        p.relative_to(example)
        for p in example.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert made, "the tools example has files"
    for rel in made:
        assert (project.root / "agent" / rel).read_bytes() == (example / rel).read_bytes()
    assert not (project.root / "agent" / "suites" / "quickstart.yaml").exists()
    assert "next: cd agent && promptbench run suites/tools.yaml" in result.stdout
    suite = project.root / "agent" / "suites" / "tools.yaml"
    result = invoke("validate", str(suite))
    assert result.exit_code == 0, result.output
    # Another backend swaps the model line, as for the quickstart.
    result = invoke("init", "hosted", "--example", "tools", "--model", "openai")
    assert result.exit_code == 0, result.output
    text = (project.root / "hosted" / "suites" / "tools.yaml").read_text(encoding="utf-8")
    assert "  main: {provider: openai, model: gpt-4o-mini, temperature: 0, max_tokens: 64}" in text
