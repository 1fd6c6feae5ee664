"""PNG in and out, in memory: the one place that knows Pillow (imported lazily; a core dependency).

    png_bytes(image) -> bytes                  # uint8 (H, W, 3) -> PNG
    png_array(data) -> uint8 (H, W, 3)         # PNG -> RGB pixels (trusted bytes: the memory's own)
    png_size(raw) -> (width, height) | None    # from the header, before any pixel is decoded
    with open_png(raw) as img: rgb_pixels(img) # untrusted bytes: ImageDecodeError says what was wrong
    read_image(path) -> uint8 (H, W, 3)        # an image file (any format Pillow reads) as RGB
    resize_square(image, side) -> uint8 (side, side, 3)   # bilinear

Callers that take images from outside (``serve/``, ``mcp/``) turn :class:`ImageDecodeError` into their
own error, with their own advice.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jepaworld.errors import JepaworldError

if TYPE_CHECKING:
    from PIL.Image import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageDecodeError(JepaworldError):
    """Bytes that are not a readable image (not a PNG, or truncated / corrupt pixels)."""


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 (H, W, 3) -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def png_array(data: bytes) -> np.ndarray:
    """PNG bytes -> uint8 (H, W, 3)."""
    from PIL import Image

    return np.array(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)


def png_size(raw: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk; None if ``raw`` does not start like a PNG."""
    if len(raw) < 24 or raw[:8] != PNG_SIGNATURE or raw[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def open_png(raw: bytes) -> Image:
    """Untrusted bytes -> an open PNG (header read, pixels not yet decoded); :class:`ImageDecodeError` if
    they are not a PNG or declare a decompression bomb. Use it as a context manager."""
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(raw), formats=["PNG"])
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ImageDecodeError("not a PNG image") from None


def rgb_pixels(img: Image) -> np.ndarray:
    """An open image's pixels as uint8 (H, W, 3), writable; :class:`ImageDecodeError` if truncated or corrupt."""
    try:
        return np.array(img.convert("RGB"), dtype=np.uint8)  # writable: torch.as_tensor warns otherwise
    except (OSError, ValueError, SyntaxError):
        raise ImageDecodeError("the PNG is truncated or corrupt") from None


def read_image(path: str | Path) -> np.ndarray:
    """An image file as uint8 (H, W, 3) RGB; :class:`ImageDecodeError` naming the file if missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.array(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:  # FileNotFoundError included
        raise ImageDecodeError(f"cannot read the image {path}: {e}") from None


def resize_square(image: np.ndarray, side: int) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (side, side, 3), bilinear."""
    from PIL import Image

    return np.array(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR), dtype=np.uint8)
