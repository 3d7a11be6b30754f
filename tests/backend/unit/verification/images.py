"""Real photographs for the publication and verification tests (skimage ships them in its wheel)."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image
from skimage import data as photos


def encode(pixels: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@cache
def astronaut_png() -> bytes:
    return encode(photos.astronaut())


@cache
def chelsea_jpeg() -> bytes:
    return encode(photos.chelsea(), "JPEG", quality=92)


@cache
def coffee_png() -> bytes:
    return encode(photos.coffee())


def big_noisy_png(side: int = 1600) -> bytes:
    """A large photo with fine noise: its PNG is several MiB, far above one IPFS block."""
    base = np.asarray(Image.fromarray(photos.astronaut()).resize((side, side), Image.Resampling.BICUBIC))
    noise = np.random.default_rng(3).integers(-12, 12, base.shape)
    return encode(np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8))


def with_orientation(pixels: np.ndarray, orientation: int, fmt: str = "JPEG") -> bytes:
    """A file whose stored pixels are `pixels` and whose EXIF says how to turn them for display."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, exif=exif.tobytes(), quality=95)
    return buffer.getvalue()
