"""Query views: the images a query is searched as.

A query is searched as several *views*: the whole picture, its left-right mirror, and the regions that
`proposals` finds (a picture inside a screenshot, a picture between caption bands, the cells of a collage),
each also mirrored. Every view carries its own global hashes, local features and visual words, and the
affine map from its pixels back to the pixels of the query file, so that every match is reported in the
coordinates of the original files.

Mirroring is done on pixels (features are extracted again), because ORB descriptors are not mirror-symmetric.
The global hash lane needs no mirrored pixels: `dcthash.dihedral_hashes` gives mirrored hashes from one DCT.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2
from tracemark.matching.dcthash import dihedral_hashes
from tracemark.matching.decode import Photo
from tracemark.matching.features import Features, extract, spread_order
from tracemark.matching.fingerprint import query_scale_for, resize_long_side, signature_of, to_grey
from tracemark.matching.proposals import propose_regions
from tracemark.matching.retrieval import WordQuery
from tracemark.matching.vocabulary import default_vocabulary

FULL_VIEW_SIDE = 900
REGION_VIEW_SIDE = 640
QUERY_FEATURES = 1500
FULL_WORDS = 300
REGION_WORDS = 150
WORD_PARENTS = 2
WORD_CHILDREN = 2
QUERY_WORDS = 3000
"""Soft assignment of query features. Every feature is looked up under its nearest visual word; then, within a
budget of `QUERY_WORDS` lookups for the whole query, under other likely words (its `WORD_CHILDREN` nearest below
each of its `WORD_PARENTS` nearest level-one centres, `Vocabulary.quantise_multi`), the closest alternatives
across all views first: a feature that lies between two words gets both before one that clearly belongs to
one word gets a second. A plain picture (two views of 300 features) gets every alternative; a screenshot or a
collage with many views gets fewer, which bounds the retrieval time."""


@dataclass(slots=True)
class QueryView:
    """One view of a query.

    Attributes:
        name: "full" or "region-<i>", with "+mirror" for mirrored views.
        grey: Grey pixels of the view.
        rgb: Colour pixels of the view.
        mirrored: Whether the view is the left-right mirror of the query region.
        to_query: 3 x 3 affine map from view pixels to query-file pixels.
        box: The region of the query file the view shows, (x0, y0, x1, y1) in file pixels.
        hashes: Global hashes to look up, (m, 32) uint8.
        hash_variants: Dihedral variant index of each row of `hashes`.
    """

    name: str
    grey: NDArray[np.uint8]
    rgb: NDArray[np.uint8]
    mirrored: bool
    to_query: NDArray[np.float64]
    box: tuple[float, float, float, float]
    hashes: NDArray[np.uint8]
    hash_variants: tuple[int, ...]
    word_budget: int = FULL_WORDS
    _features: Features | None = field(default=None, repr=False)
    _words: NDArray[np.int64] | None = field(default=None, repr=False)
    _word_index: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp), repr=False)
    _candidates: tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]] | None = field(
        default=None, repr=False
    )

    @property
    def features(self) -> Features:
        """Local features of the view (computed on first use)."""
        if self._features is None:
            self._features = extract(self.grey, QUERY_FEATURES)
        return self._features

    @property
    def word_query(self) -> WordQuery:
        """Visual words of the view's strongest, spread-out features, for the word lane (computed on first use)."""
        if self._words is None:
            assign_words([self], QUERY_WORDS * self.word_budget // (2 * FULL_WORDS))
        assert self._words is not None
        keep = self._word_index
        feats = self.features
        return WordQuery(self._words, feats.angle[keep], feats.octave[keep], signature_of(feats.desc[keep]))

    def word_candidates(self) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float32]]:
        """The features the word lane uses, their likely words and each word's distance gap (computed once)."""
        if self._candidates is None:
            feats = self.features
            keep = spread_order(feats, self.word_budget, grid=8)
            words, gaps = default_vocabulary().quantise_multi(feats.desc[keep], WORD_PARENTS, WORD_CHILDREN)
            self._candidates = (keep, words, gaps)
        return self._candidates

    @property
    def scale_to_query(self) -> float:
        """Query-file pixels per view pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.to_query[:2, :2]))))


def assign_words(views: list[QueryView], budget: int = QUERY_WORDS) -> None:
    """Chooses the visual words each view is looked up under (see `QUERY_WORDS`).

    Args:
        views: The views of one query.
        budget: Lookups for all views together; every feature gets its nearest word even beyond it.
    """
    cands = [v.word_candidates() for v in views]
    gaps = np.concatenate([g[:, 1:].reshape(-1) for _, _, g in cands] or [np.zeros(0, np.float32)])
    spare = max(0, budget - sum(len(k) for k, _, _ in cands))
    # The `spare` alternatives with the smallest gaps (ties by position) are taken.
    threshold = np.inf
    if spare < len(gaps):
        threshold = float(np.sort(gaps, kind="stable")[spare]) if spare > 0 else -np.inf
    taken_at_threshold = spare - int((gaps < threshold).sum())
    for view, (keep, words, gap) in zip(views, cands, strict=True):
        take = np.zeros(words.shape, bool)
        take[:, 0] = True
        alternatives = gap[:, 1:] < threshold
        ties = np.flatnonzero((gap[:, 1:] == threshold).reshape(-1))[: max(0, taken_at_threshold)]
        taken_at_threshold -= len(ties)
        alternatives.reshape(-1)[ties] = True
        take[:, 1:] = alternatives
        rows, cols = np.nonzero(take)
        view._word_index = keep[rows]
        view._words = words[rows, cols]


def _view(
    name: str,
    rgb: NDArray[np.uint8],
    box: tuple[float, float, float, float],
    work_to_file: float,
    side: int,
    all_variants: bool,
) -> list[QueryView]:
    """The plain and mirrored views of a region of the working image."""
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(rgb[int(y0) : int(y1), int(x0) : int(x1)])
    h, w = crop.shape[:2]
    factor = min(1.0, side / max(h, w))
    if factor < 1.0:
        crop = resize_long_side(crop, side)
    up = query_scale_for(*crop.shape[:2])
    if up > 1.0:
        crop = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_LINEAR)
    vh, vw = crop.shape[:2]
    sx = (x1 - x0) / vw * work_to_file
    sy = (y1 - y0) / vh * work_to_file
    plain = np.array([[sx, 0.0, x0 * work_to_file], [0.0, sy, y0 * work_to_file], [0.0, 0.0, 1.0]])
    flip = np.array([[-1.0, 0.0, vw], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    grey = to_grey(crop)
    hashes = dihedral_hashes(grey)
    file_box = (x0 * work_to_file, y0 * work_to_file, x1 * work_to_file, y1 * work_to_file)
    plain_variants = (0, 2, 4, 5, 6, 3) if all_variants else (0,)
    mirror_variants = (1, 7) if all_variants else (1,)
    views = [
        QueryView(name, grey, crop, False, plain, file_box, hashes[list(plain_variants)], plain_variants, FULL_WORDS),
        QueryView(
            name + "+mirror",
            np.ascontiguousarray(grey[:, ::-1]),
            np.ascontiguousarray(crop[:, ::-1]),
            True,
            plain @ flip,
            file_box,
            hashes[list(mirror_variants)],
            mirror_variants,
            FULL_WORDS,
        ),
    ]
    return views


def build_views(photo: Photo, *, max_regions: int = 6) -> list[QueryView]:
    """All views of a query.

    Args:
        photo: The decoded query.
        max_regions: Upper bound on region proposals.

    Returns:
        The full view and its mirror first, then region views and their mirrors.
    """
    rgb = photo.rgb
    if max(rgb.shape[:2]) > FULL_VIEW_SIDE:
        rgb = resize_long_side(rgb, FULL_VIEW_SIDE)
    h, w = rgb.shape[:2]
    work_to_file = photo.width / w
    views = _view("full", rgb, (0.0, 0.0, float(w), float(h)), work_to_file, FULL_VIEW_SIDE, True)
    for i, box in enumerate(propose_regions(rgb)[:max_regions]):
        for view in _view(f"region-{i}", rgb, box, work_to_file, REGION_VIEW_SIDE, False):
            view.word_budget = REGION_WORDS
            views.append(view)
    return views
