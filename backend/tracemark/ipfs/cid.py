"""CIDv1 of raw blocks (codec `raw`, multihash sha2-256), written in base32 as the contract writes them.

A CIDv1 is `<version 0x01><codec><multihash>`; for Tracemark the codec is `raw` (0x55) and the multihash is
`0x12 0x20 <32-byte SHA-256>`, and the text form is multibase base32 (prefix `b`). Such a CID names the bytes
themselves, which is why the certificate contract can store only the 32-byte digest and still answer `tokenURI`.
"""

from __future__ import annotations

import hashlib

from multiformats import CID, multihash

MAX_BLOCK_SIZE = 256 * 1024
"""IPFS adds files up to this size as a single raw block (with raw leaves); larger ones become a DAG."""


class CidError(ValueError):
    """A string is not a CIDv1 of a raw sha2-256 block."""


def raw_cid(data: bytes) -> str:
    """The CIDv1 (raw, sha2-256, base32) of a block of bytes."""
    return str(CID("base32", 1, "raw", multihash.digest(data, "sha2-256")))


def cid_from_digest(digest: bytes) -> str:
    """The CIDv1 (raw, sha2-256, base32) of the block whose SHA-256 digest is `digest`.

    Raises:
        CidError: when the digest is not 32 bytes long.
    """
    if len(digest) != 32:
        raise CidError(f"a SHA-256 digest has 32 bytes, not {len(digest)}")
    return str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))


def digest_from_cid(cid: str) -> bytes:
    """The SHA-256 digest a raw CIDv1 names, whatever multibase the CID is written in.

    Raises:
        CidError: when the text is not a CIDv1 of a raw block hashed with sha2-256.
    """
    try:
        parsed = CID.decode(cid)
    except Exception as exc:  # multiformats raises several error types for malformed text
        raise CidError(f"not a CID: {cid!r}") from exc
    if parsed.version != 1 or parsed.codec.name != "raw" or parsed.hashfun.name != "sha2-256":
        raise CidError(
            f"{cid} is not a CIDv1 of a raw sha2-256 block (it is {parsed.codec.name}, {parsed.hashfun.name})"
        )
    return bytes(parsed.raw_digest)


def same_cid(a: str, b: str) -> bool:
    """Whether two CID strings name the same content (they may be written in different multibases)."""
    try:
        return bool(CID.decode(a) == CID.decode(b))
    except Exception:
        return False


def verify_block(cid: str, data: bytes) -> bool:
    """Whether `data` is the block `cid` names."""
    return hashlib.sha256(data).digest() == digest_from_cid(cid)
