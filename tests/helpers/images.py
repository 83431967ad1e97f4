"""Small real image files for tests, made here (no binary fixtures)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path


def png_bytes(rgb: tuple[int, int, int] = (200, 30, 30), size: int = 2) -> bytes:
    """A valid ``size`` x ``size`` PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def write_png(path: Path, rgb: tuple[int, int, int] = (200, 30, 30)) -> str:
    """Write a PNG to ``path``; return the first 12 hex digits of its SHA-256."""
    data = png_bytes(rgb)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()[:12]
