"""Decoding and normalising images, safely.

Every image that enters the engine, reference or query, goes through `load_image`:

1. The header is read first (and a PNG's chunk checksums are verified); an image whose pixel count exceeds
   `max_pixels` is refused before any pixel is decoded (a decompression bomb), and Pillow's own
   `DecompressionBombWarning` is raised as an error.
2. Animated images contribute their first frame only.
3. JPEGs are decoded with Pillow's *draft* mode, which lets libjpeg scale by 1/2, 1/4 or 1/8 while decoding:
   the engine never needs more than `max_side` pixels, and this is most of the fingerprinting speed.
4. The EXIF orientation is applied, so a photo stored sideways is seen as it is shown.
5. Every mode becomes 8-bit RGB: CMYK and YCbCr are converted, 16-bit and float greys are rescaled to their
   value range, palette and alpha images are composited on white (how a browser shows them on a page).
6. Images smaller than `MIN_SIDE` pixels on a side are refused: they carry too little to fingerprint.

Anything that goes wrong becomes an `ImageDecodeError` or `ImageTooSmallError` with a message a person can
read; no other exception escapes for bad input.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from tracemark.matching.errors import ImageDecodeError, ImageTooSmallError

MIN_SIDE = 32
"""Smallest width or height (pixels) the engine fingerprints."""

MAX_PIXELS = 100_000_000
"""Largest pixel count accepted; larger images are treated as decompression bombs."""

MAX_ASPECT = 20.0
"""Largest ratio of the long side to the short side."""

ImageSource = str | Path | bytes | BinaryIO

# Never decode a truncated file as if it were whole.
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True, slots=True)
class Photo:
    """A decoded image, normalised to 8-bit RGB at a working size.

    Attributes:
        rgb: The pixels, shape (height, width, 3), uint8, at most `max_side` on the long side.
        width: Width of the full-size image in pixels, after EXIF orientation.
        height: Height of the full-size image in pixels, after EXIF orientation.
    """

    rgb: NDArray[np.uint8]
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Working pixels per full-size pixel (at most 1)."""
        return float(self.rgb.shape[1]) / float(self.width)


def _read_bytes(source: ImageSource) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        data = source.read()
    except OSError as exc:
        raise ImageDecodeError(f"cannot read stream: {exc}") from exc
    return bytes(data)


_ORIENTATION_SWAPS = {5, 6, 7, 8}


def _to_rgb(im: Image.Image) -> Image.Image:
    """Converts any Pillow mode to RGB (alpha composited on white, high bit depths rescaled)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            raise ImageDecodeError("image has no finite pixel values")
        lo, hi = float(finite.min()), float(finite.max())
        if mode.startswith("I;16") or (mode == "I" and lo >= 0 and hi <= 65535 and hi > 255):
            lo, hi = 0.0, 65535.0 if hi > 255 else 255.0
        span = hi - lo if hi > lo else 1.0
        grey = np.clip((np.nan_to_num(arr, nan=lo) - lo) * (255.0 / span) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "1":
        return im.convert("L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def load_image(source: ImageSource, *, max_side: int = 1024, max_pixels: int = MAX_PIXELS) -> Photo:
    """Decodes an image safely and normalises it to 8-bit RGB.

    Args:
        source: A path, the raw bytes, or a binary stream.
        max_side: The long side of the returned pixels is at most this (the image is shrunk, never grown).
        max_pixels: Images with more pixels than this are refused as decompression bombs.

    Returns:
        The decoded photo, with its full-size dimensions.

    Raises:
        ImageDecodeError: The input is empty, not an image, truncated, corrupt or too large.
        ImageTooSmallError: The image is smaller than `MIN_SIDE` pixels on a side or extremely thin.
    """
    data = _read_bytes(source)
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(data, max_side=max_side, max_pixels=max_pixels)
    except (ImageDecodeError, ImageTooSmallError):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"decompression bomb refused: {exc}") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageDecodeError(f"decompression bomb refused: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as exc:
        text = str(exc) or type(exc).__name__
        raise ImageDecodeError(f"corrupt or truncated image: {text}") from exc
    except MemoryError as exc:
        raise ImageDecodeError("image too large to decode") from exc


def _decode(data: bytes, *, max_side: int, max_pixels: int) -> Photo:
    with Image.open(io.BytesIO(data)) as probe:
        if probe.format == "PNG":
            # PNG chunks carry CRCs; checking them catches corrupt files that would otherwise decode to garbage.
            probe.verify()
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageDecodeError("image has no pixels")
        if width * height > max_pixels:
            raise ImageDecodeError(f"image has {width * height} pixels, more than the limit of {max_pixels}")
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        orientation = 1
        try:
            orientation = int(im.getexif().get(0x0112, 1) or 1)
        except Exception:
            orientation = 1
        if orientation in _ORIENTATION_SWAPS:
            width, height = height, width
        if min(width, height) < MIN_SIDE:
            raise ImageTooSmallError(f"image is {width}x{height} pixels; at least {MIN_SIDE} on each side needed")
        if max(width, height) > MAX_ASPECT * min(width, height):
            raise ImageTooSmallError(f"image is {width}x{height} pixels: too thin to fingerprint")
        if im.format == "JPEG" and max(width, height) > max_side:
            # libjpeg scales by 1/2, 1/4 or 1/8 while decoding; accept down to 0.9 x max_side to use it.
            factor = 0.9 * max_side / max(width, height)
            im.draft("RGB", (max(1, int(im.size[0] * factor)), max(1, int(im.size[1] * factor))))
        im.load()
        frame: Image.Image = im
        if orientation != 1:
            try:
                frame = ImageOps.exif_transpose(im)
            except Exception:
                frame = im
        rgb_image = _to_rgb(frame)
        if max(rgb_image.size) > max_side:
            factor = max_side / max(rgb_image.size)
            size = (max(1, round(rgb_image.size[0] * factor)), max(1, round(rgb_image.size[1] * factor)))
            rgb_image = rgb_image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgb = np.ascontiguousarray(np.asarray(rgb_image, dtype=np.uint8))
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageDecodeError("image did not decode to colour pixels")
    return Photo(rgb=rgb, width=width, height=height)
