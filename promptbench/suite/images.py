"""Image parts of chat messages: a file, a URL, or a case var naming either.

``image:`` takes a path (relative to the suite, like every path in it), an
``http(s)://`` or ``data:`` URL, or a template such as ``"{{ photo }}"`` rendered
per case. A file that is missing or is not an image is bad input, found before
any call: the suite's ``validate`` and ``run`` check every case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptbench.errors import Issue, RenderError
from promptbench.providers.images import MAX_IMAGE_BYTES, sniff_media_type
from promptbench.render import Renderer, Template
from promptbench.suite import paths
from promptbench.suite.yamlpos import KeyPath, Located
from promptbench.types import Image

_URL_PREFIXES = ("http://", "https://", "data:")
# (resolved path, mtime, size) -> the image: a file named by every case is read once.
_seen: dict[tuple[str, int, int], Image] = {}


def load_image(value: str, base_dir: Path) -> Image:
    """The image ``value`` names; raises ValueError saying what is wrong and what to do."""
    value = value.strip()
    if not value:
        raise ValueError("the image is empty; give a file path or a URL")
    if value.startswith(_URL_PREFIXES):
        if value.startswith("data:"):
            if not value.startswith("data:image/") or ";base64," not in value:
                raise ValueError("a data: URL image must be data:image/...;base64,...")
            media = value[5 : value.index(";")]
            sha = hashlib.sha256(value.encode("ascii", "replace")).hexdigest()
            return Image(url=value, sha256=sha, media_type=media)
        return Image(url=value)
    found = paths.resolve(value, base_dir)
    if found is None or not found.is_file():
        raise ValueError(f"image file '{value}' not found; paths are relative to the suite")
    stat = found.stat()
    key = (str(found.resolve()), stat.st_mtime_ns, stat.st_size)
    hit = _seen.get(key)
    if hit is not None:
        return hit
    if stat.st_size > MAX_IMAGE_BYTES:
        raise ValueError(
            f"image file '{value}' is {stat.st_size / 1e6:,.1f} MB, over the "
            f"{MAX_IMAGE_BYTES // 1_000_000} MB the model APIs take; make it smaller"
        )
    try:
        data = found.read_bytes()
    except OSError as exc:
        raise ValueError(f"image file '{value}': cannot read ({exc.strerror})") from None
    sniffed = sniff_media_type(data[:16])
    if sniffed is None:
        raise ValueError(f"'{value}' is not an image (PNG, JPEG, GIF or WebP); check the path")
    image = Image(path=key[0], sha256=hashlib.sha256(data).hexdigest(), media_type=sniffed)
    _seen[key] = image
    return image


@dataclass(frozen=True)
class ImageSource:
    """An ``image:`` entry of a prompt, resolved per case."""

    template: Template
    base_dir: Path
    at: tuple[str, int] | None = None  # the suite file and line of the entry

    @property
    def static(self) -> bool:
        """Whether it names the same image for every case (no template)."""
        return self.template.compiled is None

    def resolve(self, context: dict[str, object], *, where: str) -> Image:
        """The image for one case; raises RenderError naming the case."""
        value = self.template.render(context, where=where)
        try:
            return load_image(value, self.base_dir)
        except ValueError as exc:
            file, line = self.at or (None, None)
            raise RenderError(
                f"{self.template.origin}: {exc}", origin=file, line=line, where=where
            ) from None


def image_sources(
    value: Any,
    src: Located,
    path: KeyPath,
    origin: str,
    renderer: Renderer,
    base_dir: Path,
    issues: list[Issue],
    track: Callable[[Path], None],
) -> tuple[ImageSource, ...]:
    """The ``image:`` entries at ``path`` (one, or a list); a fixed file is checked now.

    On a problem an issue is added and the result is empty.
    """
    values = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(values):
        where = (*path, i) if isinstance(value, list) else path
        if not isinstance(item, str):
            issues.append(src.issue(where, "an image is a path, a URL or a var"))
            return ()
        try:
            template = renderer.from_string(item, origin)
        except RenderError as exc:
            issues.append(src.issue(where, exc.reason))
            return ()
        pos = src.pos(where)
        source = ImageSource(template, base_dir, (src.file, pos.line) if pos else None)
        if source.static:
            try:
                image = load_image(item, base_dir)
            except ValueError as exc:
                issues.append(src.issue(where, str(exc)))
                return ()
            if image.path is not None:
                track(Path(image.path))
        out.append(source)
    return tuple(out)
