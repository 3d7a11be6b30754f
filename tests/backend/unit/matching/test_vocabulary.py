"""The visual vocabulary: shipped file, deterministic quantisation, robustness of words."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tracemark.matching.features import extract
from tracemark.matching.vocabulary import WORDS, Vocabulary, dead_leaves, default_vocabulary


def test_shipped_vocabulary_has_all_words() -> None:
    vocab = default_vocabulary()
    assert vocab.size == WORDS


def test_quantise_is_deterministic_and_in_range(camera: NDArray[np.uint8]) -> None:
    f = extract(camera, 500)
    vocab = default_vocabulary()
    w1, w2 = vocab.quantise(f.desc), vocab.quantise(f.desc)
    assert np.array_equal(w1, w2)
    assert w1.min() >= 0 and w1.max() < WORDS
    assert len(np.unique(w1)) > 0.6 * len(w1)  # words spread over the vocabulary


def test_quantise_picks_the_nearest_centre() -> None:
    rng = np.random.default_rng(0)
    top = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    children = rng.integers(0, 256, (4, 3, 32), dtype=np.uint8)
    vocab = Vocabulary(top, children)
    # A descriptor equal to child (2, 1) of a parent equal to it goes there.
    desc = children[2, 1][None, :].copy()
    top2 = top.copy()
    top2[2] = desc[0]
    assert int(Vocabulary(top2, children).quantise(desc)[0]) == 2 * 3 + 1
    assert vocab.quantise(np.zeros((0, 32), np.uint8)).shape == (0,)


def test_dead_leaves_training_images_are_seeded() -> None:
    a = dead_leaves(np.random.default_rng(3), size=128)
    b = dead_leaves(np.random.default_rng(3), size=128)
    assert np.array_equal(a, b) and a.std() > 20
