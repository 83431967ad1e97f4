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

# Where a value sits in a YAML document: the keys and list indices from its root.
KeyPath = tuple[str | int, ...]

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
    keys: dict[KeyPath, Pos] = field(default_factory=dict)
    values: dict[KeyPath, Pos] = field(default_factory=dict)
    # Values written as literal blocks (``key: |``): their text starts on the next line.
    literal: set[KeyPath] = field(default_factory=set)

    def pos(self, path: KeyPath, *, prefer_key: bool = False) -> Pos | None:
        """Return the position of ``path``, or of its nearest located ancestor."""
        for end in range(len(path), -1, -1):
            sub = path[:end]
            first, second = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            found = first.get(sub) or second.get(sub)
            if found is not None:
                return found
        return None

    def issue(
        self, path: KeyPath, message: str, *, prefer_key: bool = False, hint: str | None = None
    ) -> Issue:
        """Build an issue at ``path``; ``hint`` names the run option that bears on it."""
        pos = self.pos(path, prefer_key=prefer_key)
        return Issue(
            self.file,
            message,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            field=format_path(path) or None,
            hint=hint,
        )


def format_path(path: KeyPath) -> str:
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


# Values a document may gain through aliases (``*name``): a few kilobytes of nested
# aliases ("billion laughs") would otherwise expand to billions of values.
MAX_ALIAS_VALUES = 1_000_000


def load_yaml(text: str, file: str) -> Located:
    """Parse one YAML document, keeping positions; syntax errors become a SuiteError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(file, None)
        _check_aliases(node, file)
        data = loader.construct_document(node)
    except RecursionError:
        raise SuiteError(
            [Issue(file, "the YAML nests too deeply; flatten the structure")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        start = exc.context_mark
        fix = "check the indentation and quoting there"
        opened = _runaway_quote(text, mark) if mark is not None else None
        if mark is not None and text[mark.index : mark.index + 1] == "\t":
            problem, fix = "a tab character", "YAML indents with spaces only: replace it"
        elif exc.problem == "but found another document":
            problem = "a second YAML document starts here (---)"
            fix = "keep one document per file: remove the --- and what follows, or split the file"
        elif opened is not None and mark is not None:
            # A quote left open swallows the lines after it up to the next quote
            # character, and YAML fails there: point at the quote instead.
            problem = (
                f"this quoted string is not closed on its line; it runs on to line "
                f"{mark.line + 1}, where YAML fails ({problem})"
            )
            fix = "close the quote"
            mark = opened
        elif exc.problem and exc.context and start and mark and start.line != mark.line:
            # An unclosed bracket or quote is found lines later: say where it opened.
            problem += f" ({exc.context} that starts at line {start.line + 1})"
        raise SuiteError(
            [
                Issue(
                    file,
                    f"YAML syntax error: {problem}; {fix}",
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


def _check_aliases(root: yaml.Node, file: str) -> None:
    """Refuse a document that aliases expand too far, or whose alias contains itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            mark = node.start_mark
            raise SuiteError.one(
                file,
                "an alias (*name) refers to the value that contains it; write the value out",
                line=mark.line + 1,
                column=mark.column + 1,
            )
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        open_nodes.discard(key)
        sizes[key] = total
        return total

    if size(root) - len(sizes) > MAX_ALIAS_VALUES:
        raise SuiteError.one(
            file,
            f"aliases (*name) expand this YAML to more than {MAX_ALIAS_VALUES:,} values; "
            "write the values out, or use fewer aliases",
        )


def _runaway_quote(text: str, mark: yaml.Mark) -> yaml.Mark | None:
    """Where a quoted string opens that spans lines and ends just where parsing failed."""
    try:
        for token in yaml.scan(text, Loader=_Loader):
            start: yaml.Mark = token.start_mark
            end: yaml.Mark = token.end_mark
            if end.index > mark.index:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and start.line < end.line
                and end.index == mark.index
            ):
                return start
    except yaml.YAMLError:
        pass
    return None


def _walk(node: yaml.Node, data: Any, path: KeyPath, out: Located, issues: list[Issue]) -> None:
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
