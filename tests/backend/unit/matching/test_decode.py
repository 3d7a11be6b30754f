"""Decoding: every kind of input becomes RGB pixels or a clear error, never a crash."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from tracemark.matching import ImageDecodeError, ImageTooSmallError, load_image
from tracemark.matching.decode import MIN_SIDE


def _photo(w: int = 200, h: int = 120) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = (xx * 255 // max(w - 1, 1)).astype(np.uint8)  # red grows to the right
    arr[..., 1] = (yy * 255 // max(h - 1, 1)).astype(np.uint8)  # green grows downwards
    arr[..., 2] = 255 - arr[..., 0] // 2
    return Image.fromarray(arr)


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_plain_jpeg_gives_rgb_and_full_size() -> None:
    photo = load_image(_save(_photo(), "JPEG", quality=90))
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (120, 200, 3)
    assert (photo.width, photo.height) == (200, 120)


def test_large_jpeg_is_shrunk_but_reports_full_size() -> None:
    photo = load_image(_save(_photo(1600, 1000), "JPEG"), max_side=400)
    assert max(photo.rgb.shape[:2]) <= 400
    assert (photo.width, photo.height) == (1600, 1000)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(orientation: int) -> None:
    im = _photo(200, 120)
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = load_image(_save(im, "JPEG", exif=exif.tobytes(), quality=95))
    expected = {3: im.rotate(180), 6: im.rotate(-90, expand=True), 8: im.rotate(90, expand=True)}[orientation]
    assert (photo.width, photo.height) == expected.size
    diff = np.abs(photo.rgb.astype(int) - np.asarray(expected).astype(int)).mean()
    assert diff < 20


@pytest.mark.parametrize(
    "mode",
    ["CMYK", "L", "LA", "RGBA", "P", "P+transparency", "I;16", "I", "F", "1"],
)
def test_every_mode_becomes_rgb(mode: str) -> None:
    base = _photo()
    if mode in ("I;16", "I", "F"):
        arr = np.asarray(base.convert("L"), np.float32) * (257.0 if mode != "F" else 1 / 255)
        im = Image.fromarray(arr.astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
        assert im.mode == mode
    elif mode == "P+transparency":
        im = base.convert("P")
        im.info["transparency"] = 0
    else:
        im = base.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    photo = load_image(_save(im, fmt))
    assert photo.rgb.shape == (120, 200, 3)
    assert photo.rgb.dtype == np.uint8
    assert photo.rgb.std() > 10  # the picture survived the conversion


def test_sixteen_bit_png_uses_the_full_range() -> None:
    arr = (np.linspace(0, 65535, 200 * 120).reshape(120, 200)).astype(np.uint16)
    photo = load_image(_save(Image.fromarray(arr), "PNG"))
    assert photo.rgb.min() <= 2 and photo.rgb.max() >= 250


def test_alpha_is_composited_on_white() -> None:
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    photo = load_image(_save(im, "PNG"))
    assert photo.rgb.min() == 255


def test_animated_gif_gives_the_first_frame() -> None:
    frames = [Image.new("RGB", (80, 80), c).convert("P") for c in [(255, 0, 0), (0, 0, 255)]]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo = load_image(data)
    r, _, b = photo.rgb.reshape(-1, 3).mean(axis=0)
    assert r > 200 and b < 50


def test_empty_file_is_a_clear_error() -> None:
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(b"")


def test_text_is_not_an_image() -> None:
    with pytest.raises(ImageDecodeError, match="not a recognised image"):
        load_image(b"this is not an image")


def test_truncated_jpeg_is_an_error() -> None:
    data = _save(_photo(400, 300), "JPEG")
    with pytest.raises(ImageDecodeError):
        load_image(data[: len(data) // 2])


def test_corrupt_png_is_an_error() -> None:
    data = bytearray(_save(_photo(), "PNG"))
    data[len(data) // 2 : len(data) // 2 + 100] = bytes(range(100))
    with pytest.raises(ImageDecodeError):
        load_image(bytes(data))


def test_decompression_bomb_is_refused_before_decoding() -> None:
    # A PNG header that claims 100000 x 100000 pixels: refused from the header alone.
    def chunk(kind: bytes, body: bytes) -> bytes:
        import zlib

        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"x\x9c\x03\x00\x00\x00\x00\x01")
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ImageDecodeError, match=r"limit|bomb"):
        load_image(data)


def test_pixel_limit_is_configurable() -> None:
    with pytest.raises(ImageDecodeError, match="limit"):
        load_image(_save(_photo(200, 120), "PNG"), max_pixels=10_000)


def test_too_small_image_is_refused() -> None:
    with pytest.raises(ImageTooSmallError):
        load_image(_save(_photo(MIN_SIDE - 1, 100), "PNG"))


def test_too_thin_image_is_refused() -> None:
    with pytest.raises(ImageTooSmallError):
        load_image(_save(_photo(2000, 40), "PNG"))


def test_missing_file_is_an_error(tmp_path: object) -> None:
    with pytest.raises(ImageDecodeError, match="cannot read"):
        load_image(f"{tmp_path}/nope.jpg")


def test_path_and_stream_inputs(tmp_path: object) -> None:
    from pathlib import Path

    p = Path(str(tmp_path)) / "a.png"
    _photo().save(p)
    assert load_image(p).rgb.shape == (120, 200, 3)
    with p.open("rb") as fh:
        assert load_image(fh).rgb.shape == (120, 200, 3)
