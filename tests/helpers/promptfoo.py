"""promptfoo itself, installed from npm (pinned), run against the loopback server.

``promptfoo_bin()`` installs ``promptfoo@PROMPTFOO_VERSION`` once into a cache
directory shared by test runs on this machine (``$PROMPTBENCH_PROMPTFOO_DIR``, else
``~/.cache/promptbench-ci/promptfoo``); ``.ci/run`` does the same before the tests.
Nothing is sent anywhere: telemetry, update checks and sharing are off, and
promptfoo's database goes to a directory of the test's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPTFOO_VERSION = "0.121.20"
CONFIGS = Path(__file__).resolve().parents[1] / "importers" / "configs"


def cache_dir() -> Path:
    """Where promptfoo is installed."""
    default = Path.home() / ".cache" / "promptbench-ci" / "promptfoo"
    return Path(os.environ.get("PROMPTBENCH_PROMPTFOO_DIR", default))


def promptfoo_bin(install: bool = True) -> Path | None:
    """The promptfoo command at the pinned version, installed from npm when missing."""
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "promptfoo"
    package = prefix / "node_modules" / "promptfoo" / "package.json"
    if package.is_file() and json.loads(package.read_text())["version"] == PROMPTFOO_VERSION:
        return binary
    if not install or shutil.which("npm") is None:
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            f"promptfoo@{PROMPTFOO_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        return None
    return binary


def environment(home: Path) -> dict[str, str]:
    """promptfoo's environment: offline apart from the loopback server, nothing shared."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_TOKEN"))}
    env.update(
        {
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_DISABLE_SHARING": "1",
            "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
            "PROMPTFOO_CONFIG_DIR": str(home / ".promptfoo"),
            "PROMPTFOO_PYTHON": sys.executable,
            "OPENAI_API_KEY": "sk-loopback-test",  # promptfoo insists on one; the server ignores it
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


@dataclass
class Prepared:
    """A config copied into a scratch directory, aimed at the loopback server."""

    directory: Path
    config: Path
    rules: list[dict[str, Any]]


# What the grader server answers every request with: a verdict both tools can read
# (promptfoo's {pass, score, reason}, g-eval's steps, promptbench's passed and grade).
GRADER_REPLY = json.dumps(
    {
        "pass": True,
        "score": 1,
        "reason": "fine",
        "reasoning": "fine",
        "passed": True,
        "grade": 5,
        "steps": ["Read the answer."],
    }
)


def prepare(name: str, dest: Path, url: str, grader_url: str = "") -> Prepared:
    """Copy configs/NAME to ``dest``, aimed at ``url`` (and the grader at ``grader_url``).

    ``http://127.0.0.1:PORT/v1`` in a config is the model's server, ``...:GRADER/v1``
    the grader's: a second server, so that a grader's prompt (which quotes the
    model's) never gets an answer scripted for the model.
    """
    src = CONFIGS / name
    target = dest / name
    shutil.copytree(src, target)
    for path in target.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".json", ".csv", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            if "127.0.0.1:PORT/v1" in text or "127.0.0.1:GRADER/v1" in text:
                text = text.replace("http://127.0.0.1:PORT/v1", url)
                text = text.replace("http://127.0.0.1:GRADER/v1", grader_url)
                path.write_text(text, encoding="utf-8")
    server = target / "server.json"
    rules = json.loads(server.read_text(encoding="utf-8")) if server.exists() else []
    return Prepared(target, target / "promptfooconfig.yaml", rules)


def run_promptfoo(binary: Path, prepared: Prepared, home: Path) -> dict[str, Any]:
    """``promptfoo eval`` of the config; its results file, read."""
    out = prepared.directory / "out.json"
    done = subprocess.run(
        [
            str(binary),
            "eval",
            "-c",
            str(prepared.config),
            "-o",
            str(out),
            "--no-cache",
            "--no-progress-bar",
            "--no-write",
            "--no-table",
        ],
        cwd=prepared.directory,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not out.exists():
        raise AssertionError(
            f"promptfoo eval wrote no results (exit {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data
