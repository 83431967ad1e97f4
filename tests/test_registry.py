"""The registry imports only what a lookup needs, and still finds every plugin by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import import_module
from importlib.metadata import EntryPoint
from pathlib import Path
from types import SimpleNamespace

import pytest

from promptbench import registry as registry_module
from promptbench.errors import UsageError
from promptbench.metrics import metrics
from promptbench.metrics.base import BUILTIN_METRICS
from promptbench.providers import providers
from promptbench.providers.base import BUILTIN_PROVIDERS
from promptbench.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (nothing imported yet); its last line is JSON."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("PROMPTBENCH_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the tables of built-ins against what their modules register ---------------------------


@pytest.mark.parametrize(
    ("registry", "table"), [(metrics, BUILTIN_METRICS), (providers, BUILTIN_PROVIDERS)]
)
def test_each_built_in_name_is_registered_by_the_module_its_table_names(
    registry: Registry[object], table: dict[str, str]
) -> None:
    for module in set(table.values()):
        import_module(module)
    registry.load_plugins()
    builtin = {
        name: origin
        for name, _, origin in registry.items()
        if registry.package(name) == "promptbench"
    }
    assert builtin == table  # no built-in left out of its table, none named wrongly


def test_the_provider_table_is_what_pyproject_names_as_entry_points() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    points = data["project"]["entry-points"]["promptbench.providers"]
    assert {name: value.partition(":")[0] for name, value in points.items()} == BUILTIN_PROVIDERS
    metric_points = data["project"]["entry-points"]["promptbench.metrics"]
    assert metric_points == {"builtin": "promptbench.metrics.builtin"}


# -- laziness, in a fresh interpreter: not a timing, a list of modules ---------------------

HEAVY = ("aiohttp", "openai", "anthropic", "google.genai", "numpy", "pandas", "rapidfuzz")


def test_a_built_in_name_imports_its_own_module_and_no_other() -> None:
    loaded = _python(
        "import json, sys\n"
        "from promptbench.metrics import metrics\n"
        "from promptbench.providers import providers\n"
        "metrics.get('exact'); providers.get('mock')\n"
        "print(json.dumps({'modules': sorted(sys.modules)}))\n"
    )["modules"]
    assert isinstance(loaded, list)
    ours = {m for m in loaded if m.startswith(("promptbench.metrics.", "promptbench.providers."))}
    assert "promptbench.metrics.string" in ours
    assert "promptbench.providers.mock" in ours
    others = set(BUILTIN_METRICS.values()) | set(BUILTIN_PROVIDERS.values())
    others -= {"promptbench.metrics.string", "promptbench.providers.mock"}
    assert not ours & others, sorted(ours & others)
    assert not set(HEAVY) & set(loaded), sorted(set(HEAVY) & set(loaded))


def test_listing_imports_every_built_in() -> None:
    loaded = _python(
        "import json, sys\n"
        "from promptbench.metrics import metrics\n"
        "names = metrics.names()\n"
        "print(json.dumps({'modules': sorted(sys.modules), 'names': names}))\n"
    )
    assert set(BUILTIN_METRICS.values()) <= set(loaded["modules"])  # type: ignore[arg-type]
    assert loaded["names"] == sorted(BUILTIN_METRICS)


# -- third-party entry points, in-process: a registry of our own and a fake entry point ----


def _fake_plugin(tmp_path: Path, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(body, encoding="utf-8")
    return name


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("PROMPTBENCH_PLUGINS", raising=False)
    yield tmp_path
    for name in ("pb_fake_plugin", "pb_fake_builtin", "pb_fake_clash", "pb_fake_broken"):
        sys.modules.pop(name, None)


def _registry_with(
    monkeypatch: pytest.MonkeyPatch, group: str, points: list[EntryPoint]
) -> Registry[str]:
    """A registry whose installed entry points are ``points``; the fake modules fill it."""
    found = {group: points}
    monkeypatch.setattr(registry_module, "_entry_points", lambda g: list(found.get(g, [])))
    builtins = {"alpha": "pb_fake_builtin", "beta": "pb_fake_broken"}
    registry: Registry[str] = Registry(group, "thing", builtins)
    monkeypatch.setitem(sys.modules, "pb_fake_target", SimpleNamespace(REGISTRY=registry))
    return registry


BUILTIN_BODY = (
    "import pb_fake_target\n"
    "pb_fake_target.REGISTRY.register('alpha', 'the built-in alpha', origin='promptbench.fake')\n"
)


def test_a_third_party_plugin_is_found_by_a_name_the_built_ins_lack(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_plugin(plugin_site, "pb_fake_builtin", BUILTIN_BODY)
    _fake_plugin(
        plugin_site,
        "pb_fake_plugin",
        "import pb_fake_target\n"
        "pb_fake_target.REGISTRY.register('omega', 'a plugin omega', origin='pb_fake_plugin')\n",
    )
    point = EntryPoint(name="fake", value="pb_fake_plugin", group="pb.things")
    things = _registry_with(monkeypatch, "pb.things", [point])
    assert things.get("omega") == "a plugin omega"
    assert things.package("omega") == "pb_fake_plugin"
    assert "omega" in things
    # Finding it loaded everything: the built-ins first, then the plugin.
    assert "pb_fake_builtin" in sys.modules
    assert things.names() == ["alpha", "omega"]


def test_a_built_in_name_loads_no_plugin_when_none_is_installed(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_plugin(plugin_site, "pb_fake_builtin", BUILTIN_BODY)
    things = _registry_with(monkeypatch, "pb.things", [])
    assert things.get("alpha") == "the built-in alpha"
    assert not things._loaded  # the lookup imported one module, not everything
    with pytest.raises(UsageError, match="unknown thing 'omega'; expected one of: alpha"):
        things.get("omega")


def test_an_installed_plugin_that_claims_a_built_in_name_is_a_conflict(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_plugin(plugin_site, "pb_fake_builtin", BUILTIN_BODY)
    _fake_plugin(
        plugin_site,
        "pb_fake_clash",
        "import pb_fake_target\n"
        "pb_fake_target.REGISTRY.register('alpha', 'another alpha', origin='pb_fake_clash')\n",
    )
    point = EntryPoint(name="clash", value="pb_fake_clash", group="pb.things")
    things = _registry_with(monkeypatch, "pb.things", [point])
    # Looked up by its built-in name, the plugin is still loaded and found out.
    with pytest.raises(UsageError, match="registered by both 'promptbench' and 'pb_fake_clash'"):
        things.get("alpha")
    # Left out by PROMPTBENCH_PLUGINS, it is not loaded for a built-in name.
    monkeypatch.setenv("PROMPTBENCH_PLUGINS", "none")
    sys.modules.pop("pb_fake_builtin", None)
    sys.modules.pop("pb_fake_clash", None)
    things = _registry_with(monkeypatch, "pb.things", [point])
    assert things.get("alpha") == "the built-in alpha"
    assert "pb_fake_clash" not in sys.modules


def test_a_built_in_module_that_fails_to_import_is_said_not_raised(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_plugin(plugin_site, "pb_fake_builtin", BUILTIN_BODY)
    _fake_plugin(plugin_site, "pb_fake_broken", "import pb_no_such_dependency\n")
    things = _registry_with(monkeypatch, "pb.things", [])
    assert things.get("alpha") == "the built-in alpha"  # its module is not the broken one
    with pytest.raises(UsageError, match="failed to load: pb_fake_broken: No module named"):
        things.get("beta")
    assert things.names() == ["alpha"]
    assert len(things.load_errors) == 1  # said once, though imported for two reasons
