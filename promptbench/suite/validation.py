"""Turn pydantic validation errors into issues that name file, line, field and fix."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from pydantic import BaseModel, ValidationError

from promptbench.errors import Issue
from promptbench.suite.yamlpos import KeyPath, Located

M = TypeVar("M", bound=BaseModel)


def validate(cls: type[M], data: Any, src: Located, base: KeyPath, issues: list[Issue]) -> M | None:
    """Validate ``data`` (found at ``base`` in ``src``) as ``cls``; on failure add issues."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        issues.extend(to_issues(exc, cls, data, src, base))
        return None


def to_issues(
    exc: ValidationError, cls: type[BaseModel], data: Any, src: Located, base: KeyPath
) -> list[Issue]:
    """Convert every error of ``exc`` into an issue located in ``src``."""
    out: list[Issue] = []
    seen: set[tuple[KeyPath, str]] = set()
    # A value that fits no member of a union (``str | list``) gets one complaint per
    # member; they are joined into one line: "a valid string or a valid list".
    types_at: dict[KeyPath, tuple[int, list[str], str]] = {}
    for err in exc.errors(include_url=False):
        path = _data_path(err["loc"], data)
        kind = err["type"]
        full = (*base, *path)
        if kind == "extra_forbidden":
            message = "unknown field; " + suggest(str(path[-1]), fields_at(cls, path[:-1]))
            issue = src.issue(full, message, prefer_key=True)
        elif kind == "missing":
            issue = src.issue(full, "required field is missing; add it")
        else:
            message = _message(err)
            expected, got = _expected(message)
            if expected is not None:
                if full in types_at:
                    index, wanted, _ = types_at[full]
                    if expected not in wanted:
                        wanted.append(expected)
                        text = f"input should be {' or '.join(wanted)}{got}"
                        out[index] = src.issue(full, text)
                    continue
                types_at[full] = (len(out), [expected], got)
            issue = src.issue(full, message)
        key = (full, kind)
        if key in seen:  # union members repeat the same complaint
            continue
        seen.add(key)
        out.append(issue)
    return out


_EXPECTED = re.compile(r"^input should be (a valid [a-z ]+?|an? [a-z ]+?)(, .*?)?( \(got .*\))?$")


def _expected(message: str) -> tuple[str | None, str]:
    """Split "input should be a valid list (got 42)" into "a valid list" and " (got 42)"."""
    match = _EXPECTED.match(message)
    if match is None:
        return None, ""
    return match.group(1), match.group(3) or ""


def suggest(name: str, allowed: list[str]) -> str:
    """Say which allowed name ``name`` was probably meant to be."""
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if allowed:
        return "expected one of: " + ", ".join(sorted(allowed))
    return "remove it"


def _message(err: Mapping[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if err["type"] == "too_short" and isinstance(err.get("input"), (list, dict)):
        least = ctx.get("min_length", 1)
        return "is empty; add at least one" if least == 1 else f"needs at least {least} items"
    msg = str(err["msg"])
    msg = re.sub(r" or instance of \w+$", "", msg)  # pydantic's class names mean nothing here
    msg = msg[0].lower() + msg[1:] if msg else msg
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        msg += f" (got {shown})"
    return msg


def _data_path(loc: tuple[int | str, ...], data: Any) -> KeyPath:
    """Keep the parts of a pydantic location that exist in the data.

    Pydantic adds union member names (``'str'``, ``'ChatPrompt'``) and validator
    tags to locations; the user only knows the keys of their file.
    """
    out: list[str | int] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            out.append(part)
            node = node[part]
        elif (
            isinstance(node, Mapping)
            and isinstance(part, str)
            and part.isidentifier()
            and not _is_type_tag(part)
        ):
            # A missing field of a mapping: the last meaningful part.
            out.append(part)
            node = None
    return tuple(out)


def _is_type_tag(part: str) -> bool:
    return part[:1].isupper() or part in {"str", "int", "float", "bool", "list", "dict", "none"}


def fields_at(cls: type[BaseModel], path: KeyPath) -> list[str]:
    """Return the field names of the model found at ``path`` below ``cls``."""
    names: set[str] = set()
    for model in _models_at(cls, path):
        names.update(model.model_fields)
    return sorted(names)


def _models_at(tp: Any, path: KeyPath) -> list[type[BaseModel]]:
    if not path:
        return [m for m in _unwrap(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    head, rest = path[0], path[1:]
    found: list[type[BaseModel]] = []
    for t in _unwrap(tp):
        origin = typing.get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(str(head))
            if field is not None:
                found += _models_at(field.annotation, rest)
        elif origin in (dict, Mapping) and typing.get_args(t):
            found += _models_at(typing.get_args(t)[-1], rest)
        elif origin in (list, tuple) and typing.get_args(t):
            found += _models_at(typing.get_args(t)[0], rest)
    return found


def _unwrap(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out += _unwrap(arg)
        return out
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    return [tp]
