"""Reference fingerprints: the word signature (golden), the postings' stored form, and the retrieval words."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from tracemark.matching.decode import Photo
from tracemark.matching.fingerprint import (
    INDEX_VERSION,
    RETRIEVAL_WORDS,
    SIGNATURE_BITS,
    WordPostings,
    fingerprint_reference,
    signature_of,
)


def test_signature_golden() -> None:
    # Descriptor bit b is bit (7 - b % 8) of byte b // 8 (OpenCV's order); signature bit k is SIGNATURE_BITS[k].
    assert SIGNATURE_BITS == (37, 101, 165, 229, 5, 69, 133, 197, 21, 85)
    desc = np.zeros((4, 32), np.uint8)
    desc[1, 37 // 8] = 1 << (7 - 37 % 8)  # signature bit 0
    desc[2, 85 // 8] = 1 << (7 - 85 % 8)  # signature bit 9
    desc[3] = 255
    assert signature_of(desc).tolist() == [0, 1, 512, 1023]
    assert signature_of(desc).dtype == np.uint16


def test_postings_round_trip_and_refuse_another_layout() -> None:
    rng = np.random.default_rng(0)
    posts = WordPostings(
        rng.integers(0, 16384, 40),
        rng.integers(0, 16, 40).astype(np.uint8),
        rng.integers(0, 8, 40).astype(np.uint8),
        rng.integers(0, 1024, 40).astype(np.uint16),
    )
    blob = posts.to_bytes()
    assert len(blob) == 6 * 40
    back = WordPostings.from_bytes(blob)
    for a, b in zip(
        (posts.words, posts.angle_bin, posts.octave, posts.signature),
        (back.words, back.angle_bin, back.octave, back.signature),
        strict=True,
    ):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError):
        WordPostings.from_bytes(blob[:-4])  # index version 2 stored 4 bytes a word


def test_reference_words_are_spread_and_versioned(astronaut: NDArray[np.uint8]) -> None:
    fp = fingerprint_reference(Photo(rgb=astronaut, width=512, height=512))
    assert fp.version == INDEX_VERSION
    assert len(fp.postings.words) == RETRIEVAL_WORDS
    assert fp.postings.signature.max() < 1 << len(SIGNATURE_BITS)


def test_stability_counts_a_feature_found_under_any_likely_word() -> None:
    from tracemark.matching.features import Features
    from tracemark.matching.fingerprint import _stability

    def feats(xy: list[tuple[float, float]]) -> Features:
        n = len(xy)
        return Features(
            xy=np.array(xy, np.float32).reshape(-1, 2),
            octave=np.zeros(n, np.uint8),
            angle=np.zeros(n, np.float32),
            response=np.ones(n, np.float32),
            desc=np.zeros((n, 32), np.uint8),
            width=200,
            height=200,
        )

    base = feats([(50, 50), (120, 80), (150, 150)])
    words = np.array([7, 8, 9])
    # Seen at half size: the first where it was with word 7 as its second choice, the second 30 px away, the
    # third where it was but under other words only.
    seen = feats([(25, 25), (75, 40), (75, 75)])
    seen_words = np.array([[3, 7], [8, 1], [2, 4]])
    score = _stability(base, words, [(seen, 0.5)], [seen_words])
    assert score.tolist() == [1.0, 0.0, 0.0]
    hard = _stability(base, words, [(seen, 0.5)], [seen_words[:, 0]])
    assert hard.tolist() == [0.0, 0.0, 0.0]
