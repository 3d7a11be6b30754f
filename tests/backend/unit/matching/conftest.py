"""Shared pictures for the matching unit tests (real photos from the scikit-image wheel)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray


@pytest.fixture(scope="session")
def camera() -> NDArray[np.uint8]:
    """The cameraman photo (512 x 512 grey)."""
    from skimage import data

    return np.ascontiguousarray(data.camera())


@pytest.fixture(scope="session")
def astronaut() -> NDArray[np.uint8]:
    """The astronaut photo (512 x 512 colour)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())
