"""Commands are imported when used; the CLI a user sees is the one built eagerly.

The laziness is checked by what a fresh interpreter has imported, not by a timing.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from promptbench.cli import COMMANDS, app
from promptbench.cli._errors_group import OneLineErrorsGroup

ROOT = Path(__file__).resolve().parents[2]
COMMAND_MODULES = {f"promptbench.cli.{entry.module}" for entry in COMMANDS.values()}


def eager_app() -> typer.Typer:
    """The CLI as it was built before commands were lazy: every command registered."""
    eager = typer.Typer(
        name="promptbench",
        cls=OneLineErrorsGroup,
        help=app.info.help,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name, entry in COMMANDS.items():
        obj = getattr(import_module(f"promptbench.cli.{entry.module}"), entry.attr)
        if isinstance(obj, typer.Typer):
            eager.add_typer(obj, name=name)
        else:
            eager.command(cls=entry.cls)(obj)
    return eager


def _help_paths() -> list[list[str]]:
    paths: list[list[str]] = [[], ["--help"]]
    root: Any = typer.main.get_command(eager_app())
    for name, command in root.commands.items():
        paths.append([name, "--help"])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub, "--help"])
    return paths


def test_each_summary_is_the_first_paragraph_of_its_commands_help() -> None:
    root: Any = typer.main.get_command(eager_app())
    assert list(root.commands) == list(COMMANDS)  # the same commands, in the same order
    for name, command in root.commands.items():
        first = inspect.cleandoc(command.help or "").split("\n\n")[0]
        assert COMMANDS[name].summary == first, name


@pytest.mark.parametrize("args", _help_paths(), ids=" ".join)
def test_help_is_what_the_eagerly_built_cli_prints(args: list[str]) -> None:
    runner = CliRunner()
    lazy = runner.invoke(app, args)
    eager = runner.invoke(eager_app(), args)
    assert lazy.output == eager.output
    assert lazy.exit_code == eager.exit_code


def test_every_command_is_built_as_the_eager_cli_builds_it() -> None:
    lazy_root: Any = typer.main.get_command(app)
    eager_root: Any = typer.main.get_command(eager_app())
    for name in COMMANDS:
        lazy, eager = lazy_root.commands[name], eager_root.commands[name]
        assert type(lazy) is type(eager), name
        assert [p.opts for p in lazy.params] == [p.opts for p in eager.params], name
        assert lazy.help == eager.help, name


# -- what a fresh interpreter imports ----------------------------------------------------

HEAVY = ("aiohttp", "openai", "numpy", "pandas", "rapidfuzz", "jsonschema", "wandb")


def _imported(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules imported by ``promptbench ARGS`` in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "from promptbench.cli import main\n"
        f"sys.argv = ['promptbench', *{args!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
        check=False,
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, 1, None), (done.stdout + done.stderr)[:2000]
    return set(result["modules"])


def test_importing_the_cli_imports_no_command() -> None:
    code = "import json, sys, promptbench.cli; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    modules = set(json.loads(out))
    assert not modules & COMMAND_MODULES, sorted(modules & COMMAND_MODULES)
    for heavy in (*HEAVY, "jinja2", "pydantic", "yaml", "rich.table", "typer.rich_utils"):
        assert heavy not in modules, heavy


def test_help_imports_no_command_and_no_library_a_command_needs(tmp_path: Path) -> None:
    modules = _imported(["--help"], tmp_path)
    assert not modules & COMMAND_MODULES, sorted(modules & COMMAND_MODULES)
    for heavy in (*HEAVY, "jinja2", "pydantic", "yaml", "sqlite3", "importlib.metadata"):
        assert heavy not in modules, heavy
    assert not {m for m in modules if m.startswith(("promptbench.runner", "promptbench.suite"))}


def test_validate_imports_its_command_and_the_suites_metrics_only() -> None:
    modules = _imported(["validate", "suites/quickstart.yaml"], ROOT)
    assert modules & COMMAND_MODULES == {"promptbench.cli.validate"}
    for heavy in (*HEAVY, "promptbench.probes", "promptbench.report", "promptbench.stats"):
        assert heavy not in modules, heavy
    # The example names icontains and exact (metrics.string) and the local provider.
    assert "promptbench.metrics.string" in modules
    assert "promptbench.providers.local" in modules
    for other in ("overlap", "structure", "judge", "tools", "semantic", "canary"):
        assert f"promptbench.metrics.{other}" not in modules, other
    for other in ("openai", "anthropic", "gemini", "azure", "mock"):
        assert f"promptbench.providers.{other}" not in modules, other


def test_a_quiet_run_imports_no_progress_bar_and_no_other_command(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(
        "name: lazy\nprompts: {p: 'Q: {{ q }}'}\nmodels: {m: {provider: mock}}\n"
        "cases: [{id: a, q: hi, expected: 'Q: hi'}]\nmetrics: [exact]\n",
        encoding="utf-8",
    )
    env = {
        "PROMPTBENCH_CACHE": str(tmp_path / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(tmp_path / "runs"),
    }
    modules = _imported(["run", "suite.yaml", "-q"], tmp_path, env)
    # run's module imports the modules of the options it shares (--html, --runs-dir).
    assert modules & COMMAND_MODULES <= {
        "promptbench.cli.run",
        "promptbench.cli.report",
        "promptbench.cli.runs",
    }
    for heavy in (*HEAVY, "rich.progress", "promptbench.probes", "promptbench.diff"):
        assert heavy not in modules, heavy


# What reading stored runs needs: no suite loader (case readers, templates), no engine,
# providers or HTTP clients, and for --json no table drawing.
NOT_FOR_STORED_RUNS = (
    "aiohttp",
    "openai",
    "jinja2",
    "pandas",
    "wandb",
    "promptbench.suite.loader",
    "promptbench.suite.model",
    "promptbench.suite.cases",
    "promptbench.render",
    "promptbench.runner.engine",
    "promptbench.providers.base",
    "promptbench.probes",
)


@pytest.fixture(scope="module")
def stored_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers.synthetic_runs import write_synthetic_run

    runs = tmp_path_factory.mktemp("runs")
    write_synthetic_run(runs, "a", 12, seed=1)
    write_synthetic_run(runs, "b", 12, seed=2, p_pass=0.5)
    return runs


def test_diff_json_of_stored_runs_imports_no_suite_loader_engine_or_table(
    stored_runs: Path, tmp_path: Path
) -> None:
    env = {"PROMPTBENCH_RUNS_DIR": str(stored_runs)}
    modules = _imported(["diff", "a", "b", "--json"], tmp_path, env)
    assert "promptbench.diff.compute" in modules  # it did compare
    for heavy in (*NOT_FOR_STORED_RUNS, "promptbench.report.diff_terminal", "rich.table"):
        assert heavy not in modules, heavy


def test_report_of_a_stored_run_imports_no_comparison(stored_runs: Path, tmp_path: Path) -> None:
    env = {"PROMPTBENCH_RUNS_DIR": str(stored_runs)}
    modules = _imported(["report", "b", "--html", str(tmp_path / "r.html")], tmp_path, env)
    assert (tmp_path / "r.html").stat().st_size > 0
    # The page's ranking is the diff package's (diff.rank); comparing two sides is not.
    for heavy in (
        *NOT_FOR_STORED_RUNS,
        "promptbench.diff.api",
        "promptbench.diff.select",
        "promptbench.diff.compute",
        "promptbench.diff.baseline",
    ):
        assert heavy not in modules, heavy
