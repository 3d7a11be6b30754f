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
            feats = self.features
            keep = spread_order(feats, self.word_budget, grid=8)
            self._word_index = keep
            self._words = default_vocabulary().quantise(feats.desc[keep])
        keep = self._word_index
        feats = self.features
        return WordQuery(self._words, feats.angle[keep], feats.octave[keep], signature_of(feats.desc[keep]))

    @property
    def scale_to_query(self) -> float:
        """Query-file pixels per view pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.to_query[:2, :2]))))


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
        QueryView(name, grey, crop, False, plain, file_box, hashes[list(plain_variants)], plain_variants),
        QueryView(
            name + "+mirror",
            np.ascontiguousarray(grey[:, ::-1]),
            np.ascontiguousarray(crop[:, ::-1]),
            True,
            plain @ flip,
            file_box,
            hashes[list(mirror_variants)],
            mirror_variants,
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
