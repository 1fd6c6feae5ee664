"""Frames from request bodies: base64 PNG or raw uint8, checked against the model's resolution.

Everything is decoded from memory; nothing here touches a file. Sizes are checked before pixels
are decoded (a PNG's header gives its size), so a small body cannot expand into a large image.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from jepaworld.images import ImageDecodeError, open_png, png_size, rgb_pixels
from jepaworld.serve.errors import ApiError
from jepaworld.serve.schemas import Image


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{what}: not valid base64 (standard alphabet, with padding)") from None


def decode_png(raw: bytes, res: int, what: str) -> np.ndarray:
    """One RGB PNG of res x res pixels -> uint8 (1, res, res, 3)."""
    size = png_size(raw)  # from the header, before Pillow: a 60000^2 header is a wrong size, not a bomb alarm
    if size is not None and size != (res, res):
        raise ApiError(422, f"{what}.png: the image is {size[0]}x{size[1]} pixels; this model takes "
                            f"{res}x{res}: render the env at resolution {res}")  # fmt: skip
    try:
        img = open_png(raw)
    except ImageDecodeError:
        raise ApiError(422, f"{what}.png: not a PNG image; send base64 of a PNG file's bytes") from None
    with img:
        if img.size != (res, res):
            raise ApiError(422, f"{what}.png: the image is {img.size[0]}x{img.size[1]} pixels; this model takes "
                                f"{res}x{res}: render the env at resolution {res}")  # fmt: skip
        if img.mode != "RGB":
            raise ApiError(422, f"{what}.png: mode {img.mode}; send an 8-bit RGB PNG (no alpha, palette or grey)")
        try:
            arr = rgb_pixels(img)
        except ImageDecodeError:
            raise ApiError(422, f"{what}.png: the PNG is truncated or corrupt") from None
    return arr[None]


def decode_raw(data: str, shape: list[int], dtype: str, res: int, what: str, max_frames: int) -> np.ndarray:
    """base64 raw uint8 with shape (H, W, 3) or (N, H, W, 3) -> uint8 (N, res, res, 3)."""
    if dtype != "uint8":
        raise ApiError(422, f"{what}.dtype: {dtype!r}; frames must be uint8 (0-255), channel-last")
    want = (res, res, 3)
    if len(shape) not in (3, 4) or tuple(shape[-3:]) != want or any(d < 1 for d in shape):
        raise ApiError(422, f"{what}.shape: {shape}; this model takes [{res}, {res}, 3] or [N, {res}, {res}, 3] "
                            f"(uint8, channel-last, at resolution {res})")  # fmt: skip
    n = shape[0] if len(shape) == 4 else 1
    if n > max_frames:
        raise ApiError(422, f"{what}.shape: {n} frames; at most {max_frames} per request")
    need = n * res * res * 3
    if len(data) > 4 * (need // 3 + 2):  # checked before decoding: base64 is 4/3 of the bytes
        raise ApiError(422, f"{what}.data: longer than the {need} bytes that shape {shape} needs")
    raw = _b64(data, f"{what}.data")
    if len(raw) != need:
        raise ApiError(422, f"{what}.data: {len(raw)} bytes, but shape {shape} of uint8 needs {need}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, *want).copy()


def decode_images(images: Image | list[Image], res: int, what: str, max_frames: int) -> np.ndarray:
    """One image, a raw batch or a list of images -> uint8 (N, res, res, 3), N <= max_frames."""
    items = images if isinstance(images, list) else [images]
    if not items:
        raise ApiError(422, f"{what}: an empty list; give at least one image")
    if len(items) > max_frames:
        raise ApiError(422, f"{what}: {len(items)} images; at most {max_frames} per request")
    frames = []
    for i, img in enumerate(items):
        name = f"{what}[{i}]" if isinstance(images, list) else what
        if img.png is not None:
            max_png = 8 * res * res * 3 + 65536  # generous for any PNG of res x res; bounds the decode
            if len(img.png) > max_png * 4 // 3 + 4:
                raise ApiError(422, f"{name}.png: {len(img.png)} base64 characters is too large for a {res}x{res} PNG")
            frames.append(decode_png(_b64(img.png, f"{name}.png"), res, name))
        else:
            frames.append(decode_raw(img.data or "", img.shape or [], img.dtype, res, name, max_frames))
    out = frames[0] if len(frames) == 1 else np.concatenate(frames)
    if len(out) > max_frames:
        raise ApiError(422, f"{what}: {len(out)} frames in all; at most {max_frames} per request")
    return out
