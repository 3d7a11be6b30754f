"""CIDs computed locally must be the ones IPFS and the certificate contract use."""

from __future__ import annotations

import hashlib

import pytest

from tracemark.ipfs import CidError, cid_from_digest, digest_from_cid, raw_cid
from tracemark.ipfs.cid import same_cid, verify_block

# Golden vectors: CIDv1 raw sha2-256 in base32, as js-ipfs 0.18 answered for `add --cid-version 1 --raw-leaves`.
VECTORS = {
    b"hello tracemark": "bafkreibprssg2nahll3bnqtxflpufvzwr4koedbutexc56qfiebmpc5doq",
    b"abc" * 100: "bafkreigz6wxla2v6xm56h44k33e2fy5ziiunkimtx2jd5nhcjsnvn3qjga",
    b"": "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
}


@pytest.mark.parametrize(("data", "cid"), VECTORS.items())
def test_raw_cid_matches_ipfs(data: bytes, cid: str) -> None:
    assert raw_cid(data) == cid
    assert digest_from_cid(cid) == hashlib.sha256(data).digest()
    assert cid_from_digest(hashlib.sha256(data).digest()) == cid


def test_other_multibase_spellings_name_the_same_block() -> None:
    base58 = "zb2rhZqtjrwjJqfraJTFumTJCLgTMnTs3AqYgD8PruoENyr4s"  # js-ipfs's default spelling
    assert same_cid(base58, VECTORS[b"hello tracemark"])
    assert digest_from_cid(base58) == hashlib.sha256(b"hello tracemark").digest()
    assert not same_cid(base58, VECTORS[b""])
    assert not same_cid("garbage", VECTORS[b""])


@pytest.mark.parametrize(
    "text",
    [
        "not a cid",
        "",
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0 (dag-pb)
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # CIDv1 dag-pb
    ],
)
def test_anything_but_a_raw_cidv1_is_refused(text: str) -> None:
    with pytest.raises(CidError):
        digest_from_cid(text)


def test_digest_must_be_32_bytes() -> None:
    with pytest.raises(CidError, match="32 bytes"):
        cid_from_digest(b"\x00" * 31)


def test_verify_block_detects_other_bytes() -> None:
    cid = raw_cid(b"original")
    assert verify_block(cid, b"original")
    assert not verify_block(cid, b"tampered")
