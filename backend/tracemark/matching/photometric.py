"""Photometric verification after alignment: is it the same photograph, not just the same scene?

Geometry alone cannot tell a copy from a second exposure of the same scene (a stereo pair, a burst, the
next frame): far-away parts of both line up under one similarity. Pixels can. After alignment:

1. The query view is warped into the frame of the reference thumbnail (`cv2.warpPerspective`), at the
   coarser of the two resolutions, so a thumbnail-sized copy is compared at thumbnail size.
   The alignment is then refined densely with ECC (Evangelidis and Psarakis' enhanced correlation
   coefficient maximisation, a homography, started from the geometric model), so that the few pixels of error a
   model fitted on sparse keypoints leaves across a tilted or stretched copy are gone. The correction is bounded
   (corners move by at most `MAX_ECC_SHIFT` of the canvas), so it refines a verified alignment and never makes one.
2. Both are band-pass filtered (difference of Gaussians, sigma 0.8 and 3 pixels): what remains is edges and
   texture; brightness, contrast, vignetting, colour filters (sepia, vintage, greyscale) change little of it.
3. The overlap is cut into blocks of 12 x 12 pixels. For every block with texture in the reference, the
   normalised cross-correlation (NCC) of the two band-passed blocks is computed.
4. A copy agrees almost everywhere (NCC well above zero) except under an overlay; another exposure of the
   scene misaligns wherever depth or time differ, and its blocks decorrelate. `agreement` is the share of
   textured blocks with NCC >= `BLOCK_NCC`; a copy needs `agreement >= MIN_AGREEMENT`, which leaves room for
   overlays over up to 20 % of the picture and for heavy JPEG loss.
5. The parallax test tells the two causes of a failing block apart. Each failing block is searched for within
   `PARALLAX_SEARCH` pixels around its place: when it correlates well at a shift (>= 1.5 pixels), the same
   content is there but displaced, which no edit of a copy does and every second exposure does (depth
   parallax, motion). Under an overlay, no shift helps. A copy needs `parallax <= MAX_PARALLAX`.

The same comparison estimates the overlay: blocks where the copy shows a tone the reference lacks there
(after a global linear fit of grey levels), texture the reference lacks, or no texture where the reference has
some, count as covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2

BLOCK = 12
BLOCK_NCC = 0.5
MIN_AGREEMENT = 0.6
MIN_TEXTURED_BLOCKS = 6
PARALLAX_SEARCH = 6
MAX_ECC_SHIFT = 0.04
PARALLAX_NCC = 0.7
MAX_PARALLAX = 0.08


@dataclass(frozen=True, slots=True)
class PhotometricResult:
    """The outcome of the photometric comparison.

    Attributes:
        agreement: Share of textured reference blocks whose NCC with the copy is at least `BLOCK_NCC`.
        correlation: Median NCC over textured blocks.
        textured_blocks: How many blocks had texture.
        parallax: Share of textured blocks that match only at a shift (a second exposure, not a copy).
        overlay_fraction: Estimated share of the visible picture covered by an overlay.
        query_chroma: Mean chroma of the copy over the overlap (0 for greyscale).
        passed: Whether the copy is the same photograph.
    """

    agreement: float
    correlation: float
    textured_blocks: int
    parallax: float
    overlay_fraction: float
    query_chroma: float
    passed: bool


def _warp(query_grey: NDArray[np.uint8], canvas_to_query: NDArray[np.float64], size: tuple[int, int],
          flags: int) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """The query brought onto the reference's canvas, and the mask of canvas pixels the query covers."""
    warped = cv2.warpPerspective(
        query_grey, canvas_to_query, size, flags=flags | cv2.WARP_INVERSE_MAP, borderValue=0
    ).astype(np.float32)
    mask = cv2.warpPerspective(
        np.full(query_grey.shape, 255, np.uint8), canvas_to_query, size,
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0,
    )
    return warped, mask


def _bandpass(img: NDArray[np.float32]) -> NDArray[np.float32]:
    out: NDArray[np.float32] = cv2.GaussianBlur(img, (0, 0), 0.8) - cv2.GaussianBlur(img, (0, 0), 3.0)
    return out


def _block_sums(img: NDArray[np.float32], by: int, bx: int) -> NDArray[np.float32]:
    h, w = by * BLOCK, bx * BLOCK
    out: NDArray[np.float32] = img[:h, :w].reshape(by, BLOCK, bx, BLOCK).sum(axis=(1, 3))
    return out


def compare(
    ref_thumb: NDArray[np.uint8],
    thumb_per_work: float,
    query_grey: NDArray[np.uint8],
    query_rgb: NDArray[np.uint8] | None,
    model: NDArray[np.float64],
) -> PhotometricResult:
    """Compares an aligned query view to the reference thumbnail.

    Args:
        ref_thumb: Grey reference thumbnail.
        thumb_per_work: Thumbnail pixels per reference working pixel.
        query_grey: Grey query view (working pixels).
        query_rgb: Colour query view, same size, for the chroma measure (None when unknown).
        model: 3 x 3 homography from reference working pixels to query-view pixels.

    Returns:
        The comparison.
    """
    th, tw = ref_thumb.shape
    jac = model[:2, :2] / model[2, 2]
    query_per_work = float(np.sqrt(abs(np.linalg.det(jac))))
    query_per_thumb = query_per_work / thumb_per_work
    c = min(1.0, query_per_thumb)
    cw, ch = max(BLOCK, round(tw * c)), max(BLOCK, round(th * c))
    canvas_to_work = np.diag([1.0 / (c * thumb_per_work), 1.0 / (c * thumb_per_work), 1.0])
    canvas_to_query = model @ canvas_to_work
    flags = cv2.INTER_AREA if c >= 1.0 and query_per_thumb > 1.5 else cv2.INTER_LINEAR
    warped, mask = _warp(query_grey, canvas_to_query, (cw, ch), flags)
    ref = ref_thumb if c >= 1.0 else cv2.resize(ref_thumb, (cw, ch), interpolation=cv2.INTER_AREA)
    ref_f = ref.astype(np.float32)
    bp_r = _bandpass(ref_f)
    result = _blocks(ref_f, bp_r, warped, mask, query_rgb, canvas_to_query, (cw, ch))
    if result.passed and result.agreement >= 0.97:
        return result
    refined = _refine(ref_f, warped, mask)
    if refined is None:
        return result
    canvas_to_query = canvas_to_query @ refined
    warped, mask = _warp(query_grey, canvas_to_query, (cw, ch), flags)
    second = _blocks(ref_f, bp_r, warped, mask, query_rgb, canvas_to_query, (cw, ch))
    return second if second.agreement - second.parallax > result.agreement - result.parallax else result


def _blocks(
    ref_f: NDArray[np.float32],
    bp_r: NDArray[np.float32],
    warped: NDArray[np.float32],
    mask: NDArray[np.uint8],
    query_rgb: NDArray[np.uint8] | None,
    canvas_to_query: NDArray[np.float64],
    size: tuple[int, int],
) -> PhotometricResult:
    """Block statistics of one alignment of the copy onto the reference canvas."""
    cw, ch = size
    bp_q = _bandpass(warped)
    by, bx = ch // BLOCK, cw // BLOCK
    if by == 0 or bx == 0:
        return PhotometricResult(0.0, 0.0, 0, 0.0, 0.0, 0.0, False)
    inside = cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0
    valid_frac = _block_sums(inside.astype(np.float32), by, bx) / float(BLOCK * BLOCK)
    full = valid_frac >= 0.95
    n_px = float(BLOCK * BLOCK)
    sr = _block_sums(bp_r, by, bx) / n_px
    sq = _block_sums(bp_q, by, bx) / n_px
    vr = _block_sums(bp_r * bp_r, by, bx) / n_px - sr * sr
    vq = _block_sums(bp_q * bp_q, by, bx) / n_px - sq * sq
    cov = _block_sums(bp_r * bp_q, by, bx) / n_px - sr * sq
    std_r = np.sqrt(np.maximum(vr, 0))
    std_q = np.sqrt(np.maximum(vq, 0))
    ncc = cov / np.maximum(std_r * std_q, 1e-6)
    textured = full & (std_r >= 1.5)
    n_tex = int(textured.sum())
    agreement = float((ncc[textured] >= BLOCK_NCC).mean()) if n_tex else 0.0
    correlation = float(np.median(ncc[textured])) if n_tex else 0.0

    # Overlay: blocks where the copy shows structure or a tone the reference does not have there.
    mean_r = _block_sums(ref_f, by, bx) / n_px
    mean_q = _block_sums(warped, by, bx) / n_px
    n_full = int(full.sum())
    overlay = 0.0
    if n_full:
        good = full & ((ncc >= BLOCK_NCC) | ~textured)
        xs, ys = mean_r[good], mean_q[good]
        if xs.size >= 4 and float(xs.std()) > 1e-3:
            gain, offset = np.polyfit(xs, ys, 1)
        else:
            gain, offset = 1.0, float(ys.mean() - xs.mean()) if xs.size else 0.0
        tone_off = np.abs(mean_q - (gain * mean_r + offset)) > 30.0
        extra_texture = (std_q > np.maximum(2.5 * std_r, 4.0)) | (textured & (ncc < 0.2) & (std_q > 2.0))
        flattened = textured & (ncc < 0.2) & (std_q < 0.35 * std_r)
        covered = full & (tone_off | extra_texture | flattened)
        overlay = float(covered.sum()) / float(n_full)
    chroma = 0.0
    if query_rgb is not None:
        s = query_rgb.astype(np.int16)
        chroma_img = (s.max(axis=2) - s.min(axis=2)).astype(np.float32)
        warped_chroma = cv2.warpPerspective(
            chroma_img, canvas_to_query, (cw, ch), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0
        )
        chroma = float(warped_chroma[inside].mean()) if inside.any() else 0.0
    parallax = _parallax(bp_r, bp_q, inside, textured & (ncc < BLOCK_NCC)) / n_tex if n_tex else 0.0
    passed = n_tex >= MIN_TEXTURED_BLOCKS and agreement >= MIN_AGREEMENT and parallax <= MAX_PARALLAX
    return PhotometricResult(agreement, correlation, n_tex, parallax, overlay, chroma, passed)


def _refine(
    ref: NDArray[np.float32], warped: NDArray[np.float32], mask: NDArray[np.uint8]
) -> NDArray[np.float64] | None:
    """A small homography that aligns the warped copy better to the reference (ECC), or None."""
    h, w = ref.shape
    if min(h, w) < 32 or int((mask > 0).sum()) < 0.1 * h * w:
        return None
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-5)
    try:
        _, warp = cv2.findTransformECC(ref, warped, warp, cv2.MOTION_HOMOGRAPHY, criteria, mask, 5)
    except cv2.error:
        return None
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64)
    moved = corners @ warp.astype(np.float64).T
    if np.any(moved[:, 2] <= 1e-6):
        return None
    shift = np.abs(moved[:, :2] / moved[:, 2:3] - corners[:, :2]).max()
    if not np.isfinite(shift) or shift > MAX_ECC_SHIFT * max(h, w):
        return None
    result: NDArray[np.float64] = warp.astype(np.float64)
    return result


def _parallax(
    bp_r: NDArray[np.float32], bp_q: NDArray[np.float32], inside: NDArray[np.bool_], failing: NDArray[np.bool_]
) -> float:
    """Counts failing blocks whose reference content reappears in the copy at a small shift."""
    r = PARALLAX_SEARCH
    h, w = bp_q.shape
    count = 0
    for by, bx in zip(*np.nonzero(failing), strict=True):
        y0, x0 = int(by) * BLOCK, int(bx) * BLOCK
        ya, yb, xa, xb = max(0, y0 - r), min(h, y0 + BLOCK + r), max(0, x0 - r), min(w, x0 + BLOCK + r)
        if not inside[ya:yb, xa:xb].all():
            continue
        window = np.ascontiguousarray(bp_q[ya:yb, xa:xb])
        template = np.ascontiguousarray(bp_r[y0 : y0 + BLOCK, x0 : x0 + BLOCK])
        scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, peak, _, loc = cv2.minMaxLoc(scores)
        dx, dy = loc[0] - (x0 - xa), loc[1] - (y0 - ya)
        if peak >= PARALLAX_NCC and (dx * dx + dy * dy) >= 2.25:
            count += 1
    return float(count)
