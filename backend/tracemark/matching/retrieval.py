"""Candidate retrieval: the in-memory lanes that nominate references for verification.

Two lanes, both over data of at most 200 bytes per reference held in memory:

**Global hash lane** (32 bytes a reference). The 256-bit DCT hashes sit in a faiss `IndexBinaryFlat`
(exhaustive Hamming search with SIMD popcounts; a million references take a few milliseconds per code). A
query looks up the dihedral variants of each of its views; references within `HASH_RADIUS` bits are
nominated. Random pairs of photos differ in about 128 +- 8 bits, so the radius lets through copies with heavy
edits while nominating almost nothing by chance; verification decides anyway.

**Visual-word lane with weak geometric consistency** (40 postings of 4 bytes a reference). An inverted file maps
each visual word to the references holding it; a posting packs the reference row (21 bits), the keypoint
orientation (4 bits), its pyramid level (3 bits) and 4 bits of its descriptor (21 + 4 + 3 + 4 = 32). An index holds
up to 2**21 (about two million) references; larger registries shard by reference. A query's features vote for the
references that hold their words, but a vote is filed under the *difference* of orientation and pyramid level
between the query feature and the reference feature (Jegou, Douze and Schmid's weak geometric consistency). A true
copy's votes pile up in one (rotation, scale) bin; chance collisions spread over all of them. A reference's score
is its largest bin, each reference posting voting at most once per bin. Bins overlap (each vote goes to two
rotation bins and two scale bins) so that noise in orientation and level does not split a pile. A vote weighs the
word's inverse document frequency, `log((N + 1) / (df + 0.5))`, so that common corner shapes count for little and
rare ones for much. This lane survives crops: a crop holds some of the reference's words, at the right relative
angle and scale. The 4 descriptor bits are a Hamming embedding (Jegou, Douze and Schmid): a vote counts only when
they differ from the query feature's in at most one place, which keeps about 9 in 10 true votes and drops about 7
in 10 chance ones. All views are voted in one pass; only the `SHORTLIST` references with the most hits in each view
are binned (see `RetrievalIndex.search_words`).

Additions are buffered and the inverted file is rebuilt lazily before the next search; removals leave a
tombstone.
"""

from __future__ import annotations

from dataclasses import dataclass

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
MAX_SIGNATURE_DISTANCE = 1
_POP4 = np.array([bin(i).count("1") for i in range(16)], np.uint8)


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
    signatures: NDArray[np.uint8]


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
    """The in-memory retrieval structures, keyed by row (rows map to store slots)."""

    def __init__(self) -> None:
        """An empty index."""
        self._hashes = faiss.IndexBinaryFlat(HASH_BITS)
        self.slots: list[int] = []
        self._slot_array = np.zeros(0, np.int32)
        self._alive = np.zeros(0, bool)
        self._row_of_slot: dict[int, int] = {}
        self._pending_rows: list[int] = []
        self._pending_posts: list[WordPostings] = []
        self._indptr = np.zeros(WORDS + 1, np.int64)
        self._entries = np.zeros(0, np.uint32)
        self._pending_hashes: list[bytes] = []
        self._dead_rows = np.zeros(0, np.intp)

    def __len__(self) -> int:
        return int(self._alive.sum()) + len(self._pending_hashes)

    def add(self, slot: int, global_hash: bytes, postings: WordPostings) -> None:
        """Adds a reference (visible to searches from now on)."""
        if len(self.slots) >= MAX_ROWS:
            raise OverflowError("retrieval index is full")
        row = len(self.slots)
        self.slots.append(slot)
        self._row_of_slot[slot] = row
        self._pending_hashes.append(global_hash)
        self._pending_rows.append(row)
        self._pending_posts.append(postings)

    def remove(self, slot: int) -> None:
        """Removes a reference (no effect when the slot is unknown)."""
        row = self._row_of_slot.pop(slot, None)
        if row is None:
            return
        self._flush()
        self._alive[row] = False
        self._dead_rows = np.flatnonzero(~self._alive)

    def slot(self, row: int) -> int:
        """The store slot of a row."""
        return self.slots[row]

    def memory_bytes(self) -> int:
        """Bytes held by the retrieval arrays (hash codes, postings, row-to-slot map, tombstones)."""
        self._flush()
        return (
            int(self._hashes.ntotal) * HASH_BYTES + self._entries.nbytes + self._slot_array.nbytes + self._alive.nbytes
        )

    def _flush(self) -> None:
        if not self._pending_hashes:
            return
        codes = np.frombuffer(b"".join(self._pending_hashes), np.uint8).reshape(-1, HASH_BYTES)
        self._hashes.add(codes)
        rows = np.concatenate(
            [np.full(len(p.words), r, np.int64) for r, p in zip(self._pending_rows, self._pending_posts, strict=True)]
            or [np.zeros(0, np.int64)]
        )
        words = np.concatenate([p.words for p in self._pending_posts] or [np.zeros(0, np.int64)])
        angles = np.concatenate([p.angle_bin for p in self._pending_posts] or [np.zeros(0, np.uint8)]).astype(np.int64)
        octaves = np.concatenate([p.octave for p in self._pending_posts] or [np.zeros(0, np.uint8)]).astype(np.int64)
        sigs = np.concatenate([p.signature for p in self._pending_posts] or [np.zeros(0, np.uint8)]).astype(np.int64)
        new_entries = ((rows << _ROW_SHIFT) | ((angles & 15) << 7) | ((octaves & 7) << 4) | (sigs & 15)).astype(
            np.uint32
        )
        old_words = np.repeat(np.arange(WORDS, dtype=np.int64), np.diff(self._indptr))
        all_words = np.concatenate([old_words, words])
        all_entries = np.concatenate([self._entries, new_entries])
        order = np.argsort(all_words, kind="stable")
        self._entries = all_entries[order]
        self._indptr = np.zeros(WORDS + 1, np.int64)
        np.cumsum(np.bincount(all_words, minlength=WORDS), out=self._indptr[1:])
        self._alive = np.concatenate([self._alive, np.ones(len(self._pending_hashes), bool)])
        self._slot_array = np.asarray(self.slots, np.int32)
        self._pending_hashes.clear()
        self._pending_rows.clear()
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
                if not self._alive[i]:
                    continue
                taken += 1
                if i not in best or d < best[i].distance:
                    best[i] = HashHit(row=int(i), distance=int(d), query=q)
        return sorted(best.values(), key=lambda h: h.distance)

    def search_words(self, views: list[WordQuery], k: int = 30, shortlist: int = SHORTLIST) -> list[WordHit]:
        """References that share visual words with query views at a consistent rotation and scale.

        Two steps keep this fast at a million references: every posting hit by a query word counts for its
        reference (a `bincount` per view, linear in the hits); only the `shortlist` references with the most
        hits in some view then have their idf-weighted votes filed into (view, rotation, scale) bins.

        Args:
            views: The query views' words, orientations and pyramid levels.
            k: How many references to return.
            shortlist: How many references get the binned vote.

        Returns:
            Hits, best score first, each with the view that gave it.
        """
        self._flush()
        views = [v for v in views if len(v.words)]
        if not views or self._entries.size == 0:
            return []
        words = np.concatenate([v.words for v in views])
        angles = np.concatenate([v.angles for v in views]).astype(np.float32)
        octaves = np.concatenate([v.octaves for v in views]).astype(np.int64)
        signatures = np.concatenate([v.signatures for v in views]).astype(np.uint32)
        view_of = np.concatenate([np.full(len(v.words), i, np.int64) for i, v in enumerate(views)])
        starts = self._indptr[words]
        ends = self._indptr[words + 1]
        lens = ends - starts
        total = int(lens.sum())
        if total == 0:
            return []
        offsets = np.cumsum(lens) - lens
        entries = np.concatenate([self._entries[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
        qrep = np.repeat(np.arange(len(words)), lens)
        flat = np.arange(total, dtype=np.int64)
        # Hamming embedding: a posting counts only when its descriptor bits agree with the query feature's.
        agree = _POP4[(entries ^ signatures[qrep]) & 15] <= MAX_SIGNATURE_DISTANCE
        entries, qrep, flat = entries[agree], qrep[agree], flat[agree]
        if entries.size == 0:
            return []
        rows = (entries >> _ROW_SHIFT).astype(np.intp)
        df = np.diff(self._indptr)
        n_refs = float(max(len(self.slots), 1))
        idf = np.log((n_refs + 1.0) / (df[words] + 0.5))
        if len(self.slots) > shortlist:
            # Each view shortlists its own references, so that a busy part of a query (the page around a
            # picture, the other cells of a collage) cannot crowd out the part that is the copy.
            chosen = np.zeros(len(self.slots), bool)
            entry_view = view_of[qrep]
            for v in range(len(views)):
                mine = entry_view == v
                if not mine.any():
                    continue
                raw = np.bincount(rows[mine], minlength=len(self.slots)).astype(np.float64)
                raw[self._dead_rows] = 0.0
                chosen[_top_rows(raw, shortlist)] = True
            keep = np.flatnonzero(chosen[rows])
            flat, qrep, entries, rows = flat[keep], qrep[keep], entries[keep], rows[keep]
        pos = starts[qrep] + (flat - offsets[qrep])
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
