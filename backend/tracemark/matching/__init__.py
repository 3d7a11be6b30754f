"""The matching engine: finds copies of registered images and explains what was changed.

Quick start::

    from tracemark.matching import MatchIndex

    with MatchIndex.open("var/match-index") as index:
        index.add("sunset", "sunset.jpg")
        for match in index.search("found-on-the-web.jpg"):
            print(match.id, match.score, match.edits.crop_box)

Tour (one module per algorithm, each opening with a docstring that explains it):

- `decode`: safe decoding and normalisation of any image file.
- `dcthash`: the 256-bit DCT hash and its eight dihedral variants (global lane).
- `features`, `vocabulary`: ORB features and the binary visual vocabulary (crop-surviving lane).
- `fingerprint`: what is stored per reference.
- `proposals`: regions of a query worth searching on their own (screenshots, caption bands, collages).
- `query`: the views a query is searched as.
- `retrieval`: the in-memory candidate lanes.
- `geometry`, `photometric`, `verify`: verification and the edit report.
- `store`, `index`: the crash-safe on-disk index and the `MatchIndex` type.
"""

from tracemark.matching.decode import Photo, load_image
from tracemark.matching.errors import (
    ImageDecodeError,
    ImageTooSmallError,
    IndexFormatError,
    MatchingError,
    UnknownReferenceError,
)
from tracemark.matching.fingerprint import FINGERPRINT_VERSION
from tracemark.matching.index import MatchIndex
from tracemark.matching.models import Edits, Match, QueryResult, ReferenceInfo

__all__ = [
    "FINGERPRINT_VERSION",
    "Edits",
    "ImageDecodeError",
    "ImageTooSmallError",
    "IndexFormatError",
    "Match",
    "MatchIndex",
    "MatchingError",
    "Photo",
    "QueryResult",
    "ReferenceInfo",
    "UnknownReferenceError",
    "load_image",
]
