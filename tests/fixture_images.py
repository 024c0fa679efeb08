"""Image files for tests, made in memory: valid ones in many modes, and broken ones."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def hand_like(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """A smooth test pattern (not flat, so the classifier accepts it) in any PIL mode."""
    width, height = size
    gx, gy = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    gray = (255 * (0.5 + 0.5 * np.sin(6 * gx) * np.cos(4 * gy))).astype(np.uint8)
    image = Image.fromarray(gray).convert("RGB")
    return image.convert(mode)


def declared_size_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height but holds almost no data (a decompression-bomb probe)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )


def animated_gif() -> bytes:
    """A two-frame animated GIF."""
    frames = [hand_like(mode="P"), hand_like(mode="P").transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, exif_orientation: int | None = None) -> bytes:
    """Encode as JPEG, optionally with an EXIF orientation tag."""
    buffer = io.BytesIO()
    if exif_orientation is None:
        image.save(buffer, format="JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()
