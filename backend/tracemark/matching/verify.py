"""Verification of one candidate, and the explained match.

For a candidate reference and the query's views, in the order the retrieval lanes suggest:

1. geometric verification (`geometry.verify_geometry`): one-to-one matches, constrained similarity,
   a-contrario significance, optional sane homography;
2. photometric verification (`photometric.compare`) after alignment: same photograph, not just same scene;
3. the inliers must spread over the overlap (their convex hull covers at least `MIN_HULL_SHARE` of it), so a
   match is never carried by one small patch;
4. the edit report, in full-size pixels of both files: the visible part of the reference (the reference
   rectangle intersected with the query frame mapped back into it), its share of the reference, the scale,
   the rotation, mirroring, greyscale, overlay share and stretch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2
from tracemark.matching.features import Features, unpack
from tracemark.matching.geometry import GeometricMatch, verify_geometry
from tracemark.matching.models import Edits, Match
from tracemark.matching.photometric import PhotometricResult, compare
from tracemark.matching.query import QueryView
from tracemark.matching.store import StoredReference

MIN_HULL_SHARE = 0.03
GREY_QUERY_CHROMA = 4.0
COLOUR_REFERENCE_CHROMA = 10.0


class _Candidate:
    def __init__(self, ref: StoredReference) -> None:
        self.ref = ref

    @cached_property
    def features(self) -> Features:
        return unpack(self.ref.fingerprint.features)

    @cached_property
    def thumbnail(self) -> NDArray[np.uint8]:
        img = cv2.imdecode(np.frombuffer(self.ref.fingerprint.thumbnail, np.uint8), cv2.IMREAD_GRAYSCALE)
        out: NDArray[np.uint8] = img
        return out


def _polygon_area(poly: NDArray[np.float64]) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def _apply(h: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    ph = np.c_[pts, np.ones(len(pts))] @ h.T
    out: NDArray[np.float64] = ph[:, :2] / ph[:, 2:3]
    return out


def _visible_polygon(
    ref_to_query: NDArray[np.float64], ref_w: float, ref_h: float, q_w: float, q_h: float
) -> NDArray[np.float64]:
    """The part of the reference rectangle that lands inside the query frame, in reference pixels."""
    ref_rect = np.array([[0, 0], [ref_w, 0], [ref_w, ref_h], [0, ref_h]], np.float64)
    in_query = _apply(ref_to_query, ref_rect).astype(np.float32)
    frame = np.array([[0, 0], [q_w, 0], [q_w, q_h], [0, q_h]], np.float32)
    if cv2.contourArea(in_query, oriented=True) < 0:
        in_query = in_query[::-1].copy()
    area, inter = cv2.intersectConvexConvex(in_query, frame)
    if inter is None or area <= 0:
        return np.zeros((0, 2), np.float64)
    back = _apply(np.linalg.inv(ref_to_query), inter.reshape(-1, 2).astype(np.float64))
    back[:, 0] = np.clip(back[:, 0], 0, ref_w)
    back[:, 1] = np.clip(back[:, 1], 0, ref_h)
    return back


def _jacobian(h: NDArray[np.float64], x: float, y: float) -> NDArray[np.float64]:
    """Jacobian of a homography at a point (finite differences of one pixel)."""
    p0, px, py = _apply(h, np.array([[x, y], [x + 1.0, y], [x, y + 1.0]], np.float64))
    jac: NDArray[np.float64] = np.c_[px - p0, py - p0]
    return jac


def _hull_share(points: NDArray[np.float32], overlap_area: float) -> float:
    if len(points) < 3 or overlap_area <= 0:
        return 0.0
    hull = cv2.convexHull(points.reshape(-1, 1, 2))
    return float(cv2.contourArea(hull)) / overlap_area


def explain(
    ref: StoredReference,
    view: QueryView,
    geo: GeometricMatch,
    photo: PhotometricResult,
    query_size: tuple[int, int],
) -> Edits:
    """The edit report of a verified match.

    Args:
        ref: The reference.
        view: The query view that matched.
        geo: Its geometric alignment (reference working pixels to view pixels).
        photo: Its photometric comparison.
        query_size: Full-size (width, height) of the query file.

    Returns:
        The edits, in full-size pixels.
    """
    fp = ref.fingerprint
    ws = fp.work_scale
    ref_to_query = view.to_query @ geo.model @ np.diag([ws, ws, 1.0])
    ref_to_query = ref_to_query / ref_to_query[2, 2]
    poly = _visible_polygon(ref_to_query, float(fp.width), float(fp.height), float(query_size[0]), float(query_size[1]))
    coverage = min(1.0, _polygon_area(poly) / float(fp.width * fp.height)) if len(poly) else 0.0
    if len(poly):
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    else:
        x0 = y0 = x1 = y1 = 0
    centre = np.array([[fp.width / 2.0, fp.height / 2.0]])
    p0, px, py = _apply(ref_to_query, centre + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    jac = np.c_[px - p0, py - p0]
    sv = np.linalg.svd(jac, compute_uv=False)
    scale = float(math.sqrt(abs(np.linalg.det(jac))))
    stretch = float(sv[0] / max(sv[1], 1e-9))
    # Rotation: the orthogonal factor of the model's Jacobian at the reference centre (polar decomposition
    # J = R S), measured in the view, where a mirrored copy has been mirrored back. In image axes (y down) a
    # copy turned counter-clockwise by t as seen has angle -t; for a mirrored copy (mirrored, then turned)
    # mirroring back flips the sign once more.
    view_jac = _jacobian(geo.model, fp.width * ws / 2.0, fp.height * ws / 2.0)
    u, _, vt = np.linalg.svd(view_jac)
    rot = u @ vt
    a = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    rotation = a if view.mirrored else -a
    rotation = (rotation + 180.0) % 360.0 - 180.0
    greyscale = photo.query_chroma < GREY_QUERY_CHROMA and fp.colourfulness >= COLOUR_REFERENCE_CHROMA
    return Edits(
        crop_box=(int(max(0, x0)), int(max(0, y0)), int(min(fp.width, x1)), int(min(fp.height, y1))),
        coverage=round(float(coverage), 4),
        scale=round(max(scale, 1e-6), 4),
        rotation_deg=round(rotation, 2),
        mirrored=view.mirrored,
        greyscale=bool(greyscale),
        overlay_fraction=round(min(1.0, max(0.0, photo.overlay_fraction)), 4),
        stretch=round(max(1.0, stretch), 4),
    )


def verify_candidate(
    ref: StoredReference,
    views: Sequence[QueryView],
    *,
    tests: float,
    query_size: tuple[int, int],
) -> Match | None:
    """Verifies a candidate against the query views, in the given order.

    Args:
        ref: The candidate reference.
        views: Query views to try, most promising first.
        tests: Number of (reference, view) pairs the search may test (for the NFA).
        query_size: Full-size (width, height) of the query file.

    Returns:
        The best verified match, or None.
    """
    cand = _Candidate(ref)
    best: tuple[float, Match] | None = None
    for view in views:
        geo = verify_geometry(view.features, cand.features, tests=tests)
        if geo is None:
            continue
        thumb = cand.thumbnail
        photo = compare(thumb, thumb.shape[1] / max(cand.features.width, 1), view.grey, view.rgb, geo.model)
        if not photo.passed:
            continue
        edits = explain(ref, view, geo, photo, query_size)
        ws = ref.fingerprint.work_scale
        overlap_work = edits.coverage * (ref.fingerprint.width * ws) * (ref.fingerprint.height * ws)
        if _hull_share(geo.ref_points, overlap_work) < MIN_HULL_SHARE:
            continue
        certainty = 1.0 - math.exp(-max(0.0, -geo.log10_nfa) / 20.0)
        score = round(float(np.clip(photo.agreement * certainty, 0.0, 1.0)), 4)
        match = Match(id=ref.id, score=score, edits=edits, inliers=geo.inliers, log10_nfa=round(geo.log10_nfa, 2))
        if best is None or geo.log10_nfa < best[0]:
            best = (geo.log10_nfa, match)
        if geo.log10_nfa < -30:
            break
    return best[1] if best else None
