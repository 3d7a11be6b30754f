"""Fixtures for the matching integration tests: an index of real photos from PyPI wheels."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tracemark.matching import MatchIndex
from tracemark.matching.evaluation import corpus_photos, jpeg_bytes, synthetic_scene

# Photos the family tests query; the index also holds every other corpus photo and distractors.
QUERY_PHOTOS = ("astronaut", "coffee", "camera", "moon", "china", "motorcycle_left", "retina_tile1", "page")


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """The corpus photos by id."""
    return corpus_photos()


@pytest.fixture(scope="session")
def photo_index(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Image.Image]) -> Iterator[MatchIndex]:
    """An index of all corpus photos and 60 synthetic distractors (session-wide, read-only in tests)."""
    folder: Path = tmp_path_factory.mktemp("photo-index")
    index = MatchIndex.open(folder)
    for name, im in photos.items():
        index.add(name, jpeg_bytes(im, 95))
    for i in range(60):
        index.add(f"distractor{i:03d}", jpeg_bytes(synthetic_scene(50_000 + i), 90))
    yield index
    index.close()
