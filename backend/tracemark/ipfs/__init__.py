"""Content addressing: CIDs computed locally, an IPFS daemon adapter, and an embedded store.

Everything Tracemark puts on IPFS (metadata JSON, previews) is one raw block of at most 256 KiB, so its address is
`CIDv1(raw, sha2-256(bytes))`, exactly what the certificate contract derives from the digest it stores. Every
stored or fetched block is checked against that independent computation.
"""

from tracemark.ipfs.cid import (
    MAX_BLOCK_SIZE,
    CidError,
    cid_from_digest,
    digest_from_cid,
    raw_cid,
)
from tracemark.ipfs.store import BlockTooLargeError, ContentStore, ContentUnavailableError, IntegrityError

__all__ = [
    "MAX_BLOCK_SIZE",
    "BlockTooLargeError",
    "CidError",
    "ContentStore",
    "ContentUnavailableError",
    "IntegrityError",
    "cid_from_digest",
    "digest_from_cid",
    "raw_cid",
]
