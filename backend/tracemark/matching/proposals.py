"""Region proposals: parts of a query worth searching on their own.

Copies on the web are often not the picture alone: a screenshot of a page around it, caption bands above and
below, a frame or letterbox bars, a collage of several pictures. The global hash of such a query describes
the page, not the picture, and the picture may be small in it. Proposals cut the picture out, so that every
lane sees it at a useful size.

1. **Background colours.** The colours that cover at least 8 % of the outermost two-pixel frame (quantised)
   are the page's background colours.
2. **Content components.** Pixels far from every background colour form the content mask; after a small
   opening and closing, its connected components are candidate boxes. Text lines are small and are dropped;
   pictures are large and solid. A box must be big (both sides >= 48 pixels, area >= 4 % of the image),
   mostly filled with content, and smaller than 92 % of the image (else it is the image itself).
3. **Nesting.** Inside a box whose own border is uniform (a white card on a grey page), the search repeats
   once with that box's border colours; so it does inside every collage cell (step 4), where a picture fitted
   into a cell of another shape sits between bands.
4. **Collage seams.** A box (or the whole image) is split at a full-length straight seam: a column (row) where
   the grey level jumps across at least 60 % of the box's height (width), much more than at any nearby
   column. Pictures placed edge to edge in a collage meet at such seams; inside a photograph, no edge runs so
   straight so far.

The proposals are returned largest first, as (x0, y0, x1, y1) boxes in the pixels of the given image.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2

Box = tuple[float, float, float, float]

MIN_SIDE = 48
MIN_AREA_SHARE = 0.04
MAX_AREA_SHARE = 0.92
SEAM_SHARE = 0.6


def _background_colours(frame: NDArray[np.uint8]) -> list[NDArray[np.int16]]:
    q = (frame.astype(np.int16) // 16).reshape(-1, 3)
    keys = q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    colours = []
    for v, c in sorted(zip(values.tolist(), counts.tolist(), strict=True), key=lambda t: -t[1])[:3]:
        if c >= 0.08 * len(keys):
            members = frame.reshape(-1, 3)[keys == v]
            colours.append(np.median(members, axis=0).astype(np.int16))
    return colours


def _border(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.concatenate(
        [rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3), rgb[:, :2].reshape(-1, 3), rgb[:, -2:].reshape(-1, 3)]
    )


def _components(rgb: NDArray[np.uint8]) -> list[tuple[int, int, int, int]]:
    h, w = rgb.shape[:2]
    colours = _background_colours(_border(rgb))
    if not colours:
        return []
    s = rgb.astype(np.int16)
    background = np.zeros((h, w), bool)
    for c in colours:
        background |= np.abs(s - c).max(axis=2) <= 14
    content = (~background).astype(np.uint8)
    content = cv2.morphologyEx(content, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    content = cv2.morphologyEx(content, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(content, connectivity=8)
    boxes = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if bw < MIN_SIDE or bh < MIN_SIDE:
            continue
        share = bw * bh / float(w * h)
        if share < MIN_AREA_SHARE or share > MAX_AREA_SHARE:
            continue
        if area < 0.5 * bw * bh:
            continue
        boxes.append((x, y, x + bw, y + bh))
    return boxes


def _seams(grey: NDArray[np.float32], axis: int) -> list[int]:
    """Positions of full-length straight seams across `axis` (1: vertical seams between columns)."""
    g = grey if axis == 1 else grey.T
    h, w = g.shape
    if w < 2 * MIN_SIDE or h < MIN_SIDE:
        return []
    jumps = (np.abs(np.diff(g, axis=1)) > 18).mean(axis=0)
    seams = []
    for x in range(MIN_SIDE, w - MIN_SIDE):
        v = jumps[x - 1]
        if v < SEAM_SHARE:
            continue
        lo, hi = max(0, x - 9), min(len(jumps), x + 8)
        neighbourhood = np.r_[jumps[lo : x - 2], jumps[x + 1 : hi]]
        if v == jumps[lo:hi].max() and (neighbourhood.size == 0 or v >= 2.0 * float(np.median(neighbourhood)) + 0.1):
            seams.append(x)
    return seams


def _split(box: tuple[int, int, int, int], grey: NDArray[np.float32]) -> list[tuple[int, int, int, int]]:
    x0, y0, x1, y1 = box
    sub = grey[y0:y1, x0:x1]
    cells = []
    xs = [0, *_seams(sub, 1), x1 - x0]
    ys = [0, *_seams(sub, 0), y1 - y0]
    if len(xs) == 2 and len(ys) == 2:
        return []
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            if xs[i + 1] - xs[i] >= MIN_SIDE and ys[j + 1] - ys[j] >= MIN_SIDE:
                cells.append((x0 + xs[i], y0 + ys[j], x0 + xs[i + 1], y0 + ys[j + 1]))
    return cells


def propose_regions(rgb: NDArray[np.uint8], limit: int = 6) -> list[Box]:
    """Boxes of pictures inside a query image.

    Args:
        rgb: The query pixels (height, width, 3).
        limit: Most boxes returned.

    Returns:
        Boxes (x0, y0, x1, y1), largest first; empty when the query looks like a single picture.
    """
    h, w = rgb.shape[:2]
    if min(h, w) < 2 * MIN_SIDE:
        return []
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    boxes: list[tuple[int, int, int, int]] = []
    for box in _components(rgb):
        boxes.append(box)
        x0, y0, x1, y1 = box
        inner = rgb[y0:y1, x0:x1]
        for ix0, iy0, ix1, iy1 in _components(inner):
            boxes.append((x0 + ix0, y0 + iy0, x0 + ix1, y0 + iy1))
    seams: list[tuple[int, int, int, int]] = []
    for box in [(0, 0, w, h), *boxes]:
        seams.extend(_split(box, grey))
    # A collage cell often holds its picture between bands (a picture fitted into a cell of another shape):
    # the picture inside a cell is found like the picture inside a page.
    for x0, y0, x1, y1 in seams:
        for ix0, iy0, ix1, iy1 in _components(rgb[y0:y1, x0:x1]):
            boxes.append((x0 + ix0, y0 + iy0, x0 + ix1, y0 + iy1))
    # Components first (their edges are exact), largest first; then seam cells.
    ranked = sorted(set(boxes), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    ranked += sorted(set(seams) - set(boxes), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    unique: list[tuple[int, int, int, int]] = []
    for b in ranked:
        area = (b[2] - b[0]) * (b[3] - b[1])
        if area > MAX_AREA_SHARE * w * h or area < MIN_AREA_SHARE * w * h:
            continue
        if any(_iou(b, u) > 0.85 for u in unique):
            continue
        unique.append(b)
    return [(float(a), float(b), float(c), float(d)) for a, b, c, d in unique[:limit]]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0
