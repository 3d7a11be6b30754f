"""ImageCertificate: the holder replaces a certificate's metadata with a verifier's attestation (EIP-4906)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from multiformats import CID, multihash

from tests.contracts.signing import MetadataRevision, metadata_revision_digest, recover
from tests.contracts.support import HOUR, ZERO32, as_bytes, reverts, unique_bytes32


@pytest.fixture
def revision_for(chain):
    def build(token_id: int, **overrides) -> MetadataRevision:
        fields = {
            "token_id": token_id,
            "metadata_digest": unique_bytes32("new metadata"),
            "nonce": int.from_bytes(unique_bytes32("revision nonce")[:8], "big"),
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        return MetadataRevision(**fields)

    return build


@pytest.fixture
def token_id(creator, register):
    return register(creator)


def test_holder_replaces_the_metadata(certificate, creator, verifier, token_id, revision_for, attest, event_args):
    previous = as_bytes(certificate.metadataDigest(token_id))
    new_digest = hashlib.sha256(b'{"name": "revised"}').digest()
    revision = revision_for(token_id, metadata_digest=new_digest)

    receipt = certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=creator)

    assert as_bytes(certificate.metadataDigest(token_id)) == new_digest
    assert certificate.tokenURI(token_id) == "ipfs://" + str(
        CID("base32", 1, "raw", multihash.wrap(new_digest, "sha2-256"))
    )
    assert certificate.isNonceUsed(revision.nonce) is True
    assert [log.event_name for log in receipt.events] == [
        "AttestationNonceUsed", "CertificateMetadataReplaced", "MetadataUpdate",
    ]
    assert event_args(receipt, certificate.CertificateMetadataReplaced) == [{
        "tokenId": token_id,
        "previousDigest": previous,
        "metadataDigest": new_digest,
        "verifier": verifier.address,
    }]
    assert event_args(receipt, certificate.MetadataUpdate) == [{"_tokenId": token_id}]
    assert event_args(receipt, certificate.AttestationNonceUsed) == [{"nonce": revision.nonce}]
    # Nothing else about the certificate changes.
    assert certificate.ownerOf(token_id) == creator.address
    assert certificate.registrationOf(token_id).creator == creator.address


def test_metadata_can_be_replaced_again(certificate, creator, token_id, revision_for, attest, event_args):
    first, second = revision_for(token_id), revision_for(token_id)
    certificate.replaceMetadata(first.as_tuple(), attest(first).to_bytes(), sender=creator)
    receipt = certificate.replaceMetadata(second.as_tuple(), attest(second).to_bytes(), sender=creator)
    replaced = event_args(receipt, certificate.CertificateMetadataReplaced)[0]
    assert (replaced["previousDigest"], replaced["metadataDigest"]) == (first.metadata_digest, second.metadata_digest)


def test_a_new_holder_may_replace_the_metadata(certificate, creator, buyer, token_id, revision_for, attest):
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    revision = revision_for(token_id)
    certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=buyer)
    assert as_bytes(certificate.metadataDigest(token_id)) == revision.metadata_digest


def test_only_the_holder_replaces_the_metadata(certificate, creator, buyer, relayer, token_id, revision_for, attest):
    revision = revision_for(token_id)
    signature = attest(revision).to_bytes()
    with reverts(certificate.CertificateNotHolder, tokenId=token_id, caller=relayer, holder=creator):
        certificate.replaceMetadata(revision.as_tuple(), signature, sender=relayer)
    # Not the creator either, once the certificate has changed hands.
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    with reverts(certificate.CertificateNotHolder, tokenId=token_id, caller=creator, holder=buyer):
        certificate.replaceMetadata(revision.as_tuple(), signature, sender=creator)


def test_unknown_certificate(certificate, creator, revision_for, attest):
    unknown = int.from_bytes(unique_bytes32("unknown"), "big")
    revision = revision_for(unknown)
    with reverts(certificate.ERC721NonexistentToken, tokenId=unknown):
        certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=creator)


def test_expired_revision_is_refused(chain, certificate, creator, token_id, revision_for, attest):
    now = chain.pending_timestamp + 10
    revision = revision_for(token_id, deadline=now - 1)
    chain.pending_timestamp = now
    with reverts(certificate.CertificateAttestationExpired, deadline=now - 1, timestamp=now):
        certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=creator)


def test_empty_metadata_is_refused(certificate, creator, token_id, revision_for, attest):
    revision = revision_for(token_id, metadata_digest=ZERO32)
    with reverts(certificate.CertificateInvalidRegistration):
        certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=creator)


def test_revision_signed_by_a_non_verifier_is_refused(certificate, creator, token_id, revision_for, attest):
    # The holder cannot attest its own metadata.
    revision = revision_for(token_id)
    with reverts(certificate.CertificateInvalidAttestation, recoveredSigner=creator):
        certificate.replaceMetadata(revision.as_tuple(), attest(revision, signer=creator).to_bytes(), sender=creator)


def test_revision_is_bound_to_its_certificate(certificate, certificate_eip712, creator, register, token_id,
                                              revision_for, attest):
    other = register(creator)
    revision = revision_for(token_id)
    signature = attest(revision)
    moved = dataclasses.replace(revision, token_id=other)
    recovered = recover(metadata_revision_digest(certificate_eip712, moved), signature)
    with reverts(certificate.CertificateInvalidAttestation, recoveredSigner=recovered):
        certificate.replaceMetadata(moved.as_tuple(), signature.to_bytes(), sender=creator)


def test_revision_is_used_once(certificate, creator, token_id, revision_for, attest):
    revision = revision_for(token_id)
    signature = attest(revision).to_bytes()
    certificate.replaceMetadata(revision.as_tuple(), signature, sender=creator)
    with reverts(certificate.CertificateNonceUsed, nonce=revision.nonce):
        certificate.replaceMetadata(revision.as_tuple(), signature, sender=creator)


def test_revoked_revision_is_refused(certificate, creator, verifier, token_id, revision_for, attest, event_args):
    revision = revision_for(token_id)
    revoked = certificate.revokeAttestation(revision.nonce, sender=verifier)
    assert event_args(revoked, certificate.AttestationNonceUsed) == [{"nonce": revision.nonce}]
    with reverts(certificate.CertificateNonceUsed, nonce=revision.nonce):
        certificate.replaceMetadata(revision.as_tuple(), attest(revision).to_bytes(), sender=creator)
    assert as_bytes(certificate.metadataDigest(token_id)) != revision.metadata_digest
