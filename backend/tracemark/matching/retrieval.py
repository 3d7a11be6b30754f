"""Candidate retrieval: the in-memory lanes that nominate references for verification.

Two lanes, both over data of at most 200 bytes per reference held in memory:

**Global hash lane** (32 bytes a reference). The 256-bit DCT hashes sit in a faiss `IndexBinaryFlat`
(exhaustive Hamming search with SIMD popcounts; a million references take a few milliseconds per code). A
query looks up the dihedral variants of each of its views; references within `HASH_RADIUS` bits are
nominated. Random pairs of photos differ in about 128 +- 8 bits, so the radius lets through copies with heavy
edits while nominating almost nothing by chance; verification decides anyway.

**Visual-word lane with weak geometric consistency** (40 postings of 4 bytes a reference). An inverted file maps
each visual word to the references holding it; a posting packs the reference row (21 bits), the keypoint
orientation (4 bits), its pyramid level (3 bits) and 4 bits of its descriptor's 10-bit signature (21 + 4 + 3 + 4 =
32). An index holds up to 2**21 (about two million) references; larger registries shard by reference. A query's
features vote for the references that hold their words, but a vote is filed under the *difference* of orientation
and pyramid level between the query feature and the reference feature (Jegou, Douze and Schmid's weak geometric
consistency). A true copy's votes pile up in one (rotation, scale) bin; chance collisions spread over all of them.
A reference's score is its largest bin, each reference posting voting at most once per bin. Bins overlap (each
vote goes to two rotation bins and two scale bins) so that noise in orientation and level does not split a pile.
A vote weighs the word's inverse document frequency, `log((N + 1) / (df + 0.5))`, so that common corner shapes
count for little and rare ones for much. This lane survives crops: a crop holds some of the reference's words, at
the right relative angle and scale.

*Hamming embedding* (Jegou, Douze and Schmid). Each posting carries a 10-bit signature of its descriptor
(`fingerprint.signature_of`); a vote counts only when the query feature's signature differs in at most
`MAX_SIGNATURE_DISTANCE` (2) places, which keeps about 4 in 5 true votes and drops 24 in 25 chance ones. The
first `KEY_SIGNATURE_BITS` (6) signature bits are not stored in the posting: with the word they key the inverted
list (`word << 6 | bits`), so a query feature reads only the 7 lists whose key bits differ from its own in at most
one place (about 7/64 of the word's postings) and checks the 4 kept bits of what it reads against a table. This
is what makes the lane fast: the postings read per query feature are a ninth of the word's.

*Soft assignment* (`query.assign_words`): a query feature is looked up under several likely words, which finds the
word a reference stored about 1.6 times as often as the nearest word alone.

All views are voted in one pass: the postings read are gathered with one vectorised index (positions computed by
a running sum over the lists), a first ranking (one weighted `bincount`) keeps `SHORTLIST` references per view,
and only their votes are filed into (view, rotation, scale) bins (see `RetrievalIndex.search_words`).

Additions are buffered and the inverted file is rebuilt lazily before the next search; removals leave a
tombstone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from tracemark.matching.dcthash import HASH_BITS, HASH_BYTES
from tracemark.matching.fingerprint import WordPostings
from tracemark.matching.vocabulary import WORDS

# faiss's OpenMP workers spin while OpenCV and BLAS threads run: many small searches then take 100 ms each
# instead of 1 ms. One thread by default; hash searches over large indexes use two.
faiss.omp_set_num_threads(1)

HASH_RADIUS = 90
MIN_VOTES = 0.0
SHORTLIST = 400
PARALLEL_HASH_SEARCH = 200_000
ANGLE_BINS = 16
_ROW_SHIFT = 11
MAX_ROWS = 1 << 21
KEY_SIGNATURE_BITS = 6
"""Signature bits that, with the word, key an inverted list (the other `_KEPT_BITS` are kept in the posting)."""
MAX_SIGNATURE_DISTANCE = 2
"""Largest Hamming distance between the signature of a query feature and of a posting that votes (with at most
one difference in the key bits)."""
_KEYS = WORDS << KEY_SIGNATURE_BITS
_KEY_COLUMNS = (1 << KEY_SIGNATURE_BITS) + 1
_FLIPS = np.array([0, *(1 << b for b in range(KEY_SIGNATURE_BITS))], np.int64)
"""The inverted lists a query feature reads: its own key bits and each with one bit flipped."""
_FLIP_COST = np.array([0, *([1] * KEY_SIGNATURE_BITS)], np.int64)
_KEY_MASK = (1 << KEY_SIGNATURE_BITS) - 1
_KEPT_BITS = 4
_KEPT_MASK = (1 << _KEPT_BITS) - 1
_SIGNATURE_OK = np.array(
    [
        bin(((rule >> _KEPT_BITS) >> 2) ^ (rule & _KEPT_MASK)).count("1") <= ((rule >> _KEPT_BITS) & 3)
        for rule in range(1 << (_KEPT_BITS + _KEPT_BITS + 2))
    ],
    bool,
)
"""Whether a posting's kept signature bits (low bits of the index) pass a probe's rule (high bits: the query's
kept bits and how many differences they may have)."""


@dataclass(frozen=True, slots=True)
class HashHit:
    """A reference nominated by the global hash lane."""

    row: int
    distance: int
    query: int


@dataclass(frozen=True, slots=True)
class WordHit:
    """A reference nominated by the visual-word lane, with the index of the view whose votes won."""

    row: int
    votes: float
    view: int
    second_view: int | None = None


@dataclass(frozen=True, slots=True)
class WordQuery:
    """The visual words of one query view, with each feature's orientation (degrees) and pyramid level."""

    words: NDArray[np.int64]
    angles: NDArray[np.float32]
    octaves: NDArray[np.uint8]
    signatures: NDArray[np.uint16]


def _top_rows(scores: NDArray[np.float64], count: int) -> NDArray[np.intp]:
    """Indices of the `count` largest scores (ties broken arbitrarily).

    A full `argpartition` over a million scores takes tens of milliseconds; a threshold estimated from a
    strided 1/16 sample first cuts the field to a few thousand, then an exact partition picks the top.
    """
    n = len(scores)
    if n > 64 * count:
        sample = scores[::16]
        rank = max(1, count // 8)
        threshold = float(np.partition(sample, len(sample) - rank)[len(sample) - rank])
        field = np.flatnonzero(scores >= threshold)
        if len(field) >= count:
            sub = scores[field]
            picked: NDArray[np.intp] = field[np.argpartition(-sub, count - 1)[:count]]
            return picked
    top: NDArray[np.intp] = np.argpartition(-scores, count - 1)[:count]
    return top


class RetrievalIndex:
    """The in-memory retrieval structures, keyed by row (rows map to store slots).

    Per reference it holds the 32-byte hash, 40 postings of 4 bytes and its slot (4 bytes; -1 once removed):
    196 bytes, in numpy arrays only. The inverted lists are found through two tables sized by the vocabulary,
    not by the number of references: where each word's postings start (`_word_start`, 8 bytes a word) and, within
    them, where each key's start (`_key_start`, 65 offsets a word, 2 bytes each while no word has more than 65,535
    postings, else 4).
    """

    def __init__(self) -> None:
        """An empty index."""
        self._hashes = faiss.IndexBinaryFlat(HASH_BITS)
        self._slot_of_row = np.zeros(0, np.int32)
        self._rows = 0
        self._removed = 0
        self._pending_slots: list[int] = []
        self._pending_posts: list[WordPostings] = []
        self._pending_hashes: list[bytes] = []
        self._word_start = np.zeros(WORDS + 1, np.int64)
        self._key_start: NDArray[np.unsignedinteger[Any]] = np.zeros((WORDS, _KEY_COLUMNS), np.uint16)
        self._entries = np.zeros(0, np.uint32)

    def __len__(self) -> int:
        return self._rows - self._removed

    @property
    def rows(self) -> int:
        """Rows used so far (removed references keep theirs)."""
        return self._rows

    @property
    def slots(self) -> list[int]:
        """The slot of every live reference, by row."""
        self._flush()
        return [int(s) for s in self._slot_of_row.tolist() if s >= 0]

    def add(self, slot: int, global_hash: bytes, postings: WordPostings) -> None:
        """Adds a reference (visible to searches from now on).

        Raises:
            OverflowError: The index holds `MAX_ROWS` rows, or the slot does not fit in 31 bits.
        """
        if self._rows >= MAX_ROWS:
            raise OverflowError("retrieval index is full")
        if not 0 <= slot < 2**31:
            raise OverflowError("slot out of range")
        self._rows += 1
        self._pending_slots.append(slot)
        self._pending_hashes.append(global_hash)
        self._pending_posts.append(postings)

    def remove(self, slot: int) -> None:
        """Removes a reference (no effect when the slot is unknown)."""
        self._flush()
        rows = np.flatnonzero(self._slot_of_row == slot)  # removals are rare: a scan is fine
        if rows.size == 0:
            return
        self._slot_of_row[rows] = -1
        self._removed += int(rows.size)

    def slot(self, row: int) -> int:
        """The store slot of a row."""
        self._flush()
        return int(self._slot_of_row[row])

    def row_of(self, slot: int) -> int | None:
        """The row of a live slot, or None."""
        self._flush()
        rows = np.flatnonzero(self._slot_of_row == slot)
        return int(rows[0]) if rows.size else None

    def memory_bytes(self) -> int:
        """Bytes held per reference by the retrieval arrays (hash codes, postings, row-to-slot map)."""
        self._flush()
        return int(self._hashes.ntotal) * HASH_BYTES + self._entries.nbytes + self._slot_of_row.nbytes

    def fixed_bytes(self) -> int:
        """Bytes of the tables whose size depends on the vocabulary, not on the number of references (where the
        inverted lists start)."""
        self._flush()
        return int(self._word_start.nbytes + self._key_start.nbytes)

    def _flush(self) -> None:
        if not self._pending_hashes:
            return
        codes = np.frombuffer(b"".join(self._pending_hashes), np.uint8).reshape(-1, HASH_BYTES)
        self._hashes.add(codes)
        first_row = len(self._slot_of_row)
        rows = np.concatenate(
            [np.full(len(p.words), first_row + i, np.int64) for i, p in enumerate(self._pending_posts)]
            or [np.zeros(0, np.int64)]
        )
        words = np.concatenate([p.words for p in self._pending_posts] or [np.zeros(0, np.int64)])
        angles = np.concatenate([p.angle_bin for p in self._pending_posts] or [np.zeros(0, np.uint8)]).astype(np.int64)
        octaves = np.concatenate([p.octave for p in self._pending_posts] or [np.zeros(0, np.uint8)]).astype(np.int64)
        sigs = np.concatenate([p.signature for p in self._pending_posts] or [np.zeros(0, np.uint16)]).astype(np.int64)
        high = (sigs >> KEY_SIGNATURE_BITS) & _KEPT_MASK
        new_entries = ((rows << _ROW_SHIFT) | ((angles & 15) << 7) | ((octaves & 7) << 4) | high).astype(np.uint32)
        new_keys = (words << KEY_SIGNATURE_BITS) | (sigs & _KEY_MASK)
        old_counts = np.diff(self._key_start.astype(np.int64), axis=1).reshape(-1)
        old_keys = np.repeat(np.arange(_KEYS, dtype=np.int64), old_counts)
        all_keys = np.concatenate([old_keys, new_keys])
        all_entries = np.concatenate([self._entries, new_entries])
        order = np.argsort(all_keys, kind="stable")
        self._entries = all_entries[order]
        counts = np.bincount(all_keys, minlength=_KEYS).reshape(WORDS, _KEY_COLUMNS - 1)
        key_start = np.zeros((WORDS, _KEY_COLUMNS), np.int64)
        np.cumsum(counts, axis=1, out=key_start[:, 1:])
        self._word_start = np.zeros(WORDS + 1, np.int64)
        np.cumsum(key_start[:, -1], out=self._word_start[1:])
        small = int(key_start[:, -1].max(initial=0)) <= np.iinfo(np.uint16).max
        self._key_start = key_start.astype(np.uint16 if small else np.uint32)
        self._slot_of_row = np.concatenate([self._slot_of_row, np.asarray(self._pending_slots, np.int32)])
        self._pending_slots.clear()
        self._pending_hashes.clear()
        self._pending_posts.clear()

    def search_hashes(self, codes: NDArray[np.uint8], k: int = 8, radius: int = HASH_RADIUS) -> list[HashHit]:
        """References whose global hash is within `radius` bits of any of the codes.

        Args:
            codes: Query hashes, shape (m, 32).
            k: Nearest references considered per code.
            radius: Largest Hamming distance nominated.

        Returns:
            Hits, nearest first, one per reference (its best code).
        """
        self._flush()
        n = int(self._hashes.ntotal)
        if n == 0 or len(codes) == 0:
            return []
        threads = 1  # two OpenMP threads measured slower on a shared 2-core machine
        faiss.omp_set_num_threads(threads)
        try:
            dist, idx = self._hashes.search(np.ascontiguousarray(codes, dtype=np.uint8), min(k + 4, n))
        finally:
            faiss.omp_set_num_threads(1)
        best: dict[int, HashHit] = {}
        for q in range(dist.shape[0]):
            taken = 0
            for d, i in zip(dist[q].tolist(), idx[q].tolist(), strict=True):
                if i < 0 or d > radius or taken >= k:
                    break
                if self._slot_of_row[i] < 0:
                    continue
                taken += 1
                if i not in best or d < best[i].distance:
                    best[i] = HashHit(row=int(i), distance=int(d), query=q)
        return sorted(best.values(), key=lambda h: h.distance)

    def search_words(self, views: list[WordQuery], k: int = 30, shortlist: int = SHORTLIST) -> list[WordHit]:
        """References that share visual words with query views at a consistent rotation and scale.

        Two steps keep this fast at a million references: every posting that passes the signature check counts
        for its reference, in inverse proportion to how many postings its view hit (one weighted `bincount` over
        all views, linear in the hits); only the `shortlist` x views best references then have their idf-weighted
        votes filed into (view, rotation, scale) bins.

        Args:
            views: The query views' lookups: words, with each feature's orientation, pyramid level and signature
                (a feature looked up under several words appears once per word).
            k: How many references to return.
            shortlist: References per view that get the binned vote.

        Returns:
            Hits, best score first, each with the view that gave it.
        """
        self._flush()
        views = [v for v in views if len(v.words)]
        if not views or self._entries.size == 0:
            return []
        words = np.concatenate([v.words for v in views]).astype(np.int64)
        angles = np.concatenate([v.angles for v in views]).astype(np.float32)
        octaves = np.concatenate([v.octaves for v in views]).astype(np.int64)
        signatures = np.concatenate([v.signatures for v in views]).astype(np.int64)
        view_of = np.concatenate([np.full(len(v.words), i, np.int64) for i, v in enumerate(views)])
        feature_bounds = np.cumsum([0, *(len(v.words) for v in views)])
        # Each query feature reads the lists of its word under its own key bits and the ones a bit away; a
        # posting votes when all 8 signature bits differ in at most MAX_SIGNATURE_DISTANCE places, so a list one
        # bit away allows one difference fewer in the bits the posting keeps.
        low = signatures & _KEY_MASK
        column = (low[:, None] ^ _FLIPS[None, :]).ravel()
        cell = np.repeat(words * _KEY_COLUMNS, len(_FLIPS)) + column
        key_start = self._key_start.reshape(-1)
        word_start = np.repeat(self._word_start[words], len(_FLIPS))
        starts = word_start + key_start[cell]
        lens = key_start[cell + 1].astype(np.int64) - key_start[cell]
        probes = np.flatnonzero(lens)
        starts, lens = starts[probes], lens[probes]
        total = int(lens.sum())
        if total == 0:
            return []
        kept_bits = np.repeat(signatures >> KEY_SIGNATURE_BITS, len(_FLIPS))[probes]
        allowance = np.tile(MAX_SIGNATURE_DISTANCE - _FLIP_COST, len(words))[probes]
        probe_rule = ((kept_bits << 2) | np.maximum(allowance, 0)).astype(np.int32) << _KEPT_BITS
        # Positions of the postings read, list after list: a running sum of ones that jumps to each list's start.
        step = np.ones(total, np.int64)
        ends = np.cumsum(lens)
        step[0] = starts[0]
        step[ends[:-1]] = starts[1:] - (starts[:-1] + lens[:-1]) + 1
        pos = np.cumsum(step)
        probe_of = np.repeat(np.arange(len(probes), dtype=np.int32), lens)
        entries = self._entries[pos]
        agree = np.flatnonzero(_SIGNATURE_OK[probe_rule[probe_of] | (entries & _KEPT_MASK).astype(np.int32)])
        if agree.size == 0:
            return []
        entries, pos = entries[agree], pos[agree]
        qrep = (probes // len(_FLIPS))[probe_of[agree]]
        rows = (entries >> _ROW_SHIFT).astype(np.intp)
        if self._removed:
            alive = np.flatnonzero(self._slot_of_row[rows] >= 0)
            entries, pos, qrep, rows = entries[alive], pos[alive], qrep[alive], rows[alive]
            if rows.size == 0:
                return []
        df = self._word_start[words + 1] - self._word_start[words]
        n_refs = float(max(len(self), 1))
        idf = np.log((n_refs + 1.0) / (df + 0.5))
        n_views = len(views)
        if self._rows > shortlist * n_views:
            # A cheap first ranking keeps `shortlist` references per view for the binned vote. A hit counts in
            # inverse proportion to its view's number of hits, so that a busy part of a query (the page around a
            # picture, the other cells of a collage) cannot crowd out the part that is the copy.
            bounds = np.searchsorted(qrep, feature_bounds)
            per_view = np.diff(bounds).astype(np.float64)
            hit_weight = np.repeat(per_view.mean() / np.maximum(per_view, 1.0), np.diff(bounds))
            raw: NDArray[np.float64] = np.bincount(rows, weights=hit_weight, minlength=self._rows).astype(
                np.float64, copy=False
            )
            chosen = np.zeros(self._rows, bool)
            chosen[_top_rows(raw, shortlist * n_views)] = True
            keep = np.flatnonzero(chosen[rows])
            qrep, entries, rows, pos = qrep[keep], entries[keep], rows[keep], pos[keep]
        entries64 = entries.astype(np.int64)
        ref_angle = ((entries64 >> 7) & 15).astype(np.float32) * 22.5 + 11.25
        ref_oct = (entries64 >> 4) & 7
        d_angle = np.mod(angles[qrep] - ref_angle, 360.0) / (360.0 / ANGLE_BINS)
        a0 = np.floor(d_angle).astype(np.int64) % ANGLE_BINS
        s0 = (octaves[qrep] - ref_oct + 8) // 2
        view = view_of[qrep]
        weight = np.tile(idf[qrep], 4)
        keys = []
        for da in (0, 1):
            for ds in (0, 1):
                abin = (a0 - da) % ANGLE_BINS
                sbin = (s0 - ds) & 15
                keys.append((pos << 12) | (view << 8) | (abin << 4) | sbin)
        # One vote per reference posting and bin, however many query features share its word.
        unique_keys, first_seen = np.unique(np.concatenate(keys), return_index=True)
        weight = weight[first_seen]
        row_of = (self._entries[unique_keys >> 12].astype(np.int64)) >> _ROW_SHIFT
        bins = unique_keys & 4095
        vote_keys, inverse = np.unique((row_of << 12) | bins, return_inverse=True)
        scores = np.bincount(inverse, weights=weight)
        vote_rows = vote_keys >> 12
        vote_views = (vote_keys >> 8) & 15
        # Best bin per (reference, view), then per reference its best and runner-up view.
        pair = (vote_rows << 4) | vote_views
        order = np.lexsort((-scores, pair))
        first_pair = np.ones(len(order), bool)
        first_pair[1:] = pair[order][1:] != pair[order][:-1]
        per_view = order[first_pair]
        per_view = per_view[np.lexsort((-scores[per_view], vote_rows[per_view]))]
        rows_sorted = vote_rows[per_view]
        first = np.ones(len(per_view), bool)
        first[1:] = rows_sorted[1:] != rows_sorted[:-1]
        second = np.zeros(len(per_view), bool)
        second[1:] = first[:-1] & ~first[1:]
        best = per_view[first]
        runner_up = dict(zip(vote_rows[per_view[second]].tolist(), vote_views[per_view[second]].tolist(), strict=True))
        best = best[np.argsort(-scores[best], kind="stable")[:k]]
        return [
            WordHit(
                row=int(vote_rows[i]),
                votes=float(scores[i]),
                view=int(vote_views[i]),
                second_view=runner_up.get(int(vote_rows[i])),
            )
            for i in best
            if scores[i] > MIN_VOTES
        ]
