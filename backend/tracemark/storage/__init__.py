"""Originals: the private, content-addressed folder they are kept in, and the checks an upload must pass.

Public surface:
    OriginalStore         originals on disk, named by their SHA-256
    UploadLimits          what an upload may be (bytes, pixels, formats, metadata)
    validate_upload       every check, the whole image decoded, before anything is stored
    UploadRejectedError   why an upload was refused (a 4xx status and a message a person can read)
    creator_fields        EXIF / XMP / IPTC / PNG text creator and copyright fields of an accepted image
"""

from tracemark.storage.creator_fields import creator_fields
from tracemark.storage.originals import OriginalStore
from tracemark.storage.validation import AcceptedImage, UploadLimits, UploadRejectedError, validate_upload

__all__ = [
    "AcceptedImage",
    "OriginalStore",
    "UploadLimits",
    "UploadRejectedError",
    "creator_fields",
    "validate_upload",
]
