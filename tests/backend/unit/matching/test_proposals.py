"""Region proposals: pictures inside screenshots, between caption bands, in collages."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tracemark.matching.proposals import propose_regions


def _near(box: tuple[float, ...], want: tuple[int, int, int, int], tol: int = 6) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(box, want, strict=True))


def test_plain_photo_has_no_proposal(astronaut: NDArray[np.uint8]) -> None:
    assert propose_regions(astronaut) == []


def test_picture_on_a_page(astronaut: NDArray[np.uint8]) -> None:
    page = np.full((700, 1000, 3), 245, np.uint8)
    page[:50] = (40, 60, 90)
    page[120 : 120 + 512, 300 : 300 + 512] = astronaut
    for y in range(80, 680, 25):  # text-like lines left of the picture
        page[y : y + 8, 20:260:3] = 30
    boxes = propose_regions(page)
    assert any(_near(b, (300, 120, 812, 632)) for b in boxes)


def test_caption_bands(astronaut: NDArray[np.uint8]) -> None:
    img = np.zeros((512 + 160, 512, 3), np.uint8)
    img[80:592] = astronaut
    img[20:40, 30:400:4] = 255
    assert any(_near(b, (0, 80, 512, 592)) for b in propose_regions(img))


def test_collage_without_gutters(astronaut: NDArray[np.uint8], camera: NDArray[np.uint8]) -> None:
    grey = np.stack([camera] * 3, axis=2)
    sheet = np.concatenate([astronaut, grey], axis=1)
    boxes = propose_regions(sheet)
    assert any(_near(b, (0, 0, 512, 512)) for b in boxes)
    assert any(_near(b, (512, 0, 1024, 512)) for b in boxes)


def test_picture_between_bands_in_a_collage_cell(astronaut: NDArray[np.uint8], camera: NDArray[np.uint8]) -> None:
    # Two cells of 360 x 270 edge to edge: the camera photo fills the left one; the astronaut, square, is fitted
    # into the right one between white bands (45 pixels each side). The picture itself is proposed, not only
    # its cell.
    import cv2

    left = cv2.resize(np.stack([camera] * 3, axis=2), (360, 270), interpolation=cv2.INTER_AREA)
    right = np.full((270, 360, 3), 255, np.uint8)
    right[:, 45:315] = cv2.resize(astronaut, (270, 270), interpolation=cv2.INTER_AREA)
    sheet = np.concatenate([left, right], axis=1)
    boxes = propose_regions(sheet)
    assert any(_near(b, (360 + 45, 0, 360 + 315, 270), tol=4) for b in boxes), boxes
    assert any(_near(b, (0, 0, 360, 270)) for b in boxes), boxes
