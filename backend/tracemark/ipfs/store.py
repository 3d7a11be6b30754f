"""The interface every content store offers, and its errors."""

from __future__ import annotations

from typing import Protocol


class ContentUnavailableError(Exception):
    """The store does not have the block, or cannot be reached."""


class IntegrityError(Exception):
    """A store returned or computed a CID that is not the content's own: nothing is recorded."""


class BlockTooLargeError(ValueError):
    """Content larger than one raw block cannot be stored under a raw CID."""


class ContentStore(Protocol):
    """Stores blocks under their CIDv1 (raw, sha2-256) and returns them only when they match it."""

    def put(self, data: bytes) -> str:
        """Stores and pins a block; returns its CID, checked against a local computation."""
        ...

    def get(self, cid: str) -> bytes:
        """The block a CID names, checked against the CID."""
        ...

    def has(self, cid: str) -> bool:
        """Whether the store holds the block."""
        ...
