"""The visual-word lane: signature rule, soft lookups, weak geometric consistency, removal and budgets."""

from __future__ import annotations

import numpy as np
import pytest

from tracemark.matching.fingerprint import RETRIEVAL_WORDS, SIGNATURE_BITS, WordPostings
from tracemark.matching.retrieval import (
    _KEPT_BITS,
    _SIGNATURE_OK,
    KEY_SIGNATURE_BITS,
    MAX_SIGNATURE_DISTANCE,
    RetrievalIndex,
    WordQuery,
)
from tracemark.matching.vocabulary import WORDS

SIG_BITS = len(SIGNATURE_BITS)


def _random_refs(rng: np.random.Generator, n: int) -> list[WordPostings]:
    return [
        WordPostings(
            rng.integers(0, WORDS, RETRIEVAL_WORDS),
            rng.integers(0, 16, RETRIEVAL_WORDS).astype(np.uint8),
            rng.integers(0, 8, RETRIEVAL_WORDS).astype(np.uint8),
            rng.integers(0, 1 << SIG_BITS, RETRIEVAL_WORDS).astype(np.uint16),
        )
        for _ in range(n)
    ]


def _index(refs: list[WordPostings]) -> RetrievalIndex:
    index = RetrievalIndex()
    for slot, posts in enumerate(refs):
        index.add(slot, bytes(32), posts)
    return index


def _copy_of(posts: WordPostings, take: slice, turn_bins: int = 3, levels: int = 2) -> WordQuery:
    """The query a copy gives: some of the reference's features, turned by `turn_bins` x 22.5 degrees and
    `levels` pyramid levels coarser."""
    words = posts.words[take]
    angles = (posts.angle_bin[take].astype(np.float32) * 22.5 + 11.25 + turn_bins * 22.5) % 360
    octaves = np.minimum(posts.octave[take].astype(np.int64) + levels, 7).astype(np.uint8)
    return WordQuery(words, angles.astype(np.float32), octaves, posts.signature[take].copy())


def test_signature_rule_table_is_the_hamming_rule() -> None:
    # Every (query kept bits, allowance, posting kept bits) combination, against a plain popcount.
    mask = (1 << _KEPT_BITS) - 1
    for query_bits in range(1 << _KEPT_BITS):
        for allowance in range(4):
            for posting_bits in range(1 << _KEPT_BITS):
                rule = ((query_bits << 2 | allowance) << _KEPT_BITS) | posting_bits
                expected = bin((query_bits ^ posting_bits) & mask).count("1") <= allowance
                assert bool(_SIGNATURE_OK[rule]) == expected


@pytest.mark.parametrize(
    ("flipped_bits", "votes"),
    [
        ((), True),
        ((0,), True),  # one key bit
        ((KEY_SIGNATURE_BITS,), True),  # one kept bit
        ((KEY_SIGNATURE_BITS, KEY_SIGNATURE_BITS + 1), True),  # two kept bits
        ((0, KEY_SIGNATURE_BITS), True),  # one of each
        ((0, 1), False),  # two key bits: never read
        ((0, KEY_SIGNATURE_BITS, KEY_SIGNATURE_BITS + 1), False),  # three in all
        ((KEY_SIGNATURE_BITS, KEY_SIGNATURE_BITS + 1, KEY_SIGNATURE_BITS + 2), False),
    ],
)
def test_a_posting_votes_only_within_the_signature_distance(flipped_bits: tuple[int, ...], votes: bool) -> None:
    assert MAX_SIGNATURE_DISTANCE == 2
    rng = np.random.default_rng(1)
    refs = _random_refs(rng, 50)
    index = _index(refs)
    query = _copy_of(refs[7], slice(0, 12))
    flip = sum(1 << b for b in flipped_bits)
    query = WordQuery(query.words, query.angles, query.octaves, (query.signatures ^ flip).astype(np.uint16))
    rows = [h.row for h in index.search_words([query], k=5)]
    assert (rows[:1] == [7]) == votes


def test_a_copy_with_a_few_words_ranks_first_among_many(rng_seed: int = 3) -> None:
    rng = np.random.default_rng(rng_seed)
    refs = _random_refs(rng, 3000)
    index = _index(refs)
    # A small crop: 6 of the 40 words, plus 300 unrelated lookups from the rest of the copy.
    copy = _copy_of(refs[1234], slice(10, 16))
    noise = WordQuery(
        rng.integers(0, WORDS, 300),
        rng.uniform(0, 360, 300).astype(np.float32),
        rng.integers(0, 8, 300).astype(np.uint8),
        rng.integers(0, 1 << SIG_BITS, 300).astype(np.uint16),
    )
    joined = WordQuery(*(np.concatenate([a, b]) for a, b in zip(
        (copy.words, copy.angles, copy.octaves, copy.signatures),
        (noise.words, noise.angles, noise.octaves, noise.signatures),
        strict=True,
    )))  # fmt: skip
    hits = index.search_words([joined], k=10, shortlist=50)
    assert hits[0].row == 1234
    assert hits[0].votes > 2 * hits[1].votes


def test_votes_need_a_consistent_rotation_and_scale() -> None:
    rng = np.random.default_rng(4)
    refs = _random_refs(rng, 200)
    index = _index(refs)
    consistent = _copy_of(refs[5], slice(0, 10), turn_bins=5)
    scattered = WordQuery(
        consistent.words,
        ((np.arange(10) * 36.0 + consistent.angles) % 360).astype(np.float32),  # every feature turned differently
        consistent.octaves,
        consistent.signatures,
    )
    good = next(h for h in index.search_words([consistent], k=5) if h.row == 5)
    bad = [h for h in index.search_words([scattered], k=5) if h.row == 5]
    assert not bad or bad[0].votes < good.votes / 3


def test_each_view_is_reported_and_a_busy_view_does_not_crowd_out_a_small_one() -> None:
    rng = np.random.default_rng(5)
    refs = _random_refs(rng, 2000)
    index = _index(refs)
    busy = WordQuery(
        rng.integers(0, WORDS, 3000),
        rng.uniform(0, 360, 3000).astype(np.float32),
        rng.integers(0, 8, 3000).astype(np.uint8),
        rng.integers(0, 1 << SIG_BITS, 3000).astype(np.uint16),
    )
    small = _copy_of(refs[42], slice(0, 5))
    hits = index.search_words([busy, small], k=5, shortlist=20)
    assert hits[0].row == 42 and hits[0].view == 1


def test_removed_references_are_not_returned_and_lookups_lists_are_exact() -> None:
    rng = np.random.default_rng(6)
    refs = _random_refs(rng, 100)
    index = _index(refs)
    query = _copy_of(refs[9], slice(0, 20))
    assert index.search_words([query], k=1)[0].row == 9
    index.remove(9)
    assert all(h.row != 9 for h in index.search_words([query], k=50))
    index.add(100, bytes(32), refs[9])  # added again under a new slot
    hit = index.search_words([query], k=1)[0]
    assert index.slot(hit.row) == 100


def test_memory_per_reference_stays_within_budget() -> None:
    rng = np.random.default_rng(7)
    index = _index(_random_refs(rng, 500))
    # 32-byte hash, 40 postings of 4 bytes, a 4-byte slot; the list offsets are sized by the vocabulary.
    assert index.memory_bytes() == 500 * (32 + 4 * RETRIEVAL_WORDS + 4)
    assert index.fixed_bytes() == 8 * (WORDS + 1) + 2 * WORDS * ((1 << KEY_SIGNATURE_BITS) + 1)


def test_a_word_with_more_postings_than_16_bit_offsets_hold() -> None:
    rng = np.random.default_rng(8)
    refs = _random_refs(rng, 1700)
    for posts in refs[:1650]:
        posts.words[:] = 5  # 66,000 postings of one word
    index = _index(refs)
    assert index.fixed_bytes() > 8 * (WORDS + 1) + 2 * WORDS * ((1 << KEY_SIGNATURE_BITS) + 1)
    query = _copy_of(refs[1690], slice(0, 20))
    assert index.search_words([query], k=1)[0].row == 1690
    # A word held by nearly every reference carries no evidence (its idf is below zero): it nominates nothing.
    crowded = _copy_of(refs[1600], slice(0, 40))
    assert index.search_words([crowded], k=1) == []
