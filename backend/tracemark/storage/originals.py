"""A local folder of originals, content-addressed: `<root>/<first two hex digits>/<sha256>`.

A file is written to a temporary name, flushed and renamed into place, so a crash never leaves a partial original
under a digest; reads re-hash the bytes, so a file damaged on disk is reported, never served. Who may read which
original is decided by the `originals` table, not here: the folder is private to the service.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from tracemark.files import write_atomically

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class OriginalMissingError(Exception):
    """No original with that digest is stored."""


class OriginalCorruptError(Exception):
    """The stored file no longer matches its digest."""


class OriginalStore:
    """Originals named by their SHA-256 (64 lowercase hex digits)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)

    def path(self, sha256: str) -> Path:
        """Where an original lives.

        Raises:
            ValueError: the name is not a SHA-256 in lowercase hex.
        """
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 digest: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Stores an original (once: the same bytes are stored only once) and returns its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256)
        if path.exists():
            return sha256
        write_atomically(path, data)
        return sha256

    def get(self, sha256: str) -> bytes:
        """The original with this digest.

        Raises:
            OriginalMissingError: none is stored.
            OriginalCorruptError: the file does not match its digest.
        """
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise OriginalMissingError(f"no original {sha256}") from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise OriginalCorruptError(f"the stored original {sha256} does not match its digest")
        return data

    def has(self, sha256: str) -> bool:
        """Whether an original with this digest is stored."""
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        """Removes an original (when no upload row refers to it any more)."""
        self.path(sha256).unlink(missing_ok=True)

    def count(self) -> int:
        """How many originals are stored (for checks and tests)."""
        return sum(1 for p in self.root.glob("??/*") if p.is_file() and not p.name.startswith(".tmp-"))
