"""OpenCV, as the matching engine uses it.

OpenCV's bundled type stubs describe images as `Mat | NDArray[integer | floating]` and colours as sequences
of floats; with numpy's own typing they reject ordinary calls (a uint8 image, a grey level given as an int)
and would need an ignore on most lines. The engine therefore sees `cv2` as untyped and annotates what each
call returns where the value is used.
"""

from typing import Any

import cv2 as _cv2

cv2: Any = _cv2

__all__ = ["cv2"]
