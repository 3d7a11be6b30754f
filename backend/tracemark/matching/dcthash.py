"""The global perceptual hash: a 256-bit DCT hash with its eight dihedral variants (version 1).

The algorithm (in the family of pHash and Meta's PDQ):

1. Grey (luma) pixels, shrunk with area averaging to 64 x 64. Aspect ratio is dropped on purpose, so a copy
   that was resized to another shape still hashes alike.
2. A 2-D type-II DCT of the 64 x 64 block; keep the 16 x 16 lowest frequencies (rows u, columns v).
3. Bit (u, v) is 1 when that coefficient is above the median of the 256 kept coefficients.

The dihedral variants come from the DCT itself, without touching pixels: mirroring left-right multiplies
coefficient (u, v) by (-1)^v, flipping top-bottom multiplies it by (-1)^u, and transposing the image transposes
the coefficient block. So the eight hashes of an image's rotations by 90 degrees and mirrors are computed from
one DCT. A query hashes its variants; references store only their own hash.

Copies that were recompressed, resized, re-levelled or turned grey keep most bits (tens of bits differ out
of 256); unrelated photos differ in about 128. Crops, screenshots and collages change the frame and defeat
any global hash; other lanes handle those.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2

HASH_BITS: Final = 256
HASH_BYTES: Final = HASH_BITS // 8
_SIDE: Final = 64
_KEEP: Final = 16

DIHEDRAL_NAMES: Final = (
    "identity",
    "mirror",
    "flip",
    "rotate180",
    "transpose",
    "rotate90",
    "rotate270",
    "transverse",
)
"""Names of the eight variants, in the order `dihedral_hashes` returns them.

Each name says what was done to the *reference* to give an image whose hash is that variant. "mirror" is a
left-right mirror; "rotate90" a quarter turn counter-clockwise.
"""


def _coefficients(grey: NDArray[np.uint8]) -> NDArray[np.float32]:
    small = cv2.resize(grey, (_SIDE, _SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    dct: NDArray[np.float32] = cv2.dct(small)
    return np.ascontiguousarray(dct[:_KEEP, :_KEEP])


def _bits(coeffs: NDArray[np.float32]) -> NDArray[np.uint8]:
    flat = coeffs.reshape(-1)
    median = float(np.median(flat))
    packed: NDArray[np.uint8] = np.packbits(flat > median)
    return packed


def dct_hash(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The 256-bit hash of a grey image.

    Args:
        grey: Pixels, shape (height, width), uint8.

    Returns:
        32 bytes (uint8), most significant bit first, coefficient order row by row.
    """
    return _bits(_coefficients(grey))


_SIGN = np.where(np.arange(_KEEP) % 2 == 0, 1.0, -1.0).astype(np.float32)


def dihedral_hashes(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The hashes of the eight rotations and mirrors of a grey image, from one DCT.

    Args:
        grey: Pixels, shape (height, width), uint8.

    Returns:
        Shape (8, 32), uint8; row i is the hash of the image transformed as `DIHEDRAL_NAMES[i]` says. Row 0 is
        `dct_hash(grey)`.
    """
    c = _coefficients(grey)
    cols = _SIGN[None, :]
    rows = _SIGN[:, None]
    variants = [
        c,  # identity
        c * cols,  # mirror left-right: x -> W-1-x flips the sign of odd column frequencies
        c * rows,  # flip top-bottom
        c * rows * cols,  # rotate 180
        c.T,  # transpose
        (c * cols).T,  # rotate 90 counter-clockwise = transpose of the mirror
        (c * rows).T,  # rotate 270 counter-clockwise = transpose of the flip
        (c * rows * cols).T,  # transverse
    ]
    return np.stack([_bits(np.ascontiguousarray(v)) for v in variants])


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hamming(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> NDArray[np.int64] | int:
    """Hamming distance between packed bit strings (broadcasting over leading axes).

    Args:
        a: Packed bits, last axis the bytes.
        b: Packed bits, same last axis length.

    Returns:
        The number of differing bits (an int for 1-D inputs, else an array).
    """
    d = _POPCOUNT[np.bitwise_xor(a, b)].sum(axis=-1, dtype=np.int64)
    if np.ndim(d) == 0:
        return int(d)
    result: NDArray[np.int64] = d
    return result
