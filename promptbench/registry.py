"""A named registry filled by decorators and by entry points.

Built-ins register exactly like third-party plugins: importing a module runs its
decorators, which register what it defines. promptbench's own ``pyproject.toml``
names its built-in modules under the same entry-point groups
(``promptbench.providers``, ``promptbench.metrics``) that a plugin package uses,
and each registry also knows, by name, which built-in module registers each
built-in name (``builtins``), so that it can import as little as a lookup needs:

* a built-in name imports only its own module (a suite that uses ``exact`` never
  imports rapidfuzz, jsonschema or an SDK), as long as no third-party plugin of
  the group is installed: the installed entry points are read (package metadata,
  a few milliseconds), not loaded;
* any other name, a listing (``names``, ``items``, ``problems``), or an installed
  third-party plugin loads everything, as before: every built-in module first, then
  the plugins. So a plugin that claims a built-in name is still found out, and a
  plugin's name is found wherever it is registered.

Every name belongs to one package. A second package registering a name that is
taken is not a replacement: the name becomes a conflict, and using it is an
error naming both packages (so a plugin cannot silently change what a built-in
metric means). ``PROMPTBENCH_PLUGINS`` limits which third-party entry points
load, as llm's ``LLM_LOAD_PLUGINS`` does: a comma list of entry-point or
distribution names, or ``none``; promptbench's own entry points always load.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from promptbench.errors import UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

T = TypeVar("T")

PLUGINS_ENV = "PROMPTBENCH_PLUGINS"
BUILTIN_PACKAGE = "promptbench"  # the distribution (and top-level module) of the built-ins


def plugin_allowlist() -> frozenset[str] | None:
    """The names ``PROMPTBENCH_PLUGINS`` lets load; None when it is unset (all load)."""
    raw = os.environ.get(PLUGINS_ENV)
    if raw is None:
        return None
    names = {part.strip().lower() for part in raw.split(",")} - {""}
    return frozenset() if names <= {"none"} else frozenset(names - {"none"})


class _Installed(Protocol):
    # What importlib.metadata.entry_points() returns (EntryPoints; on 3.11 SelectableGroups).
    def select(self, *, group: str) -> Iterable[EntryPoint]: ...


@functools.cache
def _installed() -> _Installed:
    # Read once for both groups (every installed distribution's entry_points.txt), and
    # imported here, not at the top: `promptbench --help` has no use for it.
    from importlib.metadata import entry_points

    return entry_points()


def _entry_points(group: str) -> list[EntryPoint]:
    return list(_installed().select(group=group))


def _is_builtin(ep: EntryPoint) -> bool:
    # By module, not by distribution: a distribution's name is read from its METADATA
    # file, and promptbench's holds the whole README (tens of milliseconds to parse).
    return ep.module.partition(".")[0] == BUILTIN_PACKAGE


def _distribution(ep: EntryPoint) -> str:
    if _is_builtin(ep):
        return BUILTIN_PACKAGE
    dist = ep.dist
    return dist.name if dist is not None else ep.module.partition(".")[0]


def _allowed(name: str, package: str, allowed: frozenset[str] | None) -> bool:
    return allowed is None or name.lower() in allowed or package.lower() in allowed


class Registry(Generic[T]):
    """Things of one kind, by name, each owned by one package."""

    def __init__(self, group: str, kind: str, builtins: Mapping[str, str] | None = None) -> None:
        """``builtins`` maps each built-in name to the module whose import registers it."""
        self.group = group
        self.kind = kind
        self.builtins = dict(builtins or {})
        self._resolved: set[str] = set()  # built-in names whose module has been imported
        self._plugins_present: bool | None = None  # None: the entry points not read yet
        self._broken: set[str] = set()  # built-in modules that failed to import
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}  # name -> the module that registered it
        self._packages: dict[str, str] = {}  # name -> the package that owns it
        self._conflicts: dict[str, list[str]] = {}  # name -> every package that registered it
        self._module_packages: dict[str, str] = {}  # top-level module -> its distribution
        self._loaded = False
        self._load_errors: list[str] = []
        self._skipped: list[str] = []

    def _package_of(self, module: str) -> str:
        top = module.partition(".")[0]
        return self._module_packages.get(top, top)

    def register(self, name: str, item: T, origin: str = "") -> T:
        """Add ``item`` under ``name``, owned by the package of module ``origin``.

        The same package registering a name again replaces it (a module reloaded);
        another package's registration makes the name a conflict.
        """
        package = self._package_of(origin)
        owner = self._packages.get(name)
        if owner is not None and owner != package:
            claimants = self._conflicts.setdefault(name, [owner])
            if package not in claimants:
                claimants.append(package)
            return item
        self._items[name] = item
        self._origins[name] = origin
        self._packages[name] = package
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers what it decorates under ``name``."""

        def wrap(item: T) -> T:
            module = getattr(item, "__module__", "")
            return self.register(name, item, origin=module)

        return wrap

    def load_plugins(self) -> None:
        """Import every built-in module and the modules named under this group, once.

        The built-ins first, so that a conflict names the plugin as the newcomer;
        third-party ones only when ``PROMPTBENCH_PLUGINS`` allows them.
        """
        if self._loaded:
            return
        self._loaded = True
        for module in dict.fromkeys(self.builtins.values()):
            self._import_builtin(module)
        allowed = plugin_allowlist()
        found = sorted(
            _entry_points(self.group),
            key=lambda ep: (not _is_builtin(ep), ep.name),
        )
        for ep in found:
            package = _distribution(ep)
            if package != BUILTIN_PACKAGE and not _allowed(ep.name, package, allowed):
                self._skipped.append(f"{ep.name} ({package})")
                continue
            self._module_packages.setdefault(ep.module.partition(".")[0], package)
            try:
                ep.load()
            except Exception as exc:  # a broken plugin must not break the tool
                self._load_errors.append(f"{ep.name} ({ep.value}): {exc}")

    def _import_builtin(self, module: str) -> None:
        if module in self._broken:
            return
        try:
            import_module(module)
        except Exception as exc:  # a missing dependency, say: said as a plugin's would be
            self._broken.add(module)
            self._load_errors.append(f"{module}: {exc}")

    def _third_party(self) -> bool:
        """Whether a third-party entry point of this group would load (read once)."""
        if self._plugins_present is None:
            allowed = plugin_allowlist()
            self._plugins_present = any(
                not _is_builtin(ep)
                and (allowed is None or _allowed(ep.name, _distribution(ep), allowed))
                for ep in _entry_points(self.group)
            )
        return self._plugins_present

    def resolve(self, name: str) -> None:
        """Register ``name`` if anything can, importing as little as that takes.

        A built-in name imports its own module; anything else (or any name, once a
        third-party plugin is installed) loads every module, as :meth:`load_plugins`.
        """
        if self._loaded or name in self._resolved:
            return
        module = self.builtins.get(name)
        if module is None or self._third_party():
            self.load_plugins()
            return
        self._import_builtin(module)
        self._resolved.add(name)

    def get(self, name: str) -> T:
        """Return the item registered as ``name``; raise a UsageError saying why it is not."""
        problem = self.problem(name)
        if problem is not None:
            raise UsageError(problem)
        return self._items[name]

    def problem(self, name: str, listed_by: str = "") -> str | None:
        """Why ``name`` cannot be used (unknown, or claimed by two packages), or None.

        ``listed_by`` says where the user can see every name (a command), after the
        suggestion.
        """
        # A plugin claiming a built-in name makes it a conflict: resolve loads every
        # plugin whenever one is installed.
        self.resolve(name)
        if name in self._conflicts:
            return self.conflict_message(name)
        if name in self._items:
            return None
        return self.unknown_message(name, listed_by)

    def conflict_message(self, name: str) -> str:
        """Say which packages all register ``name``."""
        packages = " and ".join(f"'{p}'" for p in self._conflicts[name])
        return (
            f"{self.kind} '{name}' is registered by both {packages}; uninstall one, "
            f"or leave one out with {PLUGINS_ENV} (a comma list of the plugins to load)"
        )

    def unknown_message(self, name: str, listed_by: str = "") -> str:
        """Say that ``name`` is not registered, what is, and which plugins did not load."""
        self.load_plugins()
        close = difflib.get_close_matches(name, list(self._items), n=1)
        message = f"unknown {self.kind} '{name}'; " + (
            f"did you mean '{close[0]}'?"
            if close
            else "expected one of: " + ", ".join(sorted(self._items))
        )
        if listed_by:
            message += f" ({listed_by} lists them)"
        if self._load_errors:
            message += "; plugin failed to load: " + "; ".join(self._load_errors)
        if self._skipped:
            message += f"; not loaded ({PLUGINS_ENV}): " + ", ".join(self._skipped)
        return message

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self.resolve(name)
        return name in self._items

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self.load_plugins()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T, str]]:
        """Yield (name, item, origin module) for every registered item, sorted by name."""
        self.load_plugins()
        for name in sorted(self._items):
            yield name, self._items[name], self._origins[name]

    def package(self, name: str) -> str:
        """The package (distribution) that owns ``name``."""
        self.resolve(name)
        return self._packages[name]

    @property
    def load_errors(self) -> list[str]:
        """Plugins that failed to import, with the reason."""
        self.load_plugins()
        return list(self._load_errors)

    @property
    def problems(self) -> list[str]:
        """One line per plugin that failed, conflicts, or was left out by PROMPTBENCH_PLUGINS."""
        self.load_plugins()
        lines = [f"plugin failed to load: {e}" for e in self._load_errors]
        lines += [self.conflict_message(name) for name in sorted(self._conflicts)]
        lines += [f"plugin not loaded ({PLUGINS_ENV}): {s}" for s in self._skipped]
        return lines
