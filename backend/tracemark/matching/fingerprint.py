"""Reference fingerprints: everything the index keeps about one registered image (index version 3).

A fingerprint has two parts, matching the two stages of a search:

*Retrieval* (held in memory, under 200 bytes per reference):
  - the 256-bit DCT hash of the whole image (`dcthash`), 32 bytes;
  - 40 *stable visual words* (`vocabulary`), each with its keypoint's orientation, its pyramid level and 10 bits
    of its descriptor (a Hamming-embedding signature), packed in 4 bytes of an inverted-file posting (6 of the
    signature bits are implied by the posting's place in the inverted file, see `retrieval`).

  The words are chosen for surviving copies, not for corner strength alone: the reference is degraded the
  way copies on the web are (shrunk to 60 % with JPEG quality 40, and to 35 %), features are detected again
  in each degraded version, and a reference feature scores one point for every version in which a feature at
  the same place would be looked up under its word (with the soft assignment a query uses: any of the degraded
  feature's 4 likely words, `Vocabulary.quantise_multi`). The kept 40 are the best scorers, spread over a 6 x 6
  grid so that a crop of any part still holds some of them.

*Verification* (stored on disk, under 64 KB per reference):
  - up to 700 ORB features spread over the image (`features.pack`, 40 bytes each);
  - a grey thumbnail, 320 pixels on the long side, JPEG quality 90 (lowered step by step to at most 50 until
    it fits in 32 KB), for the photometric check; with 700 features of 40 bytes that stays under 64 KB;
  - the full-size width and height and the colourfulness (to tell a greyscale copy).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2
from tracemark.matching.dcthash import dct_hash
from tracemark.matching.decode import Photo
from tracemark.matching.errors import ImageTooSmallError
from tracemark.matching.features import Features, extract, pack, select_spread, spread_order
from tracemark.matching.vocabulary import default_vocabulary

FINGERPRINT_VERSION = 2
"""Version of the global DCT hash, the part of a fingerprint that is published (`dct256.v<N>` in a certificate's
metadata); bumped when that hash changes, which also changes `INDEX_VERSION`."""

INDEX_VERSION = 3
"""Version of everything an index row stores (global hash, retrieval words, verification features); bumped
whenever any part changes. Rows with another version are stale: not searched, listed for re-indexing.
Version 3: 10-bit word signatures (version 2 had 4)."""

WORK_SIDE = 640
"""Long side (pixels) of the working image that reference features are computed on."""

THUMB_SIDE = 320
VERIFY_FEATURES = 700
RETRIEVAL_WORDS = 40
WORD_POOL = 360
MAX_THUMBNAIL_BYTES = 32 * 1024
QUERY_MIN_SIDE = 360
"""Queries smaller than this on the long side are enlarged before feature detection."""

_POSTING_RECORD = np.dtype([("w", "<u2"), ("a", "u1"), ("o", "u1"), ("s", "<u2")])

STABILITY_PARENTS = 2
STABILITY_CHILDREN = 2

_DEGRADATIONS: tuple[tuple[float, int], ...] = ((0.6, 40), (0.35, 0))


@dataclass(frozen=True, slots=True)
class WordPostings:
    """The retrieval words of a reference.

    Attributes:
        words: Visual word ids (k,), int64.
        angle_bin: Keypoint orientation in 16 steps per turn (k,), uint8.
        octave: Pyramid level (k,), uint8.
        signature: Hamming-embedding bits of each descriptor (k,), uint16 (`signature_of`).
    """

    words: NDArray[np.int64]
    angle_bin: NDArray[np.uint8]
    octave: NDArray[np.uint8]
    signature: NDArray[np.uint16]

    def to_bytes(self) -> bytes:
        """Serialises to 6 bytes per word: uint16 word, angle bin, octave, uint16 signature."""
        rec = np.zeros(len(self.words), dtype=_POSTING_RECORD)
        rec["w"] = self.words
        rec["a"] = self.angle_bin
        rec["o"] = self.octave
        rec["s"] = self.signature
        return rec.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> WordPostings:
        """Reads what `to_bytes` wrote.

        Raises:
            ValueError: The blob is not a whole number of records (written by another index version).
        """
        if len(blob) % _POSTING_RECORD.itemsize:
            raise ValueError("postings blob of another index version")
        rec = np.frombuffer(blob, dtype=_POSTING_RECORD)
        return cls(rec["w"].astype(np.int64), rec["a"].copy(), rec["o"].copy(), rec["s"].copy())


@dataclass(frozen=True, slots=True)
class ReferenceFingerprint:
    """Everything stored about one reference image.

    Attributes:
        version: `INDEX_VERSION` when computed.
        width: Full-size width in pixels.
        height: Full-size height in pixels.
        work_scale: Working pixels per full-size pixel.
        global_hash: 32-byte DCT hash.
        postings: Retrieval words.
        features: Packed verification features (`features.pack`).
        thumbnail: JPEG bytes of the grey thumbnail.
        colourfulness: Mean chroma (0-255 scale) of the image; near 0 for a grey image.
    """

    version: int
    width: int
    height: int
    work_scale: float
    global_hash: bytes
    postings: WordPostings
    features: bytes
    thumbnail: bytes
    colourfulness: float


SIGNATURE_BITS = (37, 101, 165, 229, 5, 69, 133, 197, 21, 85)
"""Descriptor bits kept with each posting (Hamming embedding, Jegou et al. 2008), spread over the descriptor;
bit k of a signature is descriptor bit `SIGNATURE_BITS[k]`."""


def signature_of(desc: NDArray[np.uint8]) -> NDArray[np.uint16]:
    """The `SIGNATURE_BITS` of each descriptor packed into 10 bits (n,), uint16."""
    out = np.zeros(desc.shape[0], np.uint16)
    for k, bit in enumerate(SIGNATURE_BITS):
        out |= (((desc[:, bit // 8] >> (7 - bit % 8)) & 1).astype(np.uint16) << k).astype(np.uint16)
    return out


def to_grey(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Luma of an RGB image."""
    grey: NDArray[np.uint8] = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return grey


def resize_long_side(img: NDArray[np.uint8], side: int) -> NDArray[np.uint8]:
    """Resizes so that the long side is `side` (area averaging down, bilinear up)."""
    h, w = img.shape[:2]
    factor = side / max(h, w)
    if abs(factor - 1.0) < 1e-3:
        return img
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    out: NDArray[np.uint8] = cv2.resize(img, size, interpolation=interp)
    return out


def colourfulness(rgb: NDArray[np.uint8]) -> float:
    """Mean chroma: the mean over pixels of (max channel - min channel)."""
    small = rgb if max(rgb.shape[:2]) <= 256 else resize_long_side(rgb, 256)
    s = small.astype(np.int16)
    return float((s.max(axis=2) - s.min(axis=2)).mean())


def query_scale_for(h: int, w: int) -> float:
    """Factor applied to a query's working image before feature detection (enlarges small ones)."""
    return max(1.0, QUERY_MIN_SIDE / max(h, w))


def _degraded_views(grey: NDArray[np.uint8]) -> list[tuple[Features, float]]:
    """Features of the degraded versions of a reference, with each version's scale to the original."""
    out = []
    for factor, quality in _DEGRADATIONS:
        small = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        if quality:
            ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                small = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        up = query_scale_for(*small.shape[:2])
        if up > 1.0:
            small = cv2.resize(small, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
        out.append((extract(small, 800), factor * up))
    return out


def _stability(
    base: Features,
    words: NDArray[np.int64],
    degraded: list[tuple[Features, float]],
    degraded_words: list[NDArray[np.int64]],
) -> NDArray[np.float32]:
    """How many degraded versions re-detect each feature of `base` with the same word nearby.

    "Nearby" is the same or a neighbouring cell of a grid whose cell is the position tolerance, so a lookup is
    one `np.isin` on (word, cell) keys. A degraded feature may carry several likely words (m, k): it finds a
    base feature whose word is any of them.
    """
    score = np.zeros(len(base), np.float32)
    for (seen, scale), seen_words in zip(degraded, degraded_words, strict=True):
        if len(seen) == 0:
            continue
        cell = 3.0 / scale + 1.0
        seen_cells = np.floor(seen.xy / scale / cell).astype(np.int64)
        cell_keys = ((seen_cells[:, 0] & 0xFFF) << 12) | (seen_cells[:, 1] & 0xFFF)
        seen_keys = ((seen_words << 24) | cell_keys.reshape((-1,) + (1,) * (seen_words.ndim - 1))).reshape(-1)
        base_cells = np.floor(base.xy / cell).astype(np.int64)
        found = np.zeros(len(base), bool)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                keys = (words << 24) | (((base_cells[:, 0] + dx) & 0xFFF) << 12) | ((base_cells[:, 1] + dy) & 0xFFF)
                found |= np.isin(keys, seen_keys)
        score += found
    return score


def fingerprint_reference(photo: Photo) -> ReferenceFingerprint:
    """Computes the fingerprint of a reference image.

    Args:
        photo: The decoded image (any working size; it is shrunk to `WORK_SIDE`).

    Returns:
        The fingerprint.

    Raises:
        ImageTooSmallError: The image has too little structure to fingerprint (no features at all).
    """
    rgb = photo.rgb
    if max(rgb.shape[:2]) > WORK_SIDE:
        rgb = resize_long_side(rgb, WORK_SIDE)
    grey = to_grey(rgb)
    work_scale = grey.shape[1] / photo.width
    global_hash = dct_hash(grey).tobytes()
    up = query_scale_for(*grey.shape)
    feat_grey = grey if up == 1.0 else cv2.resize(grey, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
    detected = extract(feat_grey, 1500)
    if up != 1.0 and len(detected):
        detected = Features(
            xy=(detected.xy / up).astype(np.float32),
            octave=detected.octave,
            angle=detected.angle,
            response=detected.response,
            desc=detected.desc,
            width=grey.shape[1],
            height=grey.shape[0],
        )
    if len(detected) < 8:
        raise ImageTooSmallError("image has too little detail to fingerprint (fewer than 8 local features)")
    # Word candidates: a spread pre-selection; all descriptors are quantised in one call.
    pool = select_spread(detected, WORD_POOL, grid=8)
    degraded = _degraded_views(grey)
    # A degraded version "finds" a pool feature when one of its features nearby would be looked up under the
    # pool feature's word, with the soft assignment queries use (`query.assign_words`).
    vocab = default_vocabulary()
    all_words, _ = vocab.quantise_multi(
        np.concatenate([pool.desc, *(f.desc for f, _ in degraded)]), STABILITY_PARENTS, STABILITY_CHILDREN
    )
    bounds = np.cumsum([len(pool), *(len(f) for f, _ in degraded)])
    pool_words = all_words[: bounds[0], 0]
    degraded_words = [all_words[a:b] for a, b in itertools.pairwise(bounds)]
    stability = _stability(pool, pool_words, degraded, degraded_words)
    strength = pool.response / (float(pool.response.max()) + 1e-12)
    rank = (stability * 4.0 + strength).astype(np.float32)
    keep = spread_order(pool, RETRIEVAL_WORDS, grid=6, weight=rank)
    chosen = pool.subset(keep)
    chosen_words = pool_words[keep]
    postings = WordPostings(
        words=chosen_words,
        angle_bin=(np.floor(chosen.angle / 22.5).astype(np.int64) % 16).astype(np.uint8),
        octave=chosen.octave.copy(),
        signature=signature_of(chosen.desc),
    )
    verify = select_spread(detected, VERIFY_FEATURES, grid=8)
    thumb = resize_long_side(grey, THUMB_SIDE)
    jpeg = b""
    for quality in (90, 80, 70, 60, 50):
        ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ImageTooSmallError("could not encode the thumbnail")
        jpeg = buf.tobytes()
        if len(jpeg) <= MAX_THUMBNAIL_BYTES:
            break
    return ReferenceFingerprint(
        version=INDEX_VERSION,
        width=photo.width,
        height=photo.height,
        work_scale=float(work_scale),
        global_hash=global_hash,
        postings=postings,
        features=pack(verify),
        thumbnail=jpeg,
        colourfulness=colourfulness(rgb),
    )
