"""A visual vocabulary for binary descriptors: a two-level k-majority tree (version 1).

Quantising a 256-bit ORB descriptor to one of `K1 * K2` *visual words* lets a reference be stored as a short
list of word ids (a bag of visual words) and a query be looked up in an inverted file, which survives crops:
the words of a crop are a subset of the words of the whole.

The tree: `K1` level-one centres, and under each `K2` level-two centres. A descriptor goes to its nearest
level-one centre (Hamming distance), then to the nearest of that centre's children; the word is
`parent * K2 + child`.

Training is *k-majority* (k-means for binary strings: assign each descriptor to its nearest centre, then set
each centre's bit to the majority bit of its members), first on all descriptors for level one, then per
level-one cluster for level two. Hamming distances are computed exactly as `(256 - a . c) / 2` on +-1 vectors
with a matrix product.

The training set is synthetic on purpose, so that the vocabulary owes nothing to any test photo: seeded
*dead-leaves* images (occluding discs, rectangles, polygons and strokes whose sizes follow a power law, the
classic model of natural-image statistics), with shading, texture noise and blur. The trained vocabulary ships
as `data/orb_vocabulary_v1.npz`; `python -m tracemark.matching.vocabulary OUT.npz` rebuilds it.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tracemark.matching._cv import cv2
from tracemark.matching.features import extract

VOCABULARY_VERSION = 1
K1 = 128
K2 = 128
WORDS = K1 * K2
_FILE = f"orb_vocabulary_v{VOCABULARY_VERSION}.npz"


_SIGN_TABLE = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32) * 2.0 - 1.0


def _signs(desc: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Packed bits to +-1 floats (n, 256)."""
    out: NDArray[np.float32] = _SIGN_TABLE[desc].reshape(desc.shape[0], -1)
    return out


def _nearest(signs: NDArray[np.float32], centres: NDArray[np.float32]) -> NDArray[np.intp]:
    nearest: NDArray[np.intp] = np.argmax(signs @ centres.T, axis=1)
    return nearest


def _k_majority(signs: NDArray[np.float32], k: int, rng: np.random.Generator, iterations: int) -> NDArray[np.float32]:
    n = signs.shape[0]
    if n <= k:
        out = np.ones((k, signs.shape[1]), np.float32)
        out[:n] = signs
        return out
    centres = signs[rng.choice(n, size=k, replace=False)].copy()
    for _ in range(iterations):
        assign = _nearest(signs, centres)
        sums = np.zeros_like(centres)
        np.add.at(sums, assign, signs)
        counts = np.bincount(assign, minlength=k)
        empty = counts == 0
        centres = np.where(sums >= 0, 1.0, -1.0).astype(np.float32)
        if empty.any():
            centres[empty] = signs[rng.choice(n, size=int(empty.sum()), replace=False)]
    result: NDArray[np.float32] = centres
    return result


def dead_leaves(rng: np.random.Generator, size: int = 512) -> NDArray[np.uint8]:
    """A synthetic grey image of occluding shapes with power-law sizes, shading and texture."""
    img = np.full((size, size), float(rng.uniform(40, 215)), np.float32)
    shapes = int(rng.integers(400, 1500))
    radii = np.clip(2.0 * (1.0 - rng.random(shapes)) ** (-1.0 / 1.6), 2, size / 3)
    for r in radii:
        cx, cy = rng.uniform(-r, size + r, 2)
        value = float(rng.uniform(0, 255))
        kind = rng.integers(0, 5)
        layer = np.zeros((size, size), np.uint8)
        if kind == 0:
            cv2.circle(layer, (int(cx), int(cy)), int(r), 255, -1, lineType=cv2.LINE_AA)
        elif kind == 1:
            angle = float(rng.uniform(0, 180))
            box = ((float(cx), float(cy)), (float(2 * r), float(2 * r * rng.uniform(0.2, 1.0))), angle)
            cv2.fillPoly(layer, [cv2.boxPoints(box).astype(np.int32)], 255, lineType=cv2.LINE_AA)
        elif kind == 2:
            pts = (np.array([cx, cy]) + rng.normal(0, r, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(layer, [cv2.convexHull(pts)], 255, lineType=cv2.LINE_AA)
        elif kind == 3:
            end = (int(cx + rng.normal(0, 2 * r)), int(cy + rng.normal(0, 2 * r)))
            cv2.line(layer, (int(cx), int(cy)), end, 255, int(rng.integers(1, 6)), lineType=cv2.LINE_AA)
        else:
            axes = (int(r), int(r * rng.uniform(0.3, 1.0)))
            cv2.ellipse(layer, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
        alpha = layer.astype(np.float32) / 255.0
        if rng.random() < 0.4:
            gx, gy = rng.normal(0, 0.3, 2)
            yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
            shade = value + gx * (xx - cx) + gy * (yy - cy)
        else:
            shade = np.float32(value)
        img = img * (1 - alpha) + shade * alpha
    img += rng.normal(0, rng.uniform(0, 8), img.shape).astype(np.float32)
    sigma = float(rng.uniform(0.3, 1.5))
    blurred: NDArray[np.float32] = cv2.GaussianBlur(img, (0, 0), sigma)
    out: NDArray[np.uint8] = np.clip(blurred, 0, 255).astype(np.uint8)
    return out


def train(images: int = 500, seed: int = 20240601, iterations: int = 12) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Trains the vocabulary on seeded dead-leaves images.

    Args:
        images: How many synthetic images to describe.
        seed: The random seed (the shipped vocabulary used the default).
        iterations: k-majority iterations per level.

    Returns:
        Level-one centres (K1, 32) and level-two centres (K1, K2, 32), packed bits.
    """
    rng = np.random.default_rng(seed)
    descs = []
    for _ in range(images):
        grey = dead_leaves(rng)
        scale = float(rng.uniform(0.6, 1.0))
        if scale < 0.99:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        descs.append(extract(grey, 2500).desc)
    signs = _signs(np.concatenate(descs))
    top = _k_majority(signs, K1, rng, iterations)
    assign = _nearest(signs, top)
    children = np.ones((K1, K2, 256), np.float32)
    for parent in range(K1):
        members = signs[assign == parent]
        children[parent] = _k_majority(members, K2, rng, iterations)
    return np.packbits(top > 0, axis=-1), np.packbits(children > 0, axis=-1)


class Vocabulary:
    """Quantises ORB descriptors to visual words."""

    def __init__(self, top: NDArray[np.uint8], children: NDArray[np.uint8]) -> None:
        """Builds the quantiser from packed centres.

        Args:
            top: Level-one centres, shape (K1, 32).
            children: Level-two centres, shape (K1, K2, 32).
        """
        self._top = _signs(top)
        self._children = _signs(children.reshape(-1, 32)).reshape(children.shape[0], children.shape[1], 256)
        self._children_t = np.ascontiguousarray(self._children.transpose(0, 2, 1))
        self.k2 = children.shape[1]
        self.size = children.shape[0] * children.shape[1]

    def quantise(self, desc: NDArray[np.uint8]) -> NDArray[np.int64]:
        """The visual word of each descriptor.

        Args:
            desc: Descriptors (n, 32), uint8.

        Returns:
            Word ids (n,), in [0, size).
        """
        if desc.shape[0] == 0:
            return np.zeros(0, np.int64)
        signs = _signs(desc)
        parent = _nearest(signs, self._top)
        order = np.argsort(parent, kind="stable")
        sorted_parent = parent[order]
        sorted_signs = signs[order]
        bounds = np.flatnonzero(np.diff(sorted_parent)) + 1
        starts = np.r_[0, bounds]
        ends = np.r_[bounds, len(order)]
        child = np.empty(len(order), np.int64)
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            p = int(sorted_parent[a])
            child[a:b] = np.argmax(sorted_signs[a:b] @ self._children_t[p], axis=1)
        words = np.empty(desc.shape[0], np.int64)
        words[order] = sorted_parent.astype(np.int64) * self.k2 + child
        return words

    def quantise_multi(
        self, desc: NDArray[np.uint8], parents: int = 2, children: int = 2
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Several likely words of each descriptor (soft assignment), nearest first.

        A descriptor seen again in a copy differs in a few dozen bits and often lands in a neighbouring word. A
        query looks each feature up under the `children` nearest words below each of its `parents` nearest
        level-one centres, which finds the word a reference stored far more often than the nearest word alone.

        Args:
            desc: Descriptors (n, 32), uint8.
            parents: Level-one centres tried per descriptor.
            children: Level-two centres tried under each of them.

        Returns:
            Word ids (n, parents * children) and how many bits farther each word's centre is than the first
            one's (n, parents * children). Column 0 is `quantise`'s answer (gap 0); the others follow nearest
            first, and may be nearer than it (a negative gap: the tree's descent is not an exact search).
        """
        n = desc.shape[0]
        parents = min(parents, self._top.shape[0])
        children = min(children, self.k2)
        width = parents * children
        if n == 0:
            return np.zeros((0, width), np.int64), np.zeros((0, width), np.float32)
        signs = _signs(desc)
        top_score = signs @ self._top.T
        # The nearest level-one centres, nearest first (argmax: ties go to the lower id, as in `quantise`).
        top_order = np.empty((n, parents), np.intp)
        for rank in range(parents):
            top_order[:, rank] = np.argmax(top_score, axis=1)
            top_score[np.arange(n), top_order[:, rank]] = -np.inf
        words = np.empty((n * parents, children), np.int64)
        scores = np.empty((n * parents, children), np.float32)
        pair_parent = top_order.reshape(-1)
        order = np.argsort(pair_parent, kind="stable")
        sorted_parent = pair_parent[order]
        bounds = np.flatnonzero(np.diff(sorted_parent)) + 1
        for a, b in zip(np.r_[0, bounds].tolist(), np.r_[bounds, len(order)].tolist(), strict=True):
            p = int(sorted_parent[a])
            pairs = order[a:b]
            child_score = signs[pairs // parents] @ self._children_t[p]
            picked = np.arange(len(pairs))
            for rank in range(children):
                best = np.argmax(child_score, axis=1)
                words[pairs, rank] = p * self.k2 + best
                scores[pairs, rank] = child_score[picked, best]
                child_score[picked, best] = -np.inf
        flat_words = words.reshape(n, width)
        flat_scores = scores.reshape(n, width)
        # The nearest word stays first; the others follow by closeness (a higher dot product is a nearer centre).
        rest = np.argsort(-flat_scores[:, 1:], axis=1, kind="stable") + 1
        ranked = np.concatenate([np.zeros((n, 1), np.intp), rest], axis=1)
        out: NDArray[np.int64] = np.take_along_axis(flat_words, ranked, axis=1)
        ranked_scores = np.take_along_axis(flat_scores, ranked, axis=1)
        # A dot product of +-1 vectors is 256 - 2 * Hamming distance.
        gaps: NDArray[np.float32] = ((ranked_scores[:, :1] - ranked_scores) / 2.0).astype(np.float32)
        return out, gaps


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The shipped vocabulary (loaded once per process)."""
    ref = resources.files("tracemark.matching").joinpath("data").joinpath(_FILE)
    with resources.as_file(ref) as path, np.load(path) as data:
        return Vocabulary(data["top"], data["children"])


def main(argv: list[str]) -> int:
    """Trains the vocabulary and writes it to the path given as the only argument."""
    if len(argv) != 1:
        print("usage: python -m tracemark.matching.vocabulary OUT.npz", file=sys.stderr)
        return 2
    top, children = train()
    np.savez_compressed(Path(argv[0]), top=top, children=children)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
