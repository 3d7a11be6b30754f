"""`MatchIndex`: the persistent index of reference images, with add, remove, list and search.

A search runs the two stages:

1. **Retrieval.** The query is decoded and cut into views (`query.build_views`): the whole picture, its
   mirror, and proposed regions. The global-hash lane looks up every view's dihedral hashes; the visual-word
   lane votes with every view's local features, each under its likely words (`query.assign_words`). The union
   of nominated references, ordered by how strongly they were nominated, is capped at `MAX_CANDIDATES`; when
   none of those verifies, up to `EXTRA_CANDIDATES` more from the word lane are tried (a wrong candidate is
   rejected in about 3 ms), which is what finds small crops whose few visual words rank below chance
   collisions.
2. **Verification.** Each candidate is verified against the views that nominated it first, then the whole
   picture and its mirror (`verify.verify_candidate`). Only verified matches are returned, best first.

The NFA bound of the geometric test counts every (reference, view) pair the search could have tested, so the
expected number of false matches per search stays below 1/100 however large the index grows.
"""

from __future__ import annotations

import builtins
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracemark.matching.decode import ImageSource, Photo, load_image
from tracemark.matching.errors import UnknownReferenceError
from tracemark.matching.fingerprint import INDEX_VERSION, WORK_SIDE, ReferenceFingerprint, fingerprint_reference
from tracemark.matching.models import Match, ReferenceInfo
from tracemark.matching.query import QueryView, assign_words, build_views
from tracemark.matching.retrieval import RetrievalIndex
from tracemark.matching.store import Store
from tracemark.matching.verify import verify_candidate

MAX_CANDIDATES = 38
HASH_CANDIDATES = 8
WORD_CANDIDATES = 30
MAX_VIEWS_PER_CANDIDATE = 2
EXTRA_CANDIDATES = 60
QUERY_DECODE_SIDE = 1600
MIN_TESTS = 1000


@dataclass(slots=True)
class SearchStats:
    """Where the time of the last search went (seconds), and how many candidates were verified."""

    views_s: float = 0.0
    retrieval_s: float = 0.0
    verification_s: float = 0.0
    candidates: int = 0
    verified: int = 0


class MatchIndex:
    """A persistent index of reference images.

    Example:
        >>> index = MatchIndex.open("var/match-index")
        >>> index.add("alpha", "alpha.jpg")
        >>> [m.id for m in index.search("copy.jpg")]
        ['alpha']
    """

    def __init__(self, store: Store) -> None:
        """Wraps an open store; use `MatchIndex.open`."""
        self._store = store
        self._retrieval = RetrievalIndex()
        self.stale: builtins.list[str] = []
        self.last_stats = SearchStats()
        self._lock = threading.RLock()
        for row in store.retrieval_rows(INDEX_VERSION):
            self._retrieval.add(row.slot, row.global_hash, row.postings)
        self.stale = [i for i, _, _, v, _, _ in store.listing() if v != INDEX_VERSION]

    @classmethod
    def open(cls, folder: str | Path, *, create: bool = True) -> MatchIndex:
        """Opens the index in a folder.

        Args:
            folder: The index folder.
            create: Create an empty index when the folder has none.

        Returns:
            The index.

        Raises:
            IndexFormatError: The folder holds no index (and `create` is false), or a foreign one.
        """
        return cls(Store(Path(folder), create=create))

    def close(self) -> None:
        """Closes the index."""
        self._store.close()

    def __enter__(self) -> MatchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._store.count()

    @staticmethod
    def fingerprint(source: ImageSource) -> ReferenceFingerprint:
        """Decodes and fingerprints a reference image without adding it (safe to run in worker processes).

        Raises:
            ImageDecodeError: The image cannot be read.
            ImageTooSmallError: The image is too small or too plain to fingerprint.
        """
        return fingerprint_reference(load_image(source, max_side=WORK_SIDE))

    def add(self, ref_id: str, source: ImageSource | ReferenceFingerprint, *, origin: str | None = None) -> None:
        """Adds a reference, replacing any reference with the same id, atomically.

        Args:
            ref_id: The reference id.
            source: The image (path, bytes, stream) or a fingerprint computed with `fingerprint`.
            origin: Where the image came from, kept for re-indexing (defaults to the path, if any).

        Raises:
            ImageDecodeError: The image cannot be read.
            ImageTooSmallError: The image is too small or too plain to fingerprint.
            ValueError: The id is empty.
        """
        if not ref_id or ref_id != ref_id.strip():
            raise ValueError("a reference id must be non-empty without surrounding spaces")
        fp = source if isinstance(source, ReferenceFingerprint) else self.fingerprint(source)
        if origin is None and isinstance(source, str | Path):
            origin = str(Path(source).resolve())
        with self._lock:
            slot, old = self._store.put(ref_id, fp, origin)
            if old is not None:
                self._retrieval.remove(old)
            self._retrieval.add(slot, fp.global_hash, fp.postings)
            if ref_id in self.stale:
                self.stale.remove(ref_id)

    def remove(self, ref_id: str) -> None:
        """Removes a reference.

        Raises:
            UnknownReferenceError: No reference has that id.
        """
        with self._lock:
            slot = self._store.delete(ref_id)
            if slot is None:
                raise UnknownReferenceError(f"no reference with id {ref_id!r}")
            self._retrieval.remove(slot)

    def list(self) -> builtins.list[ReferenceInfo]:
        """All references, by id."""
        return [
            ReferenceInfo(id=i, width=w, height=h, fingerprint_version=v, added_at=t, source=s)
            for i, w, h, v, t, s in self._store.listing()
        ]

    def retrieval_bytes_per_reference(self) -> float:
        """Memory held by the retrieval lanes, per reference."""
        n = max(len(self._retrieval), 1)
        return self._retrieval.memory_bytes() / n

    def search(self, source: ImageSource | Photo, *, max_candidates: int = MAX_CANDIDATES) -> builtins.list[Match]:
        """Finds the references the query is a copy of.

        Args:
            source: The query image (path, bytes, stream, or an already decoded photo).
            max_candidates: Upper bound on references verified.

        Returns:
            Verified matches, best first (possibly empty).

        Raises:
            ImageDecodeError: The query cannot be read.
            ImageTooSmallError: The query is too small to search.
        """
        photo = source if isinstance(source, Photo) else load_image(source, max_side=QUERY_DECODE_SIDE)
        t0 = time.perf_counter()
        views = build_views(photo)
        assign_words(views)
        with self._lock:
            return self._search_views(photo, views, max_candidates, t0)

    def _search_views(
        self, photo: Photo, views: builtins.list[QueryView], max_candidates: int, t0: float
    ) -> builtins.list[Match]:
        if len(self._retrieval) == 0:
            return []
        t1 = time.perf_counter()
        candidates = self._candidates(views, max_candidates + EXTRA_CANDIDATES)
        t2 = time.perf_counter()
        tests = float(max(len(self._retrieval), MIN_TESTS) * len(views))
        matches: builtins.list[Match] = []
        verified = 0
        for n, (slot, view_order) in enumerate(candidates):
            if n >= max_candidates and matches:
                break  # the second pass is only for queries that found nothing yet
            verified += 1
            ref = self._store.load(slot)
            if ref is None:
                continue
            ordered = [views[i] for i in view_order]
            match = verify_candidate(ref, ordered, tests=tests, query_size=(photo.width, photo.height))
            if match is not None:
                matches.append(match)
        matches.sort(key=lambda m: (-m.score, m.log10_nfa))
        self.last_stats = SearchStats(t1 - t0, t2 - t1, time.perf_counter() - t2, len(candidates), verified)
        return matches

    def _candidates(self, views: builtins.list[QueryView], cap: int) -> builtins.list[tuple[int, builtins.list[int]]]:
        """Nominated slots with the views to verify them against, strongest nomination first.

        The hash lane nominates up to `HASH_CANDIDATES` references within its radius, the word lane the
        `WORD_CANDIDATES` best-scoring references over all views; each comes with the (at most two) views
        that nominated it most strongly.
        """
        hinted: dict[int, builtins.list[tuple[float, int]]] = {}
        order: builtins.list[int] = []

        codes = np.concatenate([v.hashes for v in views])
        owner = np.concatenate([np.full(len(v.hashes), i) for i, v in enumerate(views)])
        for hit in self._retrieval.search_hashes(codes)[:HASH_CANDIDATES]:
            hinted.setdefault(hit.row, []).append((1000.0 - hit.distance, int(owner[hit.query])))
            order.append(hit.row)
        k = WORD_CANDIDATES + EXTRA_CANDIDATES
        for word_hit in self._retrieval.search_words([v.word_query for v in views], k=k):
            hinted.setdefault(word_hit.row, []).append((word_hit.votes, word_hit.view))
            if word_hit.second_view is not None:
                hinted[word_hit.row].append((word_hit.votes * 0.5, word_hit.second_view))
            if word_hit.row not in order:
                order.append(word_hit.row)
        out: builtins.list[tuple[int, builtins.list[int]]] = []
        for row in order[:cap]:
            ranked = sorted(hinted[row], key=lambda t: -t[0])
            view_ids: builtins.list[int] = []
            for _, v in ranked:
                if v not in view_ids:
                    view_ids.append(v)
            chosen = view_ids[:MAX_VIEWS_PER_CANDIDATE]
            if 0 not in chosen:
                chosen.append(0)  # the whole picture is always worth a try
            out.append((self._retrieval.slot(row), chosen))
        return out


__all__ = ["MatchIndex", "SearchStats"]
