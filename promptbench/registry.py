"""A named registry filled by decorators and by entry points.

Built-ins register exactly like third-party plugins: promptbench's own
``pyproject.toml`` names its built-in modules under the same entry-point groups
(``promptbench.providers``, ``promptbench.metrics``) that a plugin package uses.
Loading an entry point imports its module, whose decorators register the
things it defines. Entry points are loaded lazily, on the first lookup, so
``promptbench --help`` never imports a provider.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from promptbench.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """Things of one kind, by name."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._loaded = False
        self._load_errors: list[str] = []

    def register(self, name: str, item: T, origin: str = "") -> T:
        """Add ``item`` under ``name``; a later registration of the same name wins."""
        self._items[name] = item
        self._origins[name] = origin
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers what it decorates under ``name``."""

        def wrap(item: T) -> T:
            module = getattr(item, "__module__", "")
            return self.register(name, item, origin=module)

        return wrap

    def load_plugins(self) -> None:
        """Import every module named under this registry's entry-point group, once."""
        if self._loaded:
            return
        self._loaded = True
        for ep in entry_points(group=self.group):
            try:
                ep.load()
            except Exception as exc:  # a broken plugin must not break the tool
                self._load_errors.append(f"{ep.name} ({ep.value}): {exc}")

    def get(self, name: str) -> T:
        """Return the item registered as ``name``, or raise a UsageError naming the near ones."""
        if name not in self._items:
            self.load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise UsageError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """Say that ``name`` is not registered and what is."""
        self.load_plugins()
        close = difflib.get_close_matches(name, list(self._items), n=1)
        known = ", ".join(sorted(self._items))
        hint = f"did you mean '{close[0]}'?" if close else f"known: {known}"
        return f"unknown {self.kind} '{name}'; {hint}"

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
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

    @property
    def load_errors(self) -> list[str]:
        """Plugins that failed to import, with the reason."""
        return list(self._load_errors)
