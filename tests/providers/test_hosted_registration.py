"""The hosted providers register through entry points, and list without importing their SDKs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import yaml

from promptbench.providers import providers

ROOT = Path(__file__).resolve().parents[2]
HOSTED = {"anthropic", "gemini", "azure"}


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_pyproject_names_each_hosted_provider_as_an_entry_point() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    points = data["project"]["entry-points"]["promptbench.providers"]
    assert set(points) >= HOSTED
    for name in HOSTED:
        module, attr = points[name].split(":")
        cls = getattr(import_module(module), attr)
        assert providers.get(name).factory is cls
    extras = data["project"]["optional-dependencies"]
    assert {"anthropic", "gemini", "azure"} <= set(extras)


def test_providers_lists_them_from_the_installed_entry_points_without_importing_sdks() -> None:
    # A fresh interpreter: only entry points can have registered them.
    done = _python(
        "import json, sys\n"
        "from promptbench.cli import main\n"
        "sys.argv = ['promptbench', 'providers', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('anthropic', 'google.genai', 'openai') if m in sys.modules]\n"
        "print(json.dumps(loaded))\n"
    )
    assert done.returncode == 0, done.stderr
    *table, loaded = done.stdout.strip().splitlines()
    listed = {p["name"]: p for p in json.loads("\n".join(table))["providers"]}
    assert set(listed) >= HOSTED, "reinstall (pip install -e .) to refresh the entry points"
    assert all(listed[name]["origin"] == "built-in" for name in HOSTED)
    assert json.loads(loaded) == []  # SDKs are imported on the first call, not to list


def test_every_model_entry_in_the_readme_table_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Reaching each provider", 1)[1].split("\n### ", 1)[0]
    entries = re.findall(r"^\| [^|]+ \| `(\{provider: [^`]+\})` \|", section, flags=re.M)
    assert len(entries) == 13
    named = set()
    for text in entries:
        entry = yaml.safe_load(text)
        providers.get(entry["provider"]).config.model_validate(entry)
        named.add(entry["provider"])
    assert named == {"openai", *HOSTED}
