"""The errors of the matching engine.

Every error a caller can act on derives from `MatchingError`, so a batch (the CLI, the crawler) can catch it
per file, report it, and go on with the next file.
"""

from __future__ import annotations


class MatchingError(Exception):
    """Base of every error the matching engine raises on purpose."""


class ImageDecodeError(MatchingError):
    """The bytes are not an image we can read (empty, truncated, corrupt, unsupported, too large)."""


class ImageTooSmallError(MatchingError):
    """The image decodes but is too small (or too thin) to fingerprint reliably."""


class IndexFormatError(MatchingError):
    """The index on disk is missing, from another program, or from an unknown format version."""


class UnknownReferenceError(MatchingError):
    """An operation named a reference id that is not in the index."""
