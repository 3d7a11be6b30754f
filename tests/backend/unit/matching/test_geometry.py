"""Geometric verification: the a-contrario bound, similarity recovery, sanity limits."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from tracemark.matching.features import extract
from tracemark.matching.geometry import homography_is_sane, log10_nfa, verify_geometry


def test_nfa_falls_with_inliers_and_grows_with_tests() -> None:
    assert log10_nfa(100, 20, 1e-3, 1000) < log10_nfa(100, 10, 1e-3, 1000)
    assert log10_nfa(100, 10, 1e-3, 10**6) == log10_nfa(100, 10, 1e-3, 1000) + 3
    assert log10_nfa(10, 2, 1e-3, 1000) == math.inf


def test_recovers_rotation_and_scale(camera: NDArray[np.uint8]) -> None:
    ref = extract(camera, 700)
    m = cv2.getRotationMatrix2D((256, 256), 4.0, 0.7)  # 4 degrees counter-clockwise as seen, 70 %
    copy = cv2.warpAffine(camera, m, (512, 512))
    geo = verify_geometry(extract(copy, 1500), ref, tests=1e6)
    assert geo is not None
    assert abs(geo.scale - 0.7) < 0.02
    assert abs(-math.degrees(geo.rotation) - 4.0) < 0.5
    assert geo.log10_nfa < -20


def test_unrelated_photos_give_no_model(camera: NDArray[np.uint8], astronaut: NDArray[np.uint8]) -> None:
    other = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert verify_geometry(extract(other, 1500), extract(camera, 700), tests=1e6) is None


def test_homography_sanity_limits() -> None:
    assert homography_is_sane(np.eye(3), 640, 480)
    stretch = np.diag([1.2, 1.0, 1.0])
    assert homography_is_sane(stretch, 640, 480)
    assert not homography_is_sane(np.diag([2.0, 1.0, 1.0]), 640, 480)  # too anisotropic
    assert not homography_is_sane(np.diag([-1.0, 1.0, 1.0]), 640, 480)  # a mirror is not a homography copy
    wild = np.array([[1, 0, 0], [0, 1, 0], [0.004, 0, 1]], np.float64)
    assert not homography_is_sane(wild, 640, 480)
