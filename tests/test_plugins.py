"""Third-party metrics and providers arrive through entry points, exactly as built-ins do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PLUGIN = """
from pydantic import Field

from promptbench.config import MetricParams, ModelConfig
from promptbench.metrics import Sample, metric
from promptbench.providers import provider
from promptbench.types import Completion, Prompt, Usage


class Params(MetricParams):
    shorthand = "word"
    word: str = Field(description="the word the output must mention")


@metric("mentions", params=Params, summary="output mentions a word", example="mentions: refund")
def mentions(sample: Sample, params: Params) -> bool:
    return params.word.lower() in sample.output.lower()


class ShoutConfig(ModelConfig):
    model: str = "shout"


@provider("shout", config=ShoutConfig, summary="answers in capitals")
class Shout:
    def __init__(self, config: ModelConfig) -> None:
        self.config = config

    async def complete(self, prompt: Prompt) -> Completion:
        text = prompt.messages[-1].content.upper()
        return Completion(text, Usage(1, 1), 1.0, "stop", "shout")

    async def aclose(self) -> None:
        pass
"""


def _install(site: Path) -> None:
    """A package as pip would leave it: its module and its entry points in a dist-info."""
    (site / "myplugin").mkdir(parents=True)
    (site / "myplugin" / "__init__.py").write_text(PLUGIN)
    info = site / "myplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[promptbench.metrics]\nmyplugin = myplugin\n\n[promptbench.providers]\nshout = myplugin\n"
    )


def _promptbench(*args: str, cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PROMPTBENCH_CACHE": str(cwd / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(cwd / "runs"),
    }
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_plugin_registers_a_metric_and_a_provider(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    listed = _promptbench("metrics", "--json", cwd=tmp_path, site=site)
    assert listed.returncode == 0, listed.stderr
    entry = next(m for m in json.loads(listed.stdout) if m["name"] == "mentions")
    assert entry["origin"] == "myplugin"
    assert entry["params"][0]["description"] == "the word the output must mention"
    providers = json.loads(_promptbench("providers", "--json", cwd=tmp_path, site=site).stdout)
    assert "shout" in {p["name"] for p in providers["providers"]}

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: plug\nprompts: {p: '{{ q }}'}\nmodels: {loud: {provider: shout}}\n"
        "cases: [{id: a, q: refund please}, {id: b, q: hello}]\n"
        "metrics: [{mentions: REFUND}]\n"
    )
    done = _promptbench("run", str(suite), "--json", "-q", cwd=tmp_path, site=site)
    assert done.returncode == 0, done.stderr
    group = json.loads(done.stdout)["summary"]["groups"][0]
    assert group["metrics"]["mentions"]["passed"] == 1
    assert group["metrics"]["mentions"]["failed"] == 1


def test_a_broken_plugin_does_not_break_the_tool(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    (site / "myplugin" / "__init__.py").write_text("raise RuntimeError('broken plugin')\n")
    listed = _promptbench("metrics", cwd=tmp_path, site=site)
    assert listed.returncode == 0
    assert "plugin failed to load: myplugin (myplugin): broken plugin" in listed.stdout
    assert "exact" in listed.stdout  # the built-ins are all there
