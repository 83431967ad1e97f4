"""Nunjucks templates (promptfoo's) rewritten as Jinja2 templates (promptbench's).

Nunjucks is a port of Jinja2, so most templates are already valid; what differs
and matters for prompts is rewritten inside ``{{ }}`` and ``{% %}`` only, never in
the text around them:

- ``dump`` (JSON.stringify) is Jinja2's ``tojson``; ``dump(2)`` is ``tojson(2)``.
- JavaScript spellings: ``x.length`` is ``x | length``; ``===``/``!==`` are ``==``/``!=``;
  ``&&``, ``||`` and ``!x`` are ``and``, ``or`` and ``not x``; ``null`` and
  ``undefined`` are ``none``; ``elseif`` is ``elif``.
- ``{% for k, v in obj %}`` walks an object's entries in nunjucks; Jinja2 needs
  ``obj.items()``.

What cannot be rewritten (regular-expression literals ``r/.../``, promptfoo's own
filters) is reported, and the text is left as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Converted", "to_jinja"]


@dataclass
class Converted:
    """A rewritten template and what was changed or could not be."""

    text: str
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_TAG = re.compile(r"({{-?|{%-?)(.*?)(-?}}|-?%})", re.DOTALL)
_STRING = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_FOR_PAIR = re.compile(r"^(\s*for\s+\w+\s*,\s*\w+\s+in\s+)(.+?)(\s*)$", re.DOTALL)

# (pattern, replacement, what is said about it)
_REWRITES: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"\|\s*dump\b"),
        "| tojson",
        "dump is tojson (which writes ', ' and ': ' between items and sorts keys)",
    ),
    (re.compile(r"(\w|\)|\])\.length\b"), r"\1 | length", ".length is | length"),
    (re.compile(r"===?"), "==", "=== is =="),
    (re.compile(r"!=="), "!=", "!== is !="),
    (re.compile(r"&&"), " and ", "&& is and"),
    (re.compile(r"\|\|"), " or ", "|| is or"),
    (re.compile(r"!(?!=)"), " not ", "! is not"),
    (re.compile(r"\b(null|undefined)\b"), "none", "null is none"),
    (re.compile(r"^(\s*)elseif\b"), r"\1elif", "elseif is elif"),
]
# Filters promptfoo adds (nunjucksFilters) or nunjucks has and Jinja2 does not.
_UNKNOWN_FILTERS = {"nl2br", "safeDump", "load", "json"}
_FILTER = re.compile(r"\|\s*([A-Za-z_]\w*)")


def _rewrite_code(code: str, changes: list[str], problems: list[str]) -> str:
    """Rewrite the code inside one tag, leaving string literals alone."""
    if re.search(r"(^|[\s(,=])r/", code):
        problems.append("a regular-expression literal (r/.../) has no Jinja2 equivalent")
    pieces = _STRING.split(code)
    for i in range(0, len(pieces), 2):  # even pieces are outside string literals
        piece = pieces[i]
        # '==' would turn into '=' + '=' by the === rule's neighbour; protect it.
        for pattern, replacement, what in _REWRITES:
            if pattern.pattern == "===?":
                new = re.sub(r"===", "==", piece)
            else:
                new = pattern.sub(replacement, piece)
            if new != piece:
                if what not in changes:
                    changes.append(what)
                piece = new
        for name in _FILTER.findall(piece):
            if name in _UNKNOWN_FILTERS:
                problems.append(f"the filter '{name}' does not exist in Jinja2")
        pieces[i] = re.sub(r"  +", " ", piece) if piece != pieces[i] else piece
    code = "".join(pieces)
    match = _FOR_PAIR.match(code)
    if match and not match.group(2).rstrip().endswith((".items()", "| dictsort")):
        code = f"{match.group(1)}({match.group(2).strip()}).items(){match.group(3)}"
        changes.append("for k, v in obj is for k, v in obj.items()")
    return code


def to_jinja(template: str) -> Converted:
    """Rewrite a nunjucks template as Jinja2; ``changes`` says what was rewritten."""
    changes: list[str] = []
    problems: list[str] = []

    def tag(match: re.Match[str]) -> str:
        opening, code, closing = match.groups()
        return opening + _rewrite_code(code, changes, problems) + closing

    text = _TAG.sub(tag, template)
    return Converted(text, changes, list(dict.fromkeys(problems)))
