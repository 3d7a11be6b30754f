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


def test_soft_assignment_starts_with_the_nearest_word_and_ranks_by_distance(camera: NDArray[np.uint8]) -> None:
    vocab = default_vocabulary()
    desc = extract(camera, 300).desc
    words, gaps = vocab.quantise_multi(desc, parents=2, children=3)
    assert words.shape == gaps.shape == (len(desc), 6)
    assert np.array_equal(words[:, 0], vocab.quantise(desc))
    # The tree's first answer is not always the nearest centre: a child of the second-nearest parent can be
    # nearer (a negative gap). After the first, words come nearest first.
    assert np.all(gaps[:, 0] == 0) and np.all(np.diff(gaps[:, 1:], axis=1) >= 0)
    assert (gaps[:, 1:] < 0).mean() < 0.25
    assert all(len(set(row)) == 6 for row in words.tolist())  # six different words
    # The gaps are true Hamming distances to the words' centres, relative to the nearest.
    bits = np.unpackbits(desc, axis=1).astype(np.int64)
    children = np.unpackbits(_children_of(vocab), axis=-1).astype(np.int64)
    for i in range(0, len(desc), 37):
        dist = [int(np.abs(bits[i] - children[w // vocab.k2, w % vocab.k2]).sum()) for w in words[i]]
        assert np.allclose(np.array(dist) - dist[0], gaps[i])


def test_soft_assignment_on_a_toy_vocabulary() -> None:
    rng = np.random.default_rng(2)
    top = rng.integers(0, 256, (3, 32), dtype=np.uint8)
    children = rng.integers(0, 256, (3, 4, 32), dtype=np.uint8)
    desc = top[1][None, :].copy()
    words, gaps = Vocabulary(top, children).quantise_multi(desc, parents=1, children=4)
    # All four children of parent 1, nearest first.
    dist = np.unpackbits(children[1] ^ desc[0], axis=1).sum(axis=1)
    assert sorted(words[0].tolist()) == [4, 5, 6, 7]
    assert np.array_equal(np.sort(dist) - dist.min(), gaps[0])
    empty_words, empty_gaps = Vocabulary(top, children).quantise_multi(np.zeros((0, 32), np.uint8))
    assert empty_words.shape == (0, 4) and empty_gaps.shape == (0, 4)


def _children_of(vocab: Vocabulary) -> NDArray[np.uint8]:
    signs = vocab._children  # (K1, K2, 256) of +-1
    return np.packbits(signs > 0, axis=-1)
