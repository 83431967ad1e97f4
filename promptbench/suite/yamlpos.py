"""YAML loading that remembers where every key and value came from.

The loader composes the YAML node tree, builds plain Python data from it, and
records for each path (a tuple of keys and list indices, the same shape as a
pydantic error location) the 1-based line and column of the key and of the
value. Validation errors can then name ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from promptbench.errors import Issue, SuiteError

Path = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader]
try:
    _Loader = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # libyaml missing: the pure-Python loader is slower but equal
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass
class Located:
    """Data loaded from a file, with the position of every key and value."""

    file: str
    data: Any
    keys: dict[Path, Pos] = field(default_factory=dict)
    values: dict[Path, Pos] = field(default_factory=dict)
    # Values written as literal blocks (``key: |``): their text starts on the next line.
    literal: set[Path] = field(default_factory=set)

    def pos(self, path: Path, *, prefer_key: bool = False) -> Pos | None:
        """Return the position of ``path``, or of its nearest located ancestor."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            found = first.get(sub) or second.get(sub)
            if found is not None:
                return found
        return None

    def issue(self, path: Path, message: str, *, prefer_key: bool = False) -> Issue:
        """Build an issue at ``path``."""
        pos = self.pos(path, prefer_key=prefer_key)
        return Issue(
            self.file,
            message,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            field=format_path(path) or None,
        )


def format_path(path: Path) -> str:
    """Format a path as ``models.mini.temperature`` or ``cases[3].vars``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _mark(m: yaml.Mark) -> Pos:
    return Pos(m.line + 1, m.column + 1)


def load_yaml(text: str, file: str) -> Located:
    """Parse one YAML document, keeping positions; syntax errors become a SuiteError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(file, None)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        start = exc.context_mark
        if exc.problem and exc.context and start and mark and start.line != mark.line:
            # An unclosed bracket or quote is found lines later: say where it opened.
            problem += f" ({exc.context} that starts at line {start.line + 1})"
        raise SuiteError(
            [
                Issue(
                    file,
                    f"YAML syntax error: {problem}; check the indentation and quoting there",
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError([Issue(file, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    located = Located(file, data)
    located.values[()] = _mark(node.start_mark)  # a missing top-level field points here
    issues: list[Issue] = []
    _walk(node, data, (), located, issues)
    if issues:
        raise SuiteError(issues)
    return located


def _walk(node: yaml.Node, data: Any, path: Path, out: Located, issues: list[Issue]) -> None:
    if isinstance(node, yaml.ScalarNode) and node.style == "|":
        out.literal.add(path)
    elif isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: dict[Any, Pos] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            # Keys are looked up as the constructed data has them (1: becomes int 1).
            real_key = next((k for k in data if str(k) == key), key)
            if real_key in seen:
                first = seen[real_key]
                issues.append(
                    Issue(
                        out.file,
                        f"duplicate key '{key}' (first at line {first.line}); "
                        "YAML keeps only the last one, so remove one of them",
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        field=format_path((*path, str(real_key))),
                    )
                )
            seen[real_key] = _mark(key_node.start_mark)
            sub = (*path, real_key if isinstance(real_key, (str, int)) else str(real_key))
            out.keys[sub] = _mark(key_node.start_mark)
            out.values[sub] = _mark(value_node.start_mark)
            if real_key in data:
                _walk(value_node, data[real_key], sub, out, issues)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for i, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            sub = (*path, i)
            out.values[sub] = _mark(item_node.start_mark)
            _walk(item_node, item, sub, out, issues)
