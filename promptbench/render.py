"""Render Jinja2 templates strictly, once, in a sandbox.

Templates run in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: an
undefined variable is an error that names the case, the variant, the template
and the variable, never an empty string. A variable's value is inserted as text
and never rendered again, so a case whose text contains ``{{ }}`` is safe.
"""

from __future__ import annotations

import math
import re
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from promptbench.errors import RenderError

_TEMPLATE_MARK = re.compile(r"\{\{|\{%|\{#")


def is_template(text: str) -> bool:
    """Whether ``text`` contains Jinja2 syntax and so needs rendering."""
    return _TEMPLATE_MARK.search(text) is not None


_JINJA_NAMES = frozenset(
    {
        "true",
        "false",
        "none",
        "True",
        "False",
        "None",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "loop",
        "self",
        "varargs",
        "kwargs",
        "caller",
    }
)
_PLACEHOLDER = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")


def _substitution(source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Split a template made only of text and ``{{ name }}`` into its literals and names.

    Most prompt templates are like this; substituting them directly gives what
    Jinja2 gives (``str`` of the value; one trailing newline dropped) at a small
    fraction of the cost. Anything else (filters, tags, attributes, whitespace
    control) goes through Jinja2.
    """
    parts = _PLACEHOLDER.split(source)
    literals, names = tuple(parts[0::2]), tuple(parts[1::2])
    if not names or any(_TEMPLATE_MARK.search(lit) or "}}" in lit for lit in literals):
        return None
    if any(name in _JINJA_NAMES for name in names):  # literals and globals mean something else
        return None
    if literals[-1].endswith("\n"):  # Jinja2 drops one trailing newline (keep_trailing_newline)
        literals = (*literals[:-1], literals[-1][:-1])
    return literals, names


@dataclass(frozen=True)
class Template:
    """A compiled template and where it came from (a file path or a suite field)."""

    source: str
    origin: str
    compiled: jinja2.Template | None  # None: plain text, nothing to render
    fast: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # literals and names

    def render(self, context: Mapping[str, Any], *, where: str) -> str:
        """Render with ``context``; ``where`` names the case and variant for errors."""
        if self.compiled is None:
            return self.source
        if self.fast is not None:
            return self._substitute(context, where)
        try:
            return self.compiled.render(context)
        except jinja2.UndefinedError as exc:
            raise RenderError(
                f"template {self._at(exc)}: {_undefined_message(exc)}; "
                "add it to the case's vars or fix the template",
                where=where,
            ) from None
        except SecurityError as exc:
            raise RenderError(
                f"template {self._at(exc)}: unsafe operation blocked by the sandbox: "
                f"{str(exc).rstrip('.')}; "
                "templates may only use the case's values, filters and tests",
                where=where,
            ) from None
        except jinja2.TemplateNotFound as exc:
            raise RenderError(
                f"template {self._at(exc)}: template '{exc.name}' not found; include and import "
                "look in the suite's directory, the one above it, and prompts/ in either",
                where=where,
            ) from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {self._at(exc)}: {exc}", where=where) from None
        except Exception as exc:  # errors raised by filters on user data
            raise RenderError(
                f"template {self._at(exc)}: {type(exc).__name__}: {exc}", where=where
            ) from None

    def _at(self, exc: BaseException) -> str:
        """The template and, when known, the line an error came from."""
        line = _template_line(exc, self.compiled) if self.compiled is not None else None
        return f"{self.origin}:{line}" if line else self.origin

    def _substitute(self, context: Mapping[str, Any], where: str) -> str:
        literals, names = self.fast or ((), ())
        out = [literals[0]]
        for name, literal in zip(names, literals[1:], strict=True):
            try:
                value = context[name]
            except KeyError:
                line = self._line_of(name)
                raise RenderError(
                    f"template {self.origin}:{line}: undefined variable '{name}'; "
                    "add it to the case's vars or fix the template",
                    where=where,
                ) from None
            out.append(value if isinstance(value, str) else str(value))
            out.append(literal)
        return "".join(out)

    def _line_of(self, name: str) -> int:
        for match in _PLACEHOLDER.finditer(self.source):
            if match.group(1) == name:
                return self.source.count("\n", 0, match.start()) + 1
        return 1


MAX_RESULT_ITEMS = 1_000_000  # characters of a string, items of a list, digits of a number


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox, which also refuses arithmetic that would exhaust memory or CPU.

    ``{{ 'a' * 10**9 }}`` or ``{{ 9 ** 9 ** 9 }}`` from a suite in an untrusted pull
    request would otherwise take the machine down; attribute access is already
    guarded by the sandbox.
    """

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        """Check a repetition or a power before computing it."""
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple))
                    and isinstance(times, int)
                    and (len(seq) * times > MAX_RESULT_ITEMS)
                ):
                    raise SecurityError(
                        f"repeating a value {times} times makes more than "
                        f"{MAX_RESULT_ITEMS:,} items"
                    )
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            digits = abs(right) * max(1.0, math.log10(abs(left) or 1)) if right > 0 else 0
            if digits > MAX_RESULT_ITEMS:
                raise SecurityError(f"{left} ** {right} has more than {MAX_RESULT_ITEMS:,} digits")
        return super().call_binop(context, operator, left, right)


class Renderer:
    """Compiles templates once; ``include`` and ``import`` look in the search path."""

    def __init__(self, search_path: Iterable[Path] = ()) -> None:
        self.env = BoundedSandbox(
            loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._cache: dict[str, Template] = {}

    def from_string(self, source: str, origin: str) -> Template:
        """Compile an inline template; syntax errors raise RenderError naming ``origin``."""
        key = f"{origin}\0{source}"
        if key in self._cache:
            return self._cache[key]
        compiled: jinja2.Template | None = None
        if is_template(source):
            try:
                # Compiled under the origin's name, so traceback frames point at it.
                code = self.env.compile(source, name=origin, filename=origin)
            except jinja2.TemplateSyntaxError as exc:
                raise RenderError(
                    f"template syntax error: {exc.message}", origin=origin, line=exc.lineno
                ) from None
            except RecursionError:
                raise RenderError(
                    "the template nests too deeply to compile; simplify it", origin=origin
                ) from None
            compiled = self.env.template_class.from_code(
                self.env, code, self.env.make_globals(None)
            )
        template = Template(source, origin, compiled, _substitution(source) if compiled else None)
        self._cache[key] = template
        return template

    def from_file(self, path: Path, origin: str) -> Template:
        """Compile a template file (read as UTF-8)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RenderError(f"cannot read: {exc.strerror}", origin=origin) from None
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RenderError(
                f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                origin=origin,
                line=raw.count(b"\n", 0, exc.start) + 1,
            ) from None
        source = source.replace("\r\n", "\n").replace("\r", "\n")  # as read_text reads it
        return self.from_string(source, origin)

    def render_text(self, source: str, context: Mapping[str, Any], *, where: str) -> str:
        """Compile (cached) and render a short template such as a metric parameter."""
        return self.from_string(source, where).render(context, where=where)


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    msg = exc.message or str(exc)
    match = re.match(r"'([^']+)' is undefined", msg)
    if match:
        return f"undefined variable '{match.group(1)}'"
    match = re.match(r"'.+' has no attribute '([^']+)'", msg)
    if match:
        return f"undefined attribute '{match.group(1)}' ({msg})"
    return msg


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line an error came from: Jinja2 rewrites frames to point at it."""
    name = template.filename
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == name:
            line = frame.lineno
    return line
