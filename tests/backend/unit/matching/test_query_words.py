"""Soft assignment of query features within a lookup budget (`query.assign_words`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tracemark.matching.decode import Photo
from tracemark.matching.query import FULL_WORDS, WORD_CHILDREN, WORD_PARENTS, assign_words, build_views


def _views(astronaut: NDArray[np.uint8]) -> list:
    return build_views(Photo(rgb=astronaut, width=512, height=512))


def test_every_feature_keeps_its_nearest_word_even_without_budget(astronaut: NDArray[np.uint8]) -> None:
    views = _views(astronaut)
    assign_words(views, budget=0)
    for view in views:
        keep, words, _ = view.word_candidates()
        q = view.word_query
        assert np.array_equal(q.words, words[:, 0])
        assert np.array_equal(np.sort(np.unique(view._word_index)), np.sort(keep))


def test_the_budget_goes_to_the_closest_alternatives(astronaut: NDArray[np.uint8]) -> None:
    views = _views(astronaut)
    features = sum(len(v.word_candidates()[0]) for v in views)
    budget = features + 500
    assign_words(views, budget=budget)
    assert sum(len(v.word_query.words) for v in views) == budget
    taken, left = [], []
    for view in views:
        keep, words, gaps = view.word_candidates()
        q = view.word_query
        chosen = set(zip(view._word_index.tolist(), q.words.tolist(), strict=True))
        for i, f in enumerate(keep.tolist()):
            for j in range(1, words.shape[1]):
                (taken if (f, int(words[i, j])) in chosen else left).append(float(gaps[i, j]))
    assert len(taken) == 500
    assert max(taken) <= min(left)


def test_a_plain_picture_gets_every_alternative(astronaut: NDArray[np.uint8]) -> None:
    views = _views(astronaut)
    assert len(views) == 2  # the picture and its mirror
    assign_words(views)
    for view in views:
        q = view.word_query
        assert len(q.words) == len(view.word_candidates()[0]) * WORD_PARENTS * WORD_CHILDREN
        assert len(view.word_candidates()[0]) <= FULL_WORDS
        # A feature's lookups share its orientation, level and signature.
        assert len(q.angles) == len(q.octaves) == len(q.signatures) == len(q.words)
