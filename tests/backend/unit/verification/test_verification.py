"""The verification service over an in-memory chain and a real embedded store: every verdict and its reasons."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.backend.unit.verification.images import astronaut_png, chelsea_jpeg, coffee_png, encode
from tracemark.chain.certificate_reader import ChainCertificate
from tracemark.chain.node import ChainUnavailableError
from tracemark.domain.metadata import CertificateMetadata
from tracemark.domain.registration import AuditReport
from tracemark.ipfs import ContentUnavailableError, IntegrityError, cid_from_digest, raw_cid
from tracemark.ipfs.embedded import EmbeddedStore
from tracemark.services.publication import Publication, publish_certificate
from tracemark.services.verification import (
    CheckStatus,
    Verdict,
    VerificationResult,
    content_hash_of_reference,
    verify_image,
)

CREATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BUYER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


class FakeChain:
    """The certificate contract as a dict: content hash -> certificate."""

    rpc_url = "memory://chain"
    address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    def __init__(self) -> None:
        self.certificates: dict[bytes, ChainCertificate] = {}
        self.down = False

    def chain_id(self) -> int:
        if self.down:
            raise ChainUnavailableError("no answer from memory://chain")
        return 31337

    def read(self, content_hash: bytes) -> ChainCertificate | None:
        if self.down:
            raise ChainUnavailableError("no answer from memory://chain")
        return self.certificates.get(content_hash)

    def register(self, publication: Publication, *, digest: bytes | None = None, holder: str = CREATOR,
                 **changes: Any) -> ChainCertificate:
        digest = digest or publication.metadata_digest
        token = int.from_bytes(publication.content_hash, "big")
        certificate = ChainCertificate(
            token_id=token, holder=holder, creator=CREATOR, holding=0, disputed=False, registered_at=1_767_225_600,
            metadata_digest=digest, token_uri=f"ipfs://{cid_from_digest(digest)}", registered_block=7,
            registered_tx="0x" + "aa" * 32, registered_fingerprint=publication.fingerprint, holder_since_block=7,
            read_block=9,
        )
        certificate = dataclasses.replace(certificate, **changes)
        self.certificates[publication.content_hash] = certificate
        return certificate


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


def publish(store: EmbeddedStore, original: bytes) -> Publication:
    return publish_certificate(store, original, title="Astronaut", creator_name="Jane Doe", holder=CREATOR,
                               audit=AuditReport(()))


def checks(result: VerificationResult) -> dict[str, CheckStatus]:
    return {c.name: c.status for c in result.checks}


def failures(result: VerificationResult) -> str:
    return " | ".join(c.detail for c in result.checks if c.status is CheckStatus.FAIL)


def pin_document(store: EmbeddedStore, metadata: CertificateMetadata) -> bytes:
    """Pins a metadata document and returns its digest."""
    document = metadata.encode()
    store.put(document)
    return hashlib.sha256(document).digest()


def test_a_registered_image_verifies(store: EmbeddedStore, chain: FakeChain) -> None:
    original = astronaut_png()
    publication = publish(store, original)
    chain.register(publication)

    result = verify_image(original, chain, [store])

    assert result.verdict is Verdict.VERIFIED, result.summary
    assert result.summary.startswith("VERIFIED") and "Jane Doe" in result.summary
    assert result.certificate is not None and result.metadata is not None
    assert result.certificate.id == str(int.from_bytes(publication.content_hash, "big"))
    assert result.certificate.holder == CREATOR and result.certificate.registered_block == 7
    assert result.certificate.registered_at.isoformat() == "2026-01-01T00:00:00+00:00"
    assert result.metadata.cid == publication.metadata_cid and result.metadata.title == "Astronaut"
    assert result.file_sha256 == publication.content_hash.hex()
    statuses = checks(result)
    assert all(s is CheckStatus.PASS for s in statuses.values()), result.checks
    assert {"certificate", "token_uri", "metadata_digest", "metadata_sha256", "creator", "iscc",
            "chain_fingerprint"} <= set(statuses)
    assert any(name.startswith("fingerprint:dct256.v") for name in statuses)
    assert result.sources.chain_id == 31337 and result.sources.read_block == 9
    assert json.loads(result.model_dump_json())["verdict"] == "verified"


def test_an_unregistered_image_says_so(store: EmbeddedStore, chain: FakeChain) -> None:
    chain.register(publish(store, astronaut_png()))
    result = verify_image(coffee_png(), chain, [store])
    assert result.verdict is Verdict.NOT_REGISTERED
    assert result.summary.startswith("NOT REGISTERED") and "--match" in result.summary
    assert result.certificate is None


def test_a_copy_that_is_not_byte_identical_is_not_registered(store: EmbeddedStore, chain: FakeChain) -> None:
    from skimage import data as photos

    chain.register(publish(store, astronaut_png()))
    recompressed = encode(photos.astronaut(), "JPEG", quality=90)
    assert verify_image(recompressed, chain, [store]).verdict is Verdict.NOT_REGISTERED


def test_a_disputed_certificate_is_reported(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication, disputed=True)
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.DISPUTED and "disputed" in result.summary
    assert result.certificate is not None and result.certificate.disputed


def test_a_new_holder_is_shown(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication, holder=BUYER, holding=1, holder_since_block=12)
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.VERIFIED
    assert result.certificate is not None and result.certificate.holder == BUYER
    assert result.certificate.holder_since_block == 12 and result.certificate.creator == CREATOR


class ServesOtherBytes:
    """An IPFS source that returns a different document for every CID, without checking it."""

    def __init__(self, document: bytes) -> None:
        self.document = document

    def get(self, cid: str) -> bytes:
        return self.document


def test_a_different_document_served_under_the_cid_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication)
    forged = dataclasses.replace(publication.metadata, creator_name="Mallory").encode()
    result = verify_image(astronaut_png(), chain, [ServesOtherBytes(forged)])
    assert result.verdict is Verdict.FAILED
    assert checks(result)["metadata_digest"] is CheckStatus.FAIL
    assert "does not match the digest on chain" in result.summary and "altered or replaced" in result.summary


def test_a_store_that_detects_tampering_fails_too(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication)

    class Detects:
        def get(self, cid: str) -> bytes:
            raise IntegrityError(f"IPFS daemon returned bytes that do not match {cid}")

    result = verify_image(astronaut_png(), chain, [Detects()])
    assert result.verdict is Verdict.FAILED and "do not match" in result.summary


def test_one_honest_source_is_enough(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication)
    result = verify_image(astronaut_png(), chain, [ServesOtherBytes(b"{}"), store])
    assert result.verdict is Verdict.VERIFIED
    detail = next(c.detail for c in result.checks if c.name == "metadata_digest")
    assert "served other bytes" in detail, "the lying source is still named"


def test_metadata_describing_another_file_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    # The chain's digest names a genuine, intact document, but one that was made for another image.
    other = publish(store, chelsea_jpeg())
    publication = publish(store, astronaut_png())
    chain.register(publication, digest=other.metadata_digest)
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.FAILED
    assert checks(result)["metadata_digest"] is CheckStatus.PASS
    assert checks(result)["metadata_sha256"] is CheckStatus.FAIL
    assert "describes another file" in failures(result)


def test_fingerprints_that_do_not_match_the_image_fail(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    name, value = next(iter(publication.metadata.fingerprints.items()))
    wrong = dataclasses.replace(publication.metadata, fingerprints={name: "00" * 32}, iscc="ISCC:EEAZZZZZZZZZZZZZ")
    chain.register(publication, digest=pin_document(store, wrong))
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.FAILED
    statuses = checks(result)
    assert statuses[f"fingerprint:{name}"] is CheckStatus.FAIL and statuses["iscc"] is CheckStatus.FAIL
    assert statuses["chain_fingerprint"] is CheckStatus.FAIL, "the emitted fingerprint is not the metadata's"
    assert value in failures(result)


def test_a_fingerprint_of_another_engine_version_is_not_checked_rather_than_failed(
    store: EmbeddedStore, chain: FakeChain
) -> None:
    publication = publish(store, astronaut_png())
    (value,) = publication.metadata.fingerprints.values()
    older = dataclasses.replace(publication.metadata, fingerprints={"dct256.v1": value})
    chain.register(publication, digest=pin_document(store, older))
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.VERIFIED, failures(result)
    assert checks(result)["fingerprint:dct256.v1"] is CheckStatus.NOT_CHECKED
    assert checks(result)["iscc"] is CheckStatus.PASS


def test_another_creator_in_the_metadata_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    claimed = dataclasses.replace(publication.metadata, creator_address=BUYER)
    chain.register(publication, digest=pin_document(store, claimed))
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.FAILED and checks(result)["creator"] is CheckStatus.FAIL


def test_a_token_uri_that_does_not_name_the_digest_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication, token_uri=f"ipfs://{raw_cid(b'elsewhere')}")
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.FAILED and checks(result)["token_uri"] is CheckStatus.FAIL


def test_a_document_that_is_not_tracemark_metadata_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    junk = b'{"name": "not ours"}'
    store.put(junk)
    chain.register(publication, digest=hashlib.sha256(junk).digest())
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.FAILED and checks(result)["metadata_document"] is CheckStatus.FAIL


def test_an_unreachable_chain_or_ipfs_is_unavailable_not_a_verdict(tmp_path: Path, store: EmbeddedStore,
                                                                    chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    chain.register(publication)

    class Down:
        def get(self, cid: str) -> bytes:
            raise ContentUnavailableError("IPFS daemon at http://127.0.0.1:1 cannot be reached")

    result = verify_image(astronaut_png(), chain, [Down(), EmbeddedStore(tmp_path / "empty")])
    assert result.verdict is Verdict.UNAVAILABLE and checks(result)["metadata_digest"] is CheckStatus.NOT_CHECKED
    assert result.certificate is not None, "what the chain said is still shown"
    assert verify_image(astronaut_png(), chain, []).verdict is Verdict.UNAVAILABLE
    chain.down = True
    result = verify_image(astronaut_png(), chain, [store])
    assert result.verdict is Verdict.UNAVAILABLE and "could not be read" in result.summary


def test_a_registered_file_that_cannot_be_fingerprinted_fails(store: EmbeddedStore, chain: FakeChain) -> None:
    publication = publish(store, astronaut_png())
    not_an_image = b"%PDF-1.7 certainly not an image"
    doc = dataclasses.replace(publication.metadata, sha256=hashlib.sha256(not_an_image).hexdigest())
    forged = dataclasses.replace(publication, content_hash=hashlib.sha256(not_an_image).digest())
    chain.register(forged, digest=pin_document(store, doc))
    result = verify_image(not_an_image, chain, [store])
    assert result.verdict is Verdict.FAILED and "cannot be recomputed" in failures(result)


def test_reference_ids_that_name_a_content_hash() -> None:
    digest = hashlib.sha256(b"x").digest()
    assert content_hash_of_reference(digest.hex()) == digest
    assert content_hash_of_reference("0x" + digest.hex().upper()) == digest
    assert content_hash_of_reference(str(int.from_bytes(digest, "big"))) == digest
    for other in ("sunset", "", "0", str(2**256), "0x" + "ab" * 31):
        assert content_hash_of_reference(other) is None
