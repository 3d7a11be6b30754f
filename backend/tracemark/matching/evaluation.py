"""Evaluation: a corpus of real photos from PyPI wheels, the transforms copies undergo, and their truth.

Used by `benchmarks/matching.py` and the tests (in the spirit of imagededup's evaluation module). The photos
ship inside scikit-image, scikit-learn and PyWavelets and load offline; those packages are needed only here.

Each transform takes a picture and a random generator and returns the copy with its *truth*: the visible
share of the reference (coverage), whether it is mirrored, and its rotation as seen (degrees counter-clockwise).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from tracemark.matching._cv import cv2


@dataclass(frozen=True, slots=True)
class Truth:
    """What a transform did."""

    coverage: float = 1.0
    mirrored: bool = False
    rotation_deg: float = 0.0


Transform = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, Truth]]


def _rgb(a: NDArray[np.generic]) -> Image.Image:
    arr = np.asarray(a)
    if arr.dtype != np.uint8:
        values = arr.astype(np.float64)
        arr = np.clip(values * (255.0 if values.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]))


def corpus_photos() -> dict[str, Image.Image]:
    """The registered photos: real photographs bundled in PyPI wheels (offline)."""
    import pywt.data  # type: ignore[import-untyped]
    from skimage import data
    from sklearn.datasets import load_sample_image  # type: ignore[import-untyped]

    names = [
        "astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon", "text", "page", "clock",
        "brick", "grass", "gravel", "immunohistochemistry", "cell", "horse", "logo",
    ]  # fmt: skip
    photos = {n: _rgb(getattr(data, n)()) for n in names}
    left, _, _ = data.stereo_motorcycle()  # type: ignore[no-untyped-call]
    photos["motorcycle_left"] = _rgb(left)
    photos["china"] = _rgb(load_sample_image("china.jpg"))
    photos["flower"] = _rgb(load_sample_image("flower.jpg"))
    photos["aero"] = _rgb(pywt.data.aero())
    photos["ascent"] = _rgb(pywt.data.ascent())
    for big in ("hubble_deep_field", "retina"):
        img = _rgb(getattr(data, big)())
        w, h = img.size
        for i, (x, y) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
            photos[f"{big}_tile{i}"] = img.crop((x * w // 2, y * h // 2, (x + 1) * w // 2, (y + 1) * h // 2))
    return photos


def stereo_right() -> Image.Image:
    """The right view of the stereo pair: the same scene as `motorcycle_left`, another photograph."""
    from skimage import data

    _, right, _ = data.stereo_motorcycle()  # type: ignore[no-untyped-call]
    return _rgb(right)


def synthetic_scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """An unrelated picture: smooth colour noise with random shapes (distractors and collage fillers)."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.normal(0, 1, (h // 16 + 1, w // 16 + 1, 3))
    im = Image.fromarray(np.clip(128 + 60 * base, 0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    d = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(10, 40))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (x, y, x + int(rng.integers(10, 200)), y + int(rng.integers(10, 200)))
        col = tuple(int(c) for c in rng.integers(0, 255, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=col, outline=(0, 0, 0))
    return im


def jpeg_bytes(im: Image.Image, quality: int = 90) -> bytes:
    """The picture encoded as JPEG."""
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _words(rng: np.random.Generator, n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(list(letters), int(rng.integers(2, 9)))) for _ in range(n))


# --- single edits ---------------------------------------------------------------------------------------------


def t_jpeg(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Recompression at JPEG quality 30 to 40."""
    return Image.open(io.BytesIO(jpeg_bytes(im, int(rng.integers(30, 41))))).convert("RGB"), Truth()


def t_half(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Downscaling to half size."""
    return im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS), Truth()


def t_thumbnail(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A thumbnail 150 to 200 pixels wide."""
    w = int(rng.integers(150, 201))
    return im.resize((w, max(1, round(w * im.height / im.width))), Image.Resampling.LANCZOS), Truth()


def t_brightness_contrast(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Brightness or contrast changed by 20 to 30 %, up or down."""
    factor = float(1 + rng.choice([-1, 1]) * rng.uniform(0.2, 0.3))
    enhancer = ImageEnhance.Brightness if rng.random() < 0.5 else ImageEnhance.Contrast
    return enhancer(im).enhance(factor), Truth()


def t_greyscale(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Greyscale."""
    return ImageOps.grayscale(im).convert("RGB"), Truth()


def t_mirror(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Left-right mirror."""
    return ImageOps.mirror(im), Truth(mirrored=True)


def t_overlay(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A text banner or an opaque logo over 10 to 20 % of the area."""
    out = im.copy()
    w, h = out.size
    share = float(rng.uniform(0.10, 0.20))
    d = ImageDraw.Draw(out)
    if rng.random() < 0.5:
        bh = max(8, int(h * share))
        y = int(rng.integers(0, h - bh + 1))
        d.rectangle((0, y, w, y + bh), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        d.text((5, y + 2), _words(rng, 6).upper(), fill=(255, 255, 255), font=_font(max(8, bh * 2 // 3)))
    else:
        side = int(math.sqrt(share * w * h))
        x, y = int(rng.integers(0, max(1, w - side))), int(rng.integers(0, max(1, h - side)))
        d.ellipse((x, y, x + side, y + side), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
        d.text((x + side // 5, y + side // 3), "LOGO", fill=(255, 255, 255), font=_font(max(8, side // 4)))
    return out, Truth()


def _rotated_coverage(w: int, h: int, angle: float) -> float:
    rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) - [w / 2, h / 2]
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    turned = (rect @ rot.T).astype(np.float32)
    area, _ = cv2.intersectConvexConvex(rect.astype(np.float32), turned)
    return float(area) / (w * h)


def t_rotate(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Rotation by 1 to 5 degrees either way (corners cut, filled black)."""
    angle = float(rng.choice([-1, 1]) * rng.uniform(1.0, 5.0))
    out = im.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
    return out, Truth(coverage=_rotated_coverage(im.width, im.height, angle), rotation_deg=angle)


def _crop(im: Image.Image, rng: np.random.Generator, lo: float, hi: float) -> tuple[Image.Image, Truth]:
    w, h = im.size
    share = float(rng.uniform(lo, hi))
    aspect = float(rng.uniform(0.75, 1.33))
    cw = min(w, round(math.sqrt(share * w * h * aspect * w / h) / math.sqrt(w / h)))
    ch = min(h, round(share * w * h / max(cw, 1)))
    cw = min(w, round(share * w * h / max(ch, 1)))
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    return im.crop((x, y, x + cw, y + ch)), Truth(coverage=cw * ch / (w * h))


def t_crop_large(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A crop keeping 50 to 90 % of the area."""
    return _crop(im, rng, 0.5, 0.9)


def t_crop_small(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A crop keeping 25 to 50 % of the area."""
    return _crop(im, rng, 0.25, 0.5)


def t_screenshot(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A page capture (1280 x 900 or so) where the picture fills 30 to 60 % of the area, among text."""
    pw, ph = int(rng.integers(1200, 1441)), int(rng.integers(800, 1001))
    bg = tuple(int(v) for v in (rng.integers(235, 256),) * 3)
    page = Image.new("RGB", (pw, ph), bg)
    d = ImageDraw.Draw(page)
    d.rectangle((0, 0, pw, 60), fill=tuple(int(c) for c in rng.integers(20, 120, 3)))
    d.text((20, 18), _words(rng, 4).title(), fill=(255, 255, 255), font=_font(24))
    share = float(rng.uniform(0.3, 0.6))
    scale = math.sqrt(share * pw * ph / (im.width * im.height))
    iw, ih = round(im.width * scale), round(im.height * scale)
    if iw > pw - 20 or ih > ph - 80:
        f = min((pw - 20) / iw, (ph - 80) / ih)
        iw, ih = int(iw * f), int(ih * f)
    x = int(rng.integers(10, pw - iw - 9))
    y = int(rng.integers(70, ph - ih - 9))
    page.paste(im.resize((iw, ih), Image.Resampling.LANCZOS), (x, y))
    for line_y in range(80, ph - 20, 28):
        for x0, x1 in ((20, x - 20), (x + iw + 20, pw - 20)):
            if (x1 - x0 > 60 and not (y - 24 < line_y < y + ih)) or x1 - x0 > 60:
                d.text((x0, line_y), _words(rng, max(1, (x1 - x0) // 60)), fill=(40, 40, 40), font=_font(16))
    return page, Truth()


def t_collage(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """One picture of a 2 x 2, 1 x 3 or 3 x 1 collage with unrelated pictures, gutters of 0 to 12 pixels."""
    cols, rows = [(2, 2), (3, 1), (1, 3)][int(rng.integers(0, 3))]
    cw, ch = 360, 270
    gap = int(rng.choice([0, 4, 12]))
    sheet = Image.new("RGB", (cols * cw + (cols + 1) * gap, rows * ch + (rows + 1) * gap), (255, 255, 255))
    target = int(rng.integers(0, cols * rows))
    for k in range(cols * rows):
        cell = im if k == target else synthetic_scene(int(rng.integers(10**6, 10**7)))
        fitted = ImageOps.fit(cell, (cw, ch), Image.Resampling.LANCZOS) if k != target else None
        if k == target:
            f = min(cw / im.width, ch / im.height)
            fitted = Image.new("RGB", (cw, ch), (255, 255, 255))
            small = im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.LANCZOS)
            fitted.paste(small, ((cw - small.width) // 2, (ch - small.height) // 2))
        assert fitted is not None
        sheet.paste(fitted, (gap + (k % cols) * (cw + gap), gap + (k // cols) * (ch + gap)))
    return sheet, Truth()


def t_stretch(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Slight stretch: one axis scaled by 1.08 to 1.2."""
    f = float(rng.uniform(1.08, 1.2))
    size = (round(im.width * f), im.height) if rng.random() < 0.5 else (im.width, round(im.height * f))
    return im.resize(size, Image.Resampling.BICUBIC), Truth()


def t_perspective(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Slight perspective: corners moved inwards by up to 6 % of the size (the picture stays whole)."""
    w, h = im.size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(0, 0.06, (4, 2)).astype(np.float32) * [w, h] * [[1, 1], [-1, 1], [-1, -1], [1, -1]]
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out = cv2.warpPerspective(np.asarray(im), m, (w, h), flags=cv2.INTER_CUBIC, borderValue=(255, 255, 255))
    # The seen rotation at the centre: the orthogonal factor of the warp's Jacobian there (y down, so negated).
    pts = np.array([[w / 2, h / 2, 1.0], [w / 2 + 1, h / 2, 1.0], [w / 2, h / 2 + 1, 1.0]]) @ np.asarray(m).T
    p0, px, py = pts[:, :2] / pts[:, 2:3]
    u, _, vt = np.linalg.svd(np.c_[px - p0, py - p0])
    rot = u @ vt
    return Image.fromarray(out), Truth(rotation_deg=-math.degrees(math.atan2(rot[1, 0], rot[0, 0])))


def t_caption_bands(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Caption bands of 8 to 20 % of the height above and below, with text."""
    top, bottom = (int(im.height * rng.uniform(0.08, 0.2)) for _ in range(2))
    bg = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
    fg = (255, 255, 255) if bg == (0, 0, 0) else (0, 0, 0)
    out = Image.new("RGB", (im.width, im.height + top + bottom), bg)
    out.paste(im, (0, top))
    d = ImageDraw.Draw(out)
    d.text((10, top // 4), _words(rng, 4).upper(), fill=fg, font=_font(max(10, top // 2)))
    d.text((10, top + im.height + bottom // 4), _words(rng, 6), fill=fg, font=_font(max(10, bottom // 3)))
    return out, Truth()


def _vignette(arr: NDArray[np.float32], strength: float) -> NDArray[np.float32]:
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / math.sqrt(2)
    out: NDArray[np.float32] = arr * (1 - strength * r**2)[..., None]
    return out


def t_sepia(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A sepia filter."""
    a = np.asarray(im, np.float32)
    m = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)
    return Image.fromarray(np.clip(a @ m.T, 0, 255).astype(np.uint8)), Truth()


def t_vintage(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A vintage filter: faded blacks, warm tint, lower saturation, vignette and grain."""
    a = np.asarray(im, np.float32)
    grey = a.mean(axis=2, keepdims=True)
    a = 0.6 * a + 0.4 * grey
    a = 40 + a * 0.75
    a *= np.array([1.08, 1.0, 0.85], np.float32)
    a = _vignette(a, 0.5)
    a += rng.normal(0, 4, a.shape).astype(np.float32)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), Truth()


def t_vignette(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """A strong vignette."""
    a = _vignette(np.asarray(im, np.float32), float(rng.uniform(0.5, 0.8)))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)), Truth()


SINGLE: dict[str, Transform] = {
    "jpeg_q30": t_jpeg,
    "half_size": t_half,
    "thumbnail_150": t_thumbnail,
    "brightness_contrast": t_brightness_contrast,
    "greyscale": t_greyscale,
    "mirror": t_mirror,
    "overlay_20": t_overlay,
    "rotate_5": t_rotate,
    "crop_50_90": t_crop_large,
    "crop_25_50": t_crop_small,
    "screenshot": t_screenshot,
    "collage": t_collage,
    "stretch": t_stretch,
    "perspective": t_perspective,
    "caption_bands": t_caption_bands,
    "sepia": t_sepia,
    "vintage": t_vintage,
    "vignette": t_vignette,
}
"""Every transform family, by name."""

COMBINABLE = (
    "jpeg_q30",
    "half_size",
    "brightness_contrast",
    "greyscale",
    "mirror",
    "overlay_20",
    "rotate_5",
    "crop_50_90",
)


def t_combo(im: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, Truth]:
    """Two different edits of the combinable set, one after the other."""
    first, second = rng.choice(len(COMBINABLE), 2, replace=False)
    out, t1 = SINGLE[COMBINABLE[int(first)]](im, rng)
    out, t2 = SINGLE[COMBINABLE[int(second)]](out, rng)
    return out, Truth(
        coverage=t1.coverage * t2.coverage,
        mirrored=t1.mirrored != t2.mirrored,
        # A mirror after a rotation turns the seen rotation the other way.
        rotation_deg=(-t1.rotation_deg if t2.mirrored else t1.rotation_deg) + t2.rotation_deg,
    )


FAMILIES: dict[str, Transform] = {**SINGLE, "combo_of_two": t_combo}
RECALL_TARGETS: dict[str, float] = {name: 0.98 for name in FAMILIES} | {"crop_25_50": 0.90, "screenshot": 0.90}
