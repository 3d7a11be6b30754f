"""Geometric verification: one-to-one descriptor matches, a constrained similarity found by RANSAC, an
a-contrario significance test, and a sanity-limited homography refinement.

1. **Tentative matches.** Every query descriptor's two nearest reference descriptors (Hamming, exhaustive
   search with faiss's popcount kernels); a match is
   kept when the nearest is clearly nearer than the second (ratio 0.85) and no closer than 64 bits; then each
   reference feature keeps only its best query feature, so matches are one-to-one. (Many-to-one matches are
   how a blurred photo with ten keypoints once "matched" everything.)
2. **Similarity RANSAC.** A similarity (scale, rotation, translation: 4 degrees of freedom) is fixed by two
   matches. Hypotheses from random pairs are scored on all matches at once; scales outside
   [`MIN_SCALE`, `MAX_SCALE`] are discarded before scoring. The best is refined by least squares on its inliers.
3. **A-contrario test** (in the spirit of Moisan and Stival's ORSA). Under the hypothesis that the two images
   are unrelated, a tentative match lands anywhere in the query, so it falls within `tol` pixels of the
   predicted point with probability `p = pi tol^2 / area`. The *number of false alarms* of a model with `k`
   inliers among `n` matches is
   `NFA = tests * (n - 2) * C(n, k) * C(k, 2) * p^(k - 2)`,
   where `tests` counts every (reference, query view) pair tried in the search. A model is *meaningful* when
   `NFA < 10**MAX_LOG10_NFA`: on average fewer than that many false models per search, by construction, and
   whatever the size of the index. No threshold here is fitted to a photo set.
4. **Homography refinement** for slightly stretched or tilted copies: a homography fitted to the matches that
   agree with the similarity (at a wider tolerance) replaces it only when it explains more matches, stays
   orientation-preserving, keeps both axis scales within a factor `MAX_ANISOTROPY` of each other and has a
   small perspective part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2
from tracemark.matching.features import Features

MIN_SCALE = 0.08
MAX_SCALE = 6.0
MAX_LOG10_NFA = -2.0
MAX_ANISOTROPY = 1.45
RATIO = 0.85
MAX_HAMMING = 64
MIN_INLIERS = 8


@dataclass(frozen=True, slots=True)
class GeometricMatch:
    """A meaningful geometric alignment of a reference to a query view.

    Attributes:
        model: 3 x 3 matrix mapping reference working pixels to query-view working pixels.
        similarity: The 2 x 3 similarity the model started from.
        inliers: Number of matches that agree with the model.
        matches: Number of tentative one-to-one matches.
        log10_nfa: log10 of the number of false alarms (lower is more certain).
        ref_points: Inlier positions in the reference (k, 2).
        query_points: Inlier positions in the query view (k, 2).
    """

    model: NDArray[np.float64]
    similarity: NDArray[np.float64]
    inliers: int
    matches: int
    log10_nfa: float
    ref_points: NDArray[np.float32]
    query_points: NDArray[np.float32]

    @property
    def scale(self) -> float:
        """Mean linear scale of the model (query pixels per reference pixel) at the reference centre."""
        a = self.similarity[:, :2]
        return float(math.sqrt(abs(np.linalg.det(a))))

    @property
    def rotation(self) -> float:
        """Rotation angle of the similarity in image axes (radians, y down)."""
        return float(math.atan2(self.similarity[1, 0], self.similarity[0, 0]))


def tentative_matches(query: Features, ref: Features) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """One-to-one descriptor matches that pass the ratio test.

    Args:
        query: Query-view features.
        ref: Reference features.

    Returns:
        Indices into the query and into the reference, of equal length.
    """
    empty = np.zeros(0, np.intp)
    if len(query) < 2 or len(ref) < 2:
        return empty, empty
    table = faiss.IndexBinaryFlat(256)
    table.add(np.ascontiguousarray(ref.desc))
    dist, nearest = table.search(np.ascontiguousarray(query.desc), 2)
    ok = (nearest[:, 1] >= 0) & (dist[:, 0] <= MAX_HAMMING) & (dist[:, 0] < RATIO * dist[:, 1])
    if not ok.any():
        return empty, empty
    qa = np.nonzero(ok)[0].astype(np.intp)
    ra = nearest[ok, 0].astype(np.intp)
    da = dist[ok, 0].astype(np.float64)
    order = np.lexsort((da, ra))
    first = np.ones(len(order), bool)
    first[1:] = ra[order][1:] != ra[order][:-1]
    keep = order[first]
    return qa[keep], ra[keep]


def _log10_binom(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(10)


def log10_nfa(n: int, k: int, p: float, tests: float, sample: int = 2) -> float:
    """log10 of the number of false alarms of a model with k inliers among n matches.

    Args:
        n: Tentative matches.
        k: Inliers.
        p: Probability that a random match is an inlier.
        tests: Number of (reference, view) pairs tested in the search.
        sample: Matches needed to fix a model (2 for a similarity, 4 for a homography).

    Returns:
        log10(NFA); +inf when k <= sample.
    """
    if k <= sample or n < k:
        return math.inf
    return (
        math.log10(max(tests, 1.0))
        + math.log10(max(n - sample, 1))
        + _log10_binom(n, k)
        + _log10_binom(k, sample)
        + (k - sample) * math.log10(p)
    )


def _fit_similarity(src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    """Least-squares similarity dst ~ s R src + t (complex-number form)."""
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    ms, md = zs.mean(), zd.mean()
    cs, cd = zs - ms, zd - md
    denom = float(np.vdot(cs, cs).real)
    a = complex(np.vdot(cs, cd)) / denom if denom > 1e-12 else 1.0 + 0j
    b = md - a * ms
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], np.float64)


def _residuals(m: NDArray[np.float64], src: NDArray[np.float64], dst: NDArray[np.float64]) -> NDArray[np.float64]:
    pred = src @ m[:, :2].T + m[:, 2]
    r: NDArray[np.float64] = np.hypot(pred[:, 0] - dst[:, 0], pred[:, 1] - dst[:, 1])
    return r


def _project(h: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    ph = np.c_[pts, np.ones(len(pts))] @ h.T
    w = ph[:, 2:3]
    w = np.where(np.abs(w) < 1e-9, 1e-9, w)
    out: NDArray[np.float64] = ph[:, :2] / w
    return out


def homography_is_sane(h: NDArray[np.float64], width: int, height: int) -> bool:
    """Whether a homography is a plausible slight stretch or tilt of a copy.

    Args:
        h: Reference-to-query homography.
        width: Reference working width.
        height: Reference working height.

    Returns:
        True when the reference rectangle maps to a convex, orientation-preserving quadrilateral whose local
        axis scales differ by at most `MAX_ANISOTROPY` anywhere and whose scale varies by at most 1.6x.
    """
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    ph = np.c_[corners, np.ones(4)] @ h.T
    if np.any(ph[:, 2] <= 1e-6):
        return False
    quad = ph[:, :2] / ph[:, 2:3]
    signs = []
    for i in range(4):
        a, b, c = quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]
        signs.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    if not (all(s > 0 for s in signs) or all(s < 0 for s in signs)):
        return False
    scales = []
    for x, y in [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height), (width / 2, height / 2)]:
        eps = 1.0
        p0, px, py = _project(h, np.array([[x, y], [x + eps, y], [x, y + eps]], np.float64))
        jac = np.c_[px - p0, py - p0]
        if np.linalg.det(jac) <= 0:
            return False
        sv = np.linalg.svd(jac, compute_uv=False)
        if sv[1] <= 0 or sv[0] / sv[1] > MAX_ANISOTROPY:
            return False
        scales.append(math.sqrt(sv[0] * sv[1]))
    return max(scales) / min(scales) <= 1.6


def verify_geometry(
    query: Features,
    ref: Features,
    *,
    tests: float,
    tol: float = 3.0,
    iterations: int = 600,
    seed: int = 0,
) -> GeometricMatch | None:
    """Finds a meaningful alignment of a reference to a query view, or None.

    Args:
        query: Query-view features (working pixels).
        ref: Reference features (working pixels).
        tests: Number of (reference, view) pairs the search tests, for the NFA.
        tol: Inlier tolerance in query-view pixels.
        iterations: RANSAC hypotheses.
        seed: Seed of the hypothesis sampler (searches are reproducible).

    Returns:
        The alignment when it is meaningful (NFA below the bound, at least `MIN_INLIERS` inliers), else None.
    """
    qi, ri = tentative_matches(query, ref)
    n = len(qi)
    if n < MIN_INLIERS:
        return None
    src = ref.xy[ri].astype(np.float64)
    dst = query.xy[qi].astype(np.float64)
    rng = np.random.default_rng(seed)
    a_idx = rng.integers(0, n, iterations)
    b_idx = rng.integers(0, n, iterations)
    ok = a_idx != b_idx
    a_idx, b_idx = a_idx[ok], b_idx[ok]
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    dz_s = zs[b_idx] - zs[a_idx]
    dz_d = zd[b_idx] - zd[a_idx]
    valid = np.abs(dz_s) > 4.0
    a = np.where(valid, dz_d / np.where(valid, dz_s, 1.0), 0.0)
    scale = np.abs(a)
    valid &= (scale >= MIN_SCALE) & (scale <= MAX_SCALE)
    if not valid.any():
        return None
    a = a[valid]
    b = zd[a_idx[valid]] - a * zs[a_idx[valid]]
    pred = a[:, None] * zs[None, :] + b[:, None]
    err = np.abs(pred - zd[None, :])
    counts = (err < tol).sum(axis=1)
    best = int(np.argmax(counts))
    if counts[best] < MIN_INLIERS:
        return None
    inl = err[best] < tol
    model = _fit_similarity(src[inl], dst[inl])
    for _ in range(2):
        inl = _residuals(model, src, dst) < tol
        if inl.sum() < 3:
            return None
        model = _fit_similarity(src[inl], dst[inl])
    s = math.sqrt(abs(np.linalg.det(model[:, :2])))
    if not MIN_SCALE <= s <= MAX_SCALE:
        return None
    area = float(query.width * query.height)
    p = min(1.0, math.pi * tol * tol / max(area, 1.0))
    k = int(inl.sum())
    nfa = log10_nfa(n, k, p, tests, sample=2)
    homography = np.vstack([model, [0.0, 0.0, 1.0]])
    # Refinement for slight stretch and perspective, within sanity limits.
    wide = _residuals(model, src, dst) < max(tol * 6.0, 0.06 * math.sqrt(area))
    if wide.sum() >= 8:
        h, _ = cv2.findHomography(src[wide], dst[wide], cv2.RANSAC, tol)
        if h is not None and homography_is_sane(h, ref.width, ref.height):
            res_h = np.hypot(*(_project(h, src) - dst).T)
            inl_h = res_h < tol
            k_h = int(inl_h.sum())
            nfa_h = log10_nfa(n, k_h, p, tests, sample=4)
            if nfa_h < nfa and k_h > k:
                homography, inl, k, nfa = h / h[2, 2], inl_h, k_h, nfa_h
    if k < MIN_INLIERS or nfa >= MAX_LOG10_NFA:
        return None
    return GeometricMatch(
        model=homography,
        similarity=model,
        inliers=k,
        matches=n,
        log10_nfa=float(nfa),
        ref_points=src[inl].astype(np.float32),
        query_points=dst[inl].astype(np.float32),
    )
