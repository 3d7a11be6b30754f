"""The DCT hash: golden vectors, dihedral variants from the DCT, robustness and discrimination."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from tracemark.matching.dcthash import DIHEDRAL_NAMES, dct_hash, dihedral_hashes, hamming


def _golden_image(kind: int) -> NDArray[np.uint8]:
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    if kind == 0:
        g = 128 + 60 * np.sin(xx / 9.0) + 50 * np.cos(yy / 7.0 + xx / 31.0)
    elif kind == 1:
        g = (xx * 2 + yy) % 256
    else:
        g = 128 + 100 * np.sin((xx - 40) ** 2 / 300.0 + (yy - 30) ** 2 / 500.0)
    return np.clip(g, 0, 255).astype(np.uint8)


# Version 1 of the hash. A change here is a change of the fingerprint: bump FINGERPRINT_VERSION.
GOLDEN = {
    0: (
        "f8003fff6aab3fff6aaac0009555c0009557c0039557c05d957fc03f957bc05f",
        "ad556aaa3fff6aaa3fff9555c0009555c0079555c0079555c00e9571c03f955f",
    ),
    1: (
        "914535d5a9552ad5aab52aa9aaaa2aaaaaaa2aaaaaba2aaaaaba3aaaaeba3aaa",
        "c41060007c007f807fe06f7c7bef4f7b79ef4f7939cf4e3931c6463930c60630",
    ),
    2: (
        "c04dc0493fb627e4c66d3992876cd89b3fa6c0493fb6c0493fb6c04d3fb6c04d",
        "9518951c6ae372b193386cc7d2398dce6af3951c6ae3951c6ae3951c6ae39538",
    ),
}


@pytest.mark.parametrize("kind", sorted(GOLDEN))
def test_golden_vectors(kind: int) -> None:
    img = _golden_image(kind)
    plain, mirrored = GOLDEN[kind]
    assert dct_hash(img).tobytes().hex() == plain
    assert dihedral_hashes(img)[1].tobytes().hex() == mirrored


def test_hash_is_256_bits(camera: NDArray[np.uint8]) -> None:
    h = dct_hash(camera)
    assert h.dtype == np.uint8 and h.shape == (32,)
    assert 100 <= int(np.unpackbits(h).sum()) <= 156  # median threshold: about half the bits set


def test_dihedral_variants_equal_hashes_of_transformed_pixels(camera: NDArray[np.uint8]) -> None:
    g = camera
    transformed = {
        "identity": g,
        "mirror": g[:, ::-1],
        "flip": g[::-1],
        "rotate180": g[::-1, ::-1],
        "transpose": g.T,
        "rotate90": np.rot90(g),
        "rotate270": np.rot90(g, 3),
        "transverse": g[::-1, ::-1].T,
    }
    variants = dihedral_hashes(g)
    for i, name in enumerate(DIHEDRAL_NAMES):
        assert hamming(variants[i], dct_hash(np.ascontiguousarray(transformed[name]))) <= 2, name


def test_copies_stay_close_and_other_photos_stay_far(camera: NDArray[np.uint8], astronaut: NDArray[np.uint8]) -> None:
    h = dct_hash(camera)
    ok, buf = cv2.imencode(".jpg", camera, [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert ok
    jpeg = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    half = cv2.resize(camera, (256, 256), interpolation=cv2.INTER_AREA)
    brighter = np.clip(camera.astype(np.int16) * 1.3, 0, 255).astype(np.uint8)
    for copy in (jpeg, half, brighter):
        assert hamming(h, dct_hash(copy)) <= 24
    other = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert hamming(h, dct_hash(other)) >= 90


def test_hamming_broadcasts() -> None:
    a = np.zeros((3, 32), np.uint8)
    b = np.full(32, 255, np.uint8)
    assert list(np.asarray(hamming(a, b))) == [256, 256, 256]
    assert hamming(a[0], a[1]) == 0
