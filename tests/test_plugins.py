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


def _install(
    site: Path,
    package: str = "myplugin",
    code: str = PLUGIN,
    entry_points: str = "[promptbench.metrics]\nmyplugin = myplugin\n\n"
    "[promptbench.providers]\nshout = myplugin\n",
) -> None:
    """A package as pip would leave it: its module and its entry points in a dist-info."""
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(code)
    info = site / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def _promptbench(
    *args: str, cwd: Path, site: Path, plugins: str | None = None
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promptbench")
    command = [exe] if exe else [sys.executable, "-m", "promptbench"]
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PROMPTBENCH_CACHE": str(cwd / "cache.db"),
        "PROMPTBENCH_RUNS_DIR": str(cwd / "runs"),
    }
    env.pop("PROMPTBENCH_PLUGINS", None)
    if plugins is not None:
        env["PROMPTBENCH_PLUGINS"] = plugins
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


SUITE = (
    "name: plug\nprompts: {p: '{{ q }}'}\nmodels: {m: {provider: mock}}\n"
    "cases: [{id: a, q: refund please}]\nmetrics: [{mentions: refund}]\n"
)


def test_a_plugin_that_fails_to_load_is_named_when_its_metric_is_unknown(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    (site / "myplugin" / "__init__.py").write_text("raise RuntimeError('broken plugin')\n")
    (tmp_path / "suite.yaml").write_text(SUITE)
    done = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site)
    assert done.returncode == 2, done.stderr
    assert "unknown metric 'mentions'" in done.stderr
    assert "plugin failed to load: myplugin (myplugin): broken plugin" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing called, nothing written


CLASH = """
from promptbench.metrics import Sample, metric


@metric("exact", summary="a different exact", example="exact: x")
def exact(sample: Sample, params: object) -> bool:
    return True
"""


def test_a_plugin_cannot_replace_a_built_in_metric(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site, "clash", CLASH, "[promptbench.metrics]\nclash = clash\n")
    (tmp_path / "suite.yaml").write_text(
        "name: plug\nprompts: {p: '{{ q }}'}\nmodels: {m: {provider: mock}}\n"
        "cases: [{id: a, q: hi, expected: no}]\nmetrics: [{exact: '{{ expected }}'}]\n"
    )
    done = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "metric 'exact' is registered by both 'promptbench' and 'clash'" in done.stderr
    listed = _promptbench("metrics", cwd=tmp_path, site=site)
    assert listed.returncode == 0
    assert "registered by both 'promptbench' and 'clash'" in " ".join(listed.stdout.split())
    # Leaving the plugin out gives the built-in back.
    alone = _promptbench("run", "suite.yaml", "--json", cwd=tmp_path, site=site, plugins="none")
    assert alone.returncode == 0, alone.stderr
    exact = json.loads(alone.stdout)["summary"]["groups"][0]["metrics"]["exact"]
    assert exact["failed"] == 1  # the built-in: the mock's answer is not 'no'


def test_two_plugins_that_register_one_provider_name_are_both_named(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    second = PLUGIN.replace('@metric("mentions"', '@metric("mentions_too"')
    _install(site, "otherplugin", second, "[promptbench.providers]\nloud = otherplugin\n")
    (tmp_path / "suite.yaml").write_text(SUITE.replace("provider: mock", "provider: shout"))
    done = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "provider 'shout' is registered by both" in done.stderr
    assert "'myplugin'" in done.stderr
    assert "'otherplugin'" in done.stderr
    # Loading only one of them, by distribution name, settles it.
    one = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site, plugins="myplugin")
    assert one.returncode == 0, one.stdout + one.stderr


def test_promptbench_plugins_limits_which_entry_points_load(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install(site)
    (tmp_path / "suite.yaml").write_text(SUITE)
    for allowed in ("myplugin", " MyPlugin , other"):  # by entry-point/distribution name
        done = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site, plugins=allowed)
        assert done.returncode in (0, 1), done.stderr  # ran: mentions is known
    for allowed in ("none", "", "other"):
        done = _promptbench("run", "suite.yaml", "-q", cwd=tmp_path, site=site, plugins=allowed)
        assert done.returncode == 2, done.stderr
        assert "unknown metric 'mentions'" in done.stderr
        assert "not loaded (PROMPTBENCH_PLUGINS): myplugin (myplugin)" in done.stderr
    listed = _promptbench("metrics", "--json", cwd=tmp_path, site=site, plugins="none")
    names = {m["name"] for m in json.loads(listed.stdout)}
    assert "exact" in names  # the built-ins always load
    assert "mentions" not in names
