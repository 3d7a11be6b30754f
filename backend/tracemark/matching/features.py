"""Local features: ORB keypoints and binary descriptors, picked for spread and strength.

ORB (oriented FAST corners with rotated BRIEF descriptors, Rublee et al. 2011) finds corners on an image
pyramid (8 levels, a factor 1.2 apart) and describes each by 256 binary intensity comparisons in a patch
turned to the corner's dominant orientation. Descriptors of the same scene point in two copies differ in a
few dozen bits; they survive crops (each is local), resizing (the pyramid), rotation (the orientation) and
most photometric changes (comparisons of pixel pairs ignore gain and offset).

Before detection the grey image is stretched between its 1st and 99th percentiles, so that a copy with less
contrast or more brightness finds the same corners (FAST uses an absolute threshold).

`select_spread` keeps the strongest features per cell of a grid, taking turns between cells, so that a crop
of any part of a reference still contains some of the kept features.

Stored form (`pack` / `unpack`): per feature 2 x uint16 position in 1/16 pixel, 1 byte octave, 1 byte
angle (256 steps per turn), 2 reserved bytes and the 32-byte descriptor: 40 bytes a feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2

FEATURE_BYTES = 40


@dataclass(frozen=True, slots=True)
class Features:
    """Keypoints and descriptors of one image at one working size.

    Attributes:
        xy: Positions (n, 2), float32, in working pixels.
        octave: Pyramid level of each keypoint (n,), uint8; level k is 1.2**k times coarser.
        angle: Orientation of each keypoint (n,), float32, degrees in [0, 360).
        response: Corner strength (n,), float32.
        desc: Descriptors (n, 32), uint8.
        width: Width of the working image.
        height: Height of the working image.
    """

    xy: NDArray[np.float32]
    octave: NDArray[np.uint8]
    angle: NDArray[np.float32]
    response: NDArray[np.float32]
    desc: NDArray[np.uint8]
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.xy.shape[0])

    def subset(self, keep: NDArray[np.intp]) -> Features:
        """The features at the given positions."""
        return Features(
            xy=self.xy[keep],
            octave=self.octave[keep],
            angle=self.angle[keep],
            response=self.response[keep],
            desc=self.desc[keep],
            width=self.width,
            height=self.height,
        )


def stretch_contrast(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Stretches grey levels so that the 1st and 99th percentiles become 0 and 255."""
    hist = np.bincount(grey.reshape(-1), minlength=256).cumsum()
    total = float(hist[-1])
    lo = int(np.searchsorted(hist, 0.01 * total))
    hi = int(np.searchsorted(hist, 0.99 * total))
    if hi - lo < 8:
        return grey
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
    stretched: NDArray[np.uint8] = lut[grey]
    return stretched


def empty_features(width: int, height: int) -> Features:
    """A feature set with no features."""
    return Features(
        xy=np.zeros((0, 2), np.float32),
        octave=np.zeros(0, np.uint8),
        angle=np.zeros(0, np.float32),
        response=np.zeros(0, np.float32),
        desc=np.zeros((0, 32), np.uint8),
        width=width,
        height=height,
    )


def extract(grey: NDArray[np.uint8], max_features: int, *, fast_threshold: int = 12) -> Features:
    """Detects and describes ORB features.

    Args:
        grey: Pixels (height, width), uint8.
        max_features: Upper bound on the number of features.
        fast_threshold: FAST corner threshold after the contrast stretch.

    Returns:
        The features, strongest first.
    """
    h, w = grey.shape
    orb = cv2.ORB_create(
        nfeatures=max_features,
        scaleFactor=1.2,
        nlevels=8,
        edgeThreshold=31,
        patchSize=31,
        fastThreshold=fast_threshold,
    )
    keypoints, desc = orb.detectAndCompute(stretch_contrast(grey), None)
    if desc is None or not keypoints:
        return empty_features(w, h)
    order = np.argsort([-k.response for k in keypoints], kind="stable")
    kps = [keypoints[i] for i in order]
    return Features(
        xy=np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2),
        octave=np.array([k.octave for k in kps], dtype=np.uint8),
        angle=np.array([k.angle for k in kps], dtype=np.float32) % 360.0,
        response=np.array([k.response for k in kps], dtype=np.float32),
        desc=np.ascontiguousarray(desc[order]),
        width=w,
        height=h,
    )


def spread_order(
    features: Features, count: int, grid: int = 8, weight: NDArray[np.float32] | None = None
) -> NDArray[np.intp]:
    """Indices of up to `count` features, spread over a grid of cells (see `select_spread`), ascending."""
    n = len(features)
    if n <= count:
        return np.arange(n, dtype=np.intp)
    rank_by = features.response if weight is None else weight
    cx = np.minimum((features.xy[:, 0] * grid / max(features.width, 1)).astype(np.int64), grid - 1)
    cy = np.minimum((features.xy[:, 1] * grid / max(features.height, 1)).astype(np.int64), grid - 1)
    cell = cy * grid + cx
    order = np.lexsort((-rank_by, cell))
    sorted_cells = cell[order]
    first = np.searchsorted(sorted_cells, sorted_cells, side="left")
    turn = np.arange(n) - first
    keys = turn.astype(np.float64) * 1e6 - rank_by[order].astype(np.float64) / (float(rank_by.max()) + 1e-12)
    chosen: NDArray[np.intp] = np.sort(order[np.argsort(keys, kind="stable")[:count]]).astype(np.intp)
    return chosen


def select_spread(features: Features, count: int, grid: int = 8, weight: NDArray[np.float32] | None = None) -> Features:
    """Keeps up to `count` features, spread over a grid of cells.

    Cells take turns: the best feature of every cell, then the second best of every cell, and so on. Within a
    turn, better features come first.

    Args:
        features: The candidates.
        count: How many to keep.
        grid: Cells per side.
        weight: Ranking of the candidates (default: corner response).

    Returns:
        The kept features.
    """
    if len(features) <= count:
        return features
    return features.subset(spread_order(features, count, grid, weight))


def pack(features: Features) -> bytes:
    """Serialises features to `FEATURE_BYTES` per feature after a 4-byte header (see the module docstring)."""
    n = len(features)
    rec = np.zeros((n, FEATURE_BYTES), np.uint8)
    xy = np.clip(np.round(features.xy * 16.0), 0, 65535).astype("<u2")
    rec[:, 0:4] = np.ascontiguousarray(xy).view(np.uint8).reshape(n, 4)
    rec[:, 4] = features.octave
    rec[:, 5] = (np.round(features.angle / 360.0 * 256.0).astype(np.int64) % 256).astype(np.uint8)
    rec[:, 8:40] = features.desc
    header = np.array([features.width, features.height], dtype="<u2").tobytes()
    return header + rec.tobytes()


def unpack(blob: bytes) -> Features:
    """Reads features written by `pack` (corner responses are not stored and read as zero)."""
    width, height = (int(v) for v in np.frombuffer(blob[:4], dtype="<u2"))
    rec = np.frombuffer(blob[4:], dtype=np.uint8).reshape(-1, FEATURE_BYTES)
    n = rec.shape[0]
    xy = np.ascontiguousarray(rec[:, 0:4]).view("<u2").reshape(n, 2).astype(np.float32) / 16.0
    return Features(
        xy=xy,
        octave=rec[:, 4].copy(),
        angle=rec[:, 5].astype(np.float32) * (360.0 / 256.0),
        response=np.zeros(n, np.float32),
        desc=np.ascontiguousarray(rec[:, 8:40]),
        width=width,
        height=height,
    )
