"""A content-addressed store in a local folder, for when no IPFS daemon runs.

Blocks are files named by their CID under `<root>/blocks/<last two characters>/<cid>`, written to a temporary
file and renamed into place, so a crash never leaves a partial block under a CID. Reads re-hash the file, so a
block damaged on disk is reported instead of served. The API serves these blocks at `/ipfs/{cid}`.
"""

from __future__ import annotations

from pathlib import Path

from tracemark.files import write_atomically
from tracemark.ipfs.cid import MAX_BLOCK_SIZE, CidError, cid_from_digest, digest_from_cid, raw_cid, verify_block
from tracemark.ipfs.store import BlockTooLargeError, ContentUnavailableError, IntegrityError


class EmbeddedStore:
    """A folder of raw blocks named by CID."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blocks").mkdir(parents=True, exist_ok=True)

    def _path(self, cid: str) -> Path:
        if not cid.isalnum():
            raise CidError(f"not a CID: {cid!r}")
        return self.root / "blocks" / cid[-2:] / cid

    def put(self, data: bytes) -> str:
        """Stores a block and returns its CID."""
        if len(data) > MAX_BLOCK_SIZE:
            raise BlockTooLargeError(f"{len(data)} bytes is more than one raw block ({MAX_BLOCK_SIZE} bytes)")
        cid = raw_cid(data)
        path = self._path(cid)
        if path.exists():
            return cid
        write_atomically(path, data)
        return cid

    def get(self, cid: str) -> bytes:
        """The block a CID names, in any multibase spelling.

        Raises:
            CidError: the text is not a raw CIDv1.
            ContentUnavailableError: the block is not here.
            IntegrityError: the file on disk no longer matches its CID.
        """
        try:
            data = self._path(_canonical(cid)).read_bytes()
        except FileNotFoundError:
            raise ContentUnavailableError(f"no block {cid} in {self.root}") from None
        if not verify_block(cid, data):
            raise IntegrityError(f"the stored block {cid} does not match its CID")
        return data

    def has(self, cid: str) -> bool:
        """Whether the block is here."""
        return self._path(_canonical(cid)).exists()


def _canonical(cid: str) -> str:
    """The base32 spelling of a raw CIDv1 (the one files are named by)."""
    return cid_from_digest(digest_from_cid(cid))
