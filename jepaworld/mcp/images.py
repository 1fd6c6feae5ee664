"""Images in and out of tool calls: base64 PNG in (a goal), enlarged PNG frames and a path film strip out.

Nothing here touches a file. An incoming PNG's size is checked from its header before its pixels
are decoded, so a small argument cannot expand into a huge image.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from jepaworld.errors import JepaworldError
from jepaworld.images import ImageDecodeError, open_png, png_bytes, rgb_pixels
from jepaworld.memory.query import check_image

MAX_PNG_CHARS = 8 * 2**20  # base64 characters of one image argument
MAX_SIDE = 4096
VIEW_PX = 256  # frames handed to the LLM are enlarged (nearest) to at least this side


def decode_png(text: str, resolution: int, what: str = "image") -> np.ndarray:
    """base64 of a square RGB(A) PNG -> uint8 (resolution, resolution, 3) (resized when its side differs)."""
    if len(text) > MAX_PNG_CHARS:
        raise JepaworldError(f"{what}: {len(text)} base64 characters; send a PNG under {MAX_PNG_CHARS * 3 // 4} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise JepaworldError(f"{what}: not valid base64; send the base64 (standard alphabet) of a PNG file") from None
    try:
        img = open_png(raw)
    except ImageDecodeError:
        raise JepaworldError(f"{what}: not a PNG image; send the base64 of a PNG file's bytes") from None
    with img:
        w, h = img.size
        if w != h or w > MAX_SIDE:
            raise JepaworldError(f"{what}: the image is {w}x{h} pixels; send a square image (the model sees "
                                 f"{resolution}x{resolution}; other sides are resized), at most "
                                 f"{MAX_SIDE} px")  # fmt: skip
        try:
            arr = rgb_pixels(img)
        except ImageDecodeError:
            raise JepaworldError(f"{what}: the PNG is truncated or corrupt") from None
    return check_image(arr, resolution)


def view(frame: np.ndarray) -> bytes:
    """A model frame uint8 (H, W, 3) as PNG bytes, enlarged by nearest neighbour to >= ``VIEW_PX`` per side."""
    k = max(1, -(-VIEW_PX // frame.shape[0]))
    return png_bytes(np.repeat(np.repeat(frame, k, axis=0), k, axis=1))


def film_strip(frames: list[np.ndarray], goal: np.ndarray, most: int = 8) -> bytes:
    """Up to ``most`` frames evenly spread along a path (first and last included), then the goal, as one PNG row."""
    pick = np.unique(np.linspace(0, len(frames) - 1, min(most, len(frames))).round().astype(int))
    gap = np.full((frames[0].shape[0], 2, 3), 255, np.uint8)
    cells = [x for i in pick for x in (frames[i], gap)] + [gap, goal]
    strip = np.concatenate(cells, axis=1)
    k = max(1, 96 // frames[0].shape[0])
    return png_bytes(np.repeat(np.repeat(strip, k, axis=0), k, axis=1))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
