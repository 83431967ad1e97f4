"""Images as providers send them: their type from their first bytes, and data URLs.

A record holds an image's path (or URL) and hash, never its bytes; a provider
reads the file when it sends the message, as a data URL or inline bytes as its
API expects.
"""

from __future__ import annotations

import base64
from pathlib import Path

from promptbench.errors import ErrorKind, ProviderError
from promptbench.types import Image

MAX_IMAGE_BYTES = 20_000_000  # what the hosted APIs accept, roughly


def sniff_media_type(head: bytes) -> str | None:
    """The image type its first bytes say, or None when they are no image we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_bytes(image: Image) -> tuple[bytes, str]:
    """The file's bytes and media type; a file gone since validation is a call error."""
    if image.path is None:
        raise ProviderError("the image has no file to read", kind=ErrorKind.CONFIG)
    try:
        data = Path(image.path).read_bytes()
    except OSError as exc:
        raise ProviderError(
            f"image {image.path}: cannot read ({exc.strerror})", kind=ErrorKind.CONFIG
        ) from None
    media = image.media_type or sniff_media_type(data[:16]) or "application/octet-stream"
    return data, media


def data_url(image: Image) -> str:
    """The image as a URL: its own URL, or its file as a ``data:`` URL."""
    if image.url is not None:
        return image.url
    data, media = image_bytes(image)
    return f"data:{media};base64,{base64.b64encode(data).decode('ascii')}"
