"""ORB features: extraction, spread selection, and the stored form."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from tracemark.matching.features import FEATURE_BYTES, extract, pack, select_spread, stretch_contrast, unpack


def test_extract_gives_sorted_features(camera: NDArray[np.uint8]) -> None:
    f = extract(camera, 500)
    assert 300 <= len(f) <= 500
    assert f.desc.shape == (len(f), 32) and f.desc.dtype == np.uint8
    assert np.all(np.diff(f.response) <= 0)
    assert (f.width, f.height) == (512, 512)


def test_extract_on_flat_image_is_empty() -> None:
    f = extract(np.full((100, 100), 128, np.uint8), 500)
    assert len(f) == 0 and f.desc.shape == (0, 32)


def test_contrast_stretch_makes_low_contrast_copies_alike(camera: NDArray[np.uint8]) -> None:
    dull = (camera.astype(np.float32) * 0.6 + 40).astype(np.uint8)
    a, b = stretch_contrast(camera), stretch_contrast(dull)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 6


def test_select_spread_covers_the_image(camera: NDArray[np.uint8]) -> None:
    f = extract(camera, 1500)
    kept = select_spread(f, 64, grid=8)
    assert len(kept) == 64
    cells = {(int(x * 8 / 512), int(y * 8 / 512)) for x, y in kept.xy}
    strongest = {(int(x * 8 / 512), int(y * 8 / 512)) for x, y in f.xy[:64]}
    assert len(cells) >= 25  # the cameraman's sky has no corners at all
    assert len(cells) >= len(strongest) + 8  # strongest-only crowds a few textured cells


def test_pack_round_trip(camera: NDArray[np.uint8]) -> None:
    f = extract(camera, 300)
    blob = pack(f)
    assert len(blob) == 4 + FEATURE_BYTES * len(f)
    g = unpack(blob)
    assert np.array_equal(g.desc, f.desc)
    assert np.abs(g.xy - f.xy).max() <= 1 / 32
    assert np.array_equal(g.octave, f.octave)
    d = np.abs((g.angle - f.angle + 180) % 360 - 180)
    assert d.max() <= 360 / 256
    assert (g.width, g.height) == (f.width, f.height)


def test_features_survive_a_half_size_copy(camera: NDArray[np.uint8]) -> None:
    f = extract(camera, 800)
    half = cv2.resize(camera, (256, 256), interpolation=cv2.INTER_AREA)
    g = extract(cv2.resize(half, (384, 384)), 800)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
    matches = bf.match(g.desc, f.desc)
    consistent = sum(1 for m in matches if np.hypot(*(g.xy[m.queryIdx] * (512 / 384) - f.xy[m.trainIdx])) < 4)
    assert consistent >= 60
