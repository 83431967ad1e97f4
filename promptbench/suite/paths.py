"""Where a path named in a suite points.

Paths resolve relative to the suite file; one not found there is looked up from
the suite's parent directory too, so that ``suites/`` can sit beside
``prompts/`` and ``data/`` and name them as ``prompts/x.j2``.
"""

from __future__ import annotations

import os
from pathlib import Path

TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".txt", ".md", ".prompt", ".tmpl")


def search_dirs(suite_dir: Path) -> list[Path]:
    """The directories a relative path is looked up in, in order."""
    dirs = [suite_dir]
    if suite_dir.parent != suite_dir:
        dirs.append(suite_dir.parent)
    return dirs


def resolve(name: str, suite_dir: Path) -> Path | None:
    """Return the existing file ``name`` names, or None."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path if path.exists() else None
    for base in search_dirs(suite_dir):
        candidate = base / path
        if candidate.exists():
            return candidate
    return None


def display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def looks_like_file(text: str) -> bool:
    """Whether a prompt string names a template file rather than being the template."""
    if "\n" in text or "{{" in text or "{%" in text:
        return False
    return text.strip().lower().endswith(TEMPLATE_SUFFIXES)
