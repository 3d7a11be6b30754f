"""ImageCertificate: registering an image with a verifier's attestation, and what a certificate records."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from multiformats import CID, multihash

from tests.contracts.signing import (
    METADATA_REVISION_TYPES,
    REGISTRATION_TYPES,
    recover,
    registration_digest,
    type_hash,
)
from tests.contracts.support import (
    UINT64_MAX,
    ZERO32,
    ZERO_ADDRESS,
    as_bytes,
    block_timestamp,
    reverts,
    role_hash,
    unique_bytes32,
)


def ipfs_uri(digest: bytes) -> str:
    """`ipfs://` + the CIDv1 (raw codec, sha2-256) of a block with this SHA-256 digest, by `multiformats`."""
    return "ipfs://" + str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))


def test_constants(certificate):
    assert as_bytes(certificate.VERIFIER_ROLE()) == role_hash("VERIFIER_ROLE")
    assert as_bytes(certificate.DISPUTE_ROLE()) == role_hash("DISPUTE_ROLE")
    assert certificate.MAX_ROYALTY_BPS() == 2500
    assert as_bytes(certificate.REGISTRATION_TYPEHASH()) == type_hash(REGISTRATION_TYPES, "Registration")
    assert as_bytes(certificate.METADATA_REVISION_TYPEHASH()) == type_hash(METADATA_REVISION_TYPES, "MetadataRevision")
    assert certificate.name() == "Tracemark Image Certificate"
    assert certificate.symbol() == "TMIC"


def test_eip712_domain(chain, certificate):
    fields, name, version, chain_id, verifying_contract, _salt, _extensions = certificate.eip712Domain()
    assert bytes(fields) == b"\x0f"
    assert (name, version, chain_id, verifying_contract) == (
        "Tracemark ImageCertificate", "1", chain.chain_id, certificate.address,
    )


def test_relayer_registration_mints_to_the_creator(chain, certificate, creator, relayer, make_registration, attest,
                                                  event_args):
    registration = make_registration(creator, royalty_bps=750)
    signature = attest(registration).to_bytes()
    token_id = registration.token_id
    assert certificate.register.call(registration.as_tuple(), signature, sender=relayer) == token_id

    receipt = certificate.register(registration.as_tuple(), signature, sender=relayer)

    assert certificate.ownerOf(token_id) == creator.address
    assert certificate.balanceOf(creator) == 1
    assert certificate.balanceOf(relayer) == 0
    assert certificate.certificateOf(registration.content_hash) == token_id
    assert as_bytes(certificate.metadataDigest(token_id)) == registration.metadata_digest
    assert tuple(certificate.registrationOf(token_id)) == (creator.address, 750, block_timestamp(chain, receipt))
    assert tuple(certificate.standing(token_id)) == (creator.address, 0, False)
    assert certificate.isDisputed(token_id) is False
    assert [log.event_name for log in receipt.events] == ["CertificateRegistered", "Transfer"]
    assert event_args(receipt, certificate.CertificateRegistered) == [{
        "tokenId": token_id,
        "metadataDigest": registration.metadata_digest,
        "fingerprint": registration.fingerprint,
    }]
    assert event_args(receipt, certificate.Transfer) == [
        {"from": ZERO_ADDRESS, "to": creator.address, "tokenId": token_id}
    ]


def test_creator_may_submit_its_own_registration(certificate, creator, make_registration, attest):
    registration = make_registration(creator)
    certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=creator)
    assert certificate.ownerOf(registration.token_id) == creator.address


def test_token_id_is_the_content_hash(certificate, creator, register):
    content_hash = hashlib.sha256(b"the original image bytes").digest()
    token_id = register(creator, content_hash=content_hash)
    assert token_id == int.from_bytes(content_hash, "big")
    assert certificate.certificateOf(content_hash) == token_id


def test_certificate_of_an_unregistered_hash_is_zero(certificate, creator, register):
    register(creator)
    assert certificate.certificateOf(unique_bytes32("unregistered")) == 0
    assert certificate.certificateOf(ZERO32) == 0


def test_a_content_hash_registers_once(certificate, creator, buyer, relayer, make_registration, attest, register):
    content_hash = unique_bytes32("image")
    token_id = register(creator, content_hash=content_hash)
    # A second, valid attestation for the same image (another claimant, other metadata) is refused.
    second = make_registration(buyer, content_hash=content_hash)
    with reverts(certificate.CertificateAlreadyRegistered, contentHash=content_hash, holder=creator):
        certificate.register(second.as_tuple(), attest(second).to_bytes(), sender=relayer)
    # The error names the current holder.
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    with reverts(certificate.CertificateAlreadyRegistered, contentHash=content_hash, holder=buyer):
        certificate.register(second.as_tuple(), attest(second).to_bytes(), sender=relayer)
    assert certificate.ownerOf(token_id) == buyer.address


@pytest.mark.parametrize(
    "field", ["creator", "content_hash", "metadata_digest", "fingerprint", "royalty_bps", "nonce", "deadline"]
)
def test_changing_any_attested_field_breaks_the_signature(certificate, certificate_eip712, verifier, creator, relayer,
                                                          make_registration, attest, field):
    registration = make_registration(creator)
    signature = attest(registration)
    replacement = {
        "creator": relayer.address,  # a front-runner trying to mint to itself
        "content_hash": unique_bytes32("other"),
        "metadata_digest": unique_bytes32("other"),
        "fingerprint": unique_bytes32("other"),
        "royalty_bps": registration.royalty_bps + 1,
        "nonce": registration.nonce + 1,
        "deadline": registration.deadline + 1,
    }[field]
    tampered = dataclasses.replace(registration, **{field: replacement})
    recovered = recover(registration_digest(certificate_eip712, tampered), signature)
    assert recovered != verifier.address

    with reverts(certificate.CertificateInvalidAttestation, recoveredSigner=recovered):
        certificate.register(tampered.as_tuple(), signature.to_bytes(), sender=relayer)
    assert certificate.certificateOf(tampered.content_hash) == 0


def test_attestation_from_an_account_without_the_verifier_role_is_refused(certificate, admin, creator, relayer,
                                                                           make_registration, attest):
    # Even the admin does not attest authorship unless it holds the verifier role.
    registration = make_registration(creator)
    with reverts(certificate.CertificateInvalidAttestation, recoveredSigner=admin):
        certificate.register(registration.as_tuple(), attest(registration, signer=admin).to_bytes(), sender=relayer)


def test_attestations_of_a_revoked_verifier_are_refused(certificate, admin, verifier, creator, relayer,
                                                        make_registration, attest):
    registration = make_registration(creator)
    signature = attest(registration).to_bytes()
    certificate.revokeRole(certificate.VERIFIER_ROLE(), verifier, sender=admin)
    with reverts(certificate.CertificateInvalidAttestation, recoveredSigner=verifier):
        certificate.register(registration.as_tuple(), signature, sender=relayer)


def test_a_second_verifier_can_attest(certificate, admin, stranger, creator, relayer, make_registration, attest):
    certificate.grantRole(certificate.VERIFIER_ROLE(), stranger, sender=admin)
    registration = make_registration(creator)
    certificate.register(registration.as_tuple(), attest(registration, signer=stranger).to_bytes(), sender=relayer)
    assert certificate.ownerOf(registration.token_id) == creator.address


def test_expired_attestation_is_refused(chain, certificate, creator, relayer, make_registration, attest):
    now = chain.pending_timestamp + 10
    registration = make_registration(creator, deadline=now - 1)
    chain.pending_timestamp = now
    with reverts(certificate.CertificateAttestationExpired, deadline=now - 1, timestamp=now):
        certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)


def test_attestation_is_valid_up_to_and_including_its_deadline(chain, certificate, creator, relayer,
                                                               make_registration, attest):
    now = chain.pending_timestamp + 10
    registration = make_registration(creator, deadline=now)
    chain.pending_timestamp = now
    receipt = certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)
    assert block_timestamp(chain, receipt) == now
    assert certificate.ownerOf(registration.token_id) == creator.address


@pytest.mark.parametrize("field", ["creator", "content_hash", "metadata_digest"])
def test_registration_must_name_creator_content_and_metadata(certificate, creator, relayer, make_registration,
                                                             attest, field):
    registration = make_registration(creator)
    registration = dataclasses.replace(registration, **{field: ZERO_ADDRESS if field == "creator" else ZERO32})
    with reverts(certificate.CertificateInvalidRegistration):
        certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)


def test_royalty_above_the_cap_is_refused(certificate, creator, relayer, make_registration, attest):
    registration = make_registration(creator, royalty_bps=2501)
    with reverts(certificate.CertificateRoyaltyTooHigh, royaltyBps=2501, maxRoyaltyBps=2500):
        certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)


@pytest.mark.parametrize("royalty_bps", [0, 1, 2500])
def test_royalty_up_to_the_cap_is_recorded(certificate, creator, register, royalty_bps):
    token_id = register(creator, royalty_bps=royalty_bps)
    assert certificate.registrationOf(token_id).royaltyBps == royalty_bps
    assert tuple(certificate.royaltyInfo(token_id, 10_000)) == (creator.address, royalty_bps)


def test_registration_does_not_use_the_revision_nonces(certificate, verifier, creator, relayer, make_registration,
                                                       attest):
    # Nonces guard metadata revisions only; a registration is guarded by its content hash and its deadline.
    registration = make_registration(creator)
    certificate.revokeAttestation(registration.nonce, sender=verifier)
    receipt = certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=relayer)
    assert [log.event_name for log in receipt.events] == ["CertificateRegistered", "Transfer"]
    assert certificate.ownerOf(registration.token_id) == creator.address


def test_revoke_attestation_marks_the_nonce(certificate, verifier, event_args):
    assert certificate.isNonceUsed(1234) is False
    receipt = certificate.revokeAttestation(1234, sender=verifier)
    assert certificate.isNonceUsed(1234) is True
    assert event_args(receipt, certificate.AttestationNonceUsed) == [{"nonce": 1234}]
    with reverts(certificate.CertificateNonceUsed, nonce=1234):
        certificate.revokeAttestation(1234, sender=verifier)


def test_nonces_are_independent_bits(certificate, verifier):
    # Nonces share 256-bit words; revoking one must not touch its neighbours or the same bit of another word.
    for nonce in (0, 255, 256, 511, UINT64_MAX):
        certificate.revokeAttestation(nonce, sender=verifier)
    for nonce in (0, 255, 256, 511, UINT64_MAX):
        assert certificate.isNonceUsed(nonce) is True
    for nonce in (1, 254, 257, 512, 2**63, UINT64_MAX - 1, UINT64_MAX - 256):
        assert certificate.isNonceUsed(nonce) is False


def test_only_verifiers_revoke_attestations(certificate, dispute_agent, admin):
    for account in (dispute_agent, admin):
        with reverts(certificate.AccessControlUnauthorizedAccount, account=account,
                     neededRole=certificate.VERIFIER_ROLE()):
            certificate.revokeAttestation(7, sender=account)
    assert certificate.isNonceUsed(7) is False


@pytest.mark.parametrize(
    "digest",
    [
        hashlib.sha256(b"{}").digest(),
        hashlib.sha256(b'{"name": "astronaut"}').digest(),
        bytes(31) + b"\x01",  # every high bit zero
        bytes.fromhex("00" * 16 + "ff" * 16),
        bytes.fromhex("7f" + "ff" * 31),
        bytes.fromhex("80" + "00" * 31),
        b"\xff" * 32,
        bytes(range(32)),
        bytes.fromhex("a5" * 32),
    ],
    ids=lambda digest: digest.hex()[:8] + ".." + digest.hex()[-4:],
)
def test_token_uri_is_the_cidv1_of_the_metadata_digest(certificate, creator, register, digest):
    token_id = register(creator, metadata_digest=digest)
    uri = certificate.tokenURI(token_id)
    assert uri == ipfs_uri(digest)
    assert len(uri) == 66 and uri.startswith("ipfs://bafkrei")
    # And back: the URI names exactly this digest.
    assert CID.decode(uri.removeprefix("ipfs://")).raw_digest == digest


def test_views_of_an_unknown_certificate(certificate):
    token_id = int.from_bytes(unique_bytes32("unknown"), "big")
    for view in (certificate.tokenURI, certificate.metadataDigest, certificate.registrationOf,
                 certificate.isDisputed, certificate.ownerOf):
        with reverts(certificate.ERC721NonexistentToken, tokenId=token_id):
            view(token_id)
    assert tuple(certificate.standing(token_id)) == (ZERO_ADDRESS, 0, False)
    assert tuple(certificate.royaltyInfo(token_id, 10**18)) == (ZERO_ADDRESS, 0)


def test_a_reentering_creator_finds_the_registration_complete(project, certificate, admin, relayer,
                                                              make_registration, attest):
    # The mint's callback runs after every state change: registering the same image again from inside it fails
    # because the certificate already exists and belongs to the receiver.
    receiver = admin.deploy(project.ReentrantReceiverMock, certificate)
    registration = make_registration(receiver)
    signature = attest(registration).to_bytes()
    receiver.arm(certificate.register.encode_input(registration.as_tuple(), signature), sender=admin)
    with reverts(certificate.CertificateAlreadyRegistered, contentHash=registration.content_hash, holder=receiver):
        certificate.register(registration.as_tuple(), signature, sender=relayer)
    assert certificate.certificateOf(registration.content_hash) == 0


def test_a_creator_may_register_another_image_from_its_callback(project, certificate, admin, creator, relayer,
                                                                make_registration, attest, event_args):
    receiver = admin.deploy(project.ReentrantReceiverMock, certificate)
    inner = make_registration(creator)
    receiver.arm(certificate.register.encode_input(inner.as_tuple(), attest(inner).to_bytes()), sender=admin)
    outer = make_registration(receiver)
    receipt = certificate.register(outer.as_tuple(), attest(outer).to_bytes(), sender=relayer)
    assert certificate.ownerOf(outer.token_id) == receiver.address
    assert certificate.ownerOf(inner.token_id) == creator.address
    assert [args["tokenId"] for args in event_args(receipt, certificate.CertificateRegistered)] == [
        outer.token_id, inner.token_id,
    ]
