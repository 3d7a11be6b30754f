"""The signature replay matrix: every signed message the contracts accept must be refused when it is reused,
made for another chain or another deployment, expired, signed by an account without the role, given in its
malleable high-s form, or malformed.

Covers registration attestations, metadata revisions and settlement quotes (65-byte EIP-712 signatures), and
EIP-2612 permits (v, r, s) on CPY itself and through `buyLicenceWithPermit` and `settleClaimWithPermit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from tests.contracts.signing import (
    SECP256K1_N,
    Domain,
    MetadataRevision,
    Permit,
    SettlementQuote,
    Signature,
    metadata_revision_digest,
    permit_digest,
    quote_digest,
    recover,
    registration_digest,
    sign_metadata_revision,
    sign_permit,
    sign_quote,
    sign_registration,
)
from tests.contracts.support import (
    ADMIN_DELAY,
    CPY_SUPPLY,
    FEE_BPS,
    HOUR,
    ONE_CPY,
    UINT256_MAX,
    WEB,
    reverts,
    unique_bytes32,
)

OTHER_CHAIN_ID = 1
PRICE = 40 * ONE_CPY
TERM = 30 * 24 * HOUR  # the licence duration of the offer the permit buys
AMOUNT = 250 * ONE_CPY


# --- EIP-712 messages with a `bytes` signature -------------------------------------------------------------------


@dataclasses.dataclass
class TypedScheme:
    """How to build, sign and submit one kind of typed message, and what the contract answers."""

    contract: Any  # the contract that verifies the signature
    domain: Domain
    signer: Any  # the account holding the role
    build: Callable[..., Any]  # fresh message, with field overrides
    sign_with: Callable[[Any, Domain, Any], Signature]
    digest_of: Callable[[Domain, Any], bytes]
    submit: Callable[[Any, bytes], Any]
    invalid_signer_error: str
    reused: Callable[[Any], AbstractContextManager[None]]
    expired_error: str
    deploy_other: Callable[[], Any]  # a second deployment of the same contract, role granted
    submit_to: Callable[[Any, Any, bytes], Any] | None = None  # submits to another deployment (positive control)

    def sign(self, message: Any, signer: Any = None, domain: Domain | None = None) -> Signature:
        return self.sign_with((signer or self.signer).private_key, domain or self.domain, message)

    def invalid_signer(self, recovered: str) -> AbstractContextManager[None]:
        return reverts(getattr(self.contract, self.invalid_signer_error), recoveredSigner=recovered)


@pytest.fixture
def registration_scheme(project, admin, certificate, certificate_eip712, verifier, creator, relayer,
                        make_registration) -> TypedScheme:
    def deploy_other() -> Any:
        other = admin.deploy(project.ImageCertificate, ADMIN_DELAY, admin)
        other.grantRole(other.VERIFIER_ROLE(), verifier, sender=admin)
        return other

    return TypedScheme(
        contract=certificate,
        domain=certificate_eip712,
        signer=verifier,
        build=lambda **overrides: make_registration(creator, **overrides),
        sign_with=sign_registration,
        digest_of=registration_digest,
        submit=lambda message, signature: certificate.register(message.as_tuple(), signature, sender=relayer),
        invalid_signer_error="CertificateInvalidAttestation",
        reused=lambda message: reverts(certificate.CertificateAlreadyRegistered, contentHash=message.content_hash,
                                       holder=creator),
        expired_error="CertificateAttestationExpired",
        deploy_other=deploy_other,
        submit_to=lambda other, message, signature: other.register(message.as_tuple(), signature, sender=relayer),
    )


@pytest.fixture
def revision_scheme(project, chain, admin, certificate, certificate_eip712, verifier, creator,
                    register) -> TypedScheme:
    token_id = register(creator)

    def build(**overrides: Any) -> MetadataRevision:
        fields = {
            "token_id": token_id,
            "metadata_digest": unique_bytes32("metadata"),
            "nonce": int.from_bytes(unique_bytes32("nonce")[:8], "big"),
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        return MetadataRevision(**fields)

    def deploy_other() -> Any:
        other = admin.deploy(project.ImageCertificate, ADMIN_DELAY, admin)
        other.grantRole(other.VERIFIER_ROLE(), verifier, sender=admin)
        return other

    return TypedScheme(
        contract=certificate,
        domain=certificate_eip712,
        signer=verifier,
        build=build,
        sign_with=sign_metadata_revision,
        digest_of=metadata_revision_digest,
        submit=lambda message, signature: certificate.replaceMetadata(message.as_tuple(), signature, sender=creator),
        invalid_signer_error="CertificateInvalidAttestation",
        reused=lambda message: reverts(certificate.CertificateNonceUsed, nonce=message.nonce),
        expired_error="CertificateAttestationExpired",
        deploy_other=deploy_other,
    )


@pytest.fixture
def quote_scheme(project, chain, admin, cpy, certificate, market, market_eip712, treasury, settlement_signer,
                 creator, infringer, register) -> TypedScheme:
    token_id = register(creator)
    cpy.approve(market, UINT256_MAX, sender=infringer)

    def build(**overrides: Any) -> SettlementQuote:
        fields = {
            "case_id": unique_bytes32("case"),
            "certificate_id": token_id,
            "payer": infringer.address,
            "amount": AMOUNT,
            "holder_share_bps": 7000,
            "kind": WEB,
            "licence_duration": 0,
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        return SettlementQuote(**fields)

    def deploy_other() -> Any:
        other = admin.deploy(project.LicenseMarket, cpy, certificate, treasury, FEE_BPS, ADMIN_DELAY, admin)
        other.grantRole(other.SETTLEMENT_ROLE(), settlement_signer, sender=admin)
        cpy.approve(other, UINT256_MAX, sender=infringer)
        return other

    return TypedScheme(
        contract=market,
        domain=market_eip712,
        signer=settlement_signer,
        build=build,
        sign_with=sign_quote,
        digest_of=quote_digest,
        submit=lambda message, signature: market.settleClaim(message.as_tuple(), signature, sender=infringer),
        invalid_signer_error="LicenseMarketInvalidQuoteSigner",
        reused=lambda message: reverts(market.LicenseMarketCaseSettled, caseId=message.case_id),
        expired_error="LicenseMarketQuoteExpired",
        deploy_other=deploy_other,
        submit_to=lambda other, message, signature: other.settleClaim(message.as_tuple(), signature,
                                                                      sender=infringer),
    )


TYPED = ["registration", "metadata revision", "settlement quote"]


@pytest.fixture(params=TYPED)
def scheme(request, registration_scheme, revision_scheme, quote_scheme) -> TypedScheme:
    return {"registration": registration_scheme, "metadata revision": revision_scheme,
            "settlement quote": quote_scheme}[request.param]


def test_valid_signature_is_accepted(scheme):
    # The control: every case below changes exactly one thing about a message that would go through.
    message = scheme.build()
    scheme.submit(message, scheme.sign(message).to_bytes())


def test_reused_signature(scheme):
    message = scheme.build()
    signature = scheme.sign(message).to_bytes()
    scheme.submit(message, signature)
    with scheme.reused(message):
        scheme.submit(message, signature)


def test_signature_for_another_chain(scheme):
    message = scheme.build()
    signature = scheme.sign(message, domain=scheme.domain.with_chain_id(OTHER_CHAIN_ID))
    recovered = recover(scheme.digest_of(scheme.domain, message), signature)
    assert recovered != scheme.signer.address
    with scheme.invalid_signer(recovered):
        scheme.submit(message, signature.to_bytes())


def test_signature_for_another_deployment(scheme):
    other = scheme.deploy_other()
    message = scheme.build()
    signature = scheme.sign(message, domain=scheme.domain.with_contract(other.address))
    recovered = recover(scheme.digest_of(scheme.domain, message), signature)
    with scheme.invalid_signer(recovered):
        scheme.submit(message, signature.to_bytes())
    if scheme.submit_to is not None:
        # The same signature is good on the deployment it was made for.
        scheme.submit_to(other, message, signature.to_bytes())


def test_expired_signature(chain, scheme):
    now = chain.pending_timestamp + 10
    message = scheme.build(deadline=now - 1)
    signature = scheme.sign(message).to_bytes()
    chain.pending_timestamp = now
    with reverts(getattr(scheme.contract, scheme.expired_error), deadline=now - 1, timestamp=now):
        scheme.submit(message, signature)


def test_signer_without_the_role(scheme, stranger):
    message = scheme.build()
    with scheme.invalid_signer(stranger.address):
        scheme.submit(message, scheme.sign(message, signer=stranger).to_bytes())


def test_high_s_signature(scheme):
    message = scheme.build()
    twin = scheme.sign(message).high_s()
    # The twin is a valid ECDSA signature of the same signer; only the low-s rule refuses it.
    assert recover(scheme.digest_of(scheme.domain, message), twin) == scheme.signer.address
    assert twin.s > SECP256K1_N // 2
    with reverts(scheme.contract.ECDSAInvalidSignatureS, s=twin.s_bytes):
        scheme.submit(message, twin.to_bytes())


@pytest.mark.parametrize("form", ["compact 64 bytes", "extra byte", "empty", "truncated"])
def test_malformed_signature_length(scheme, form):
    message = scheme.build()
    signature = scheme.sign(message)
    encoded = {
        # EIP-2098 compact form (r, yParity|s) of the same signature: refused, only 65 bytes are read.
        "compact 64 bytes": signature.r_bytes + ((signature.v - 27) << 255 | signature.s).to_bytes(32, "big"),
        "extra byte": signature.to_bytes() + b"\x00",
        "empty": b"",
        "truncated": signature.to_bytes()[:33],
    }[form]
    with reverts(scheme.contract.ECDSAInvalidSignatureLength, length=len(encoded)):
        scheme.submit(message, encoded)


@pytest.mark.parametrize("v", [0, 1, 26, 29])
def test_signature_with_an_invalid_v(scheme, v):
    message = scheme.build()
    signature = dataclasses.replace(scheme.sign(message), v=v)
    with reverts(scheme.contract.ECDSAInvalidSignature):
        scheme.submit(message, signature.to_bytes())


# --- EIP-2612 permits ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class PermitPath:
    """A way a permit reaches CPY: directly, or through one of the market's `...WithPermit` functions."""

    owner: Any
    spender: Any
    value: int
    submit: Callable[[Permit, Signature], Any]  # submits a fresh operation paid with this permit
    used: Callable[[], bool]  # whether the last operation took effect


@pytest.fixture
def direct_path(cpy, buyer, relayer) -> PermitPath:
    def submit(permit: Permit, signature: Signature) -> Any:
        return cpy.permit(permit.owner, permit.spender, permit.value, permit.deadline, signature.v,
                          signature.r_bytes, signature.s_bytes, sender=relayer)

    return PermitPath(buyer, relayer, 5 * ONE_CPY, submit, lambda: cpy.allowance(buyer, relayer) == 5 * ONE_CPY)


@pytest.fixture
def buy_path(market, creator, buyer, register) -> PermitPath:
    token_id = register(creator)
    market.setOffer(token_id, WEB, PRICE, TERM, sender=creator)

    def submit(permit: Permit, signature: Signature) -> Any:
        return market.buyLicenceWithPermit(token_id, WEB, buyer, PRICE, TERM, permit.deadline, signature.v,
                                           signature.r_bytes, signature.s_bytes, sender=buyer)

    return PermitPath(buyer, market, PRICE, submit, lambda: market.isLicensed(token_id, buyer, WEB))


@pytest.fixture
def settle_path(market, creator, infringer, register, quote_for) -> PermitPath:
    token_id = register(creator)
    settled: list[bytes] = []

    def submit(permit: Permit, signature: Signature) -> Any:
        quote, quote_signature = quote_for(token_id, infringer, amount=AMOUNT)
        settled.append(quote.case_id)
        return market.settleClaimWithPermit(quote.as_tuple(), quote_signature.to_bytes(), permit.deadline,
                                            signature.v, signature.r_bytes, signature.s_bytes, sender=infringer)

    return PermitPath(infringer, market, AMOUNT, submit, lambda: market.isSettled(settled[-1]))


PATHS = ["permit", "buyLicenceWithPermit", "settleClaimWithPermit"]


@pytest.fixture(params=PATHS)
def path(request, direct_path, buy_path, settle_path) -> PermitPath:
    return {"permit": direct_path, "buyLicenceWithPermit": buy_path,
            "settleClaimWithPermit": settle_path}[request.param]


@pytest.fixture
def make_permit(chain, cpy, cpy_eip712) -> Callable[..., tuple[Permit, Signature]]:
    def build(path: PermitPath, signer: Any = None, domain: Domain | None = None,
              **overrides: Any) -> tuple[Permit, Signature]:
        fields = {
            "owner": path.owner.address,
            "spender": path.spender.address,
            "value": path.value,
            "nonce": cpy.nonces(path.owner),
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        permit = Permit(**fields)
        return permit, sign_permit((signer or path.owner).private_key, domain or cpy_eip712, permit)

    return build


def test_valid_permit_is_accepted(cpy, path, make_permit):
    permit, signature = make_permit(path)
    path.submit(permit, signature)
    assert path.used()
    assert cpy.nonces(path.owner) == 1


def test_replayed_permit(cpy, cpy_eip712, path, make_permit):
    permit, signature = make_permit(path)
    path.submit(permit, signature)
    # The nonce moved on, so the old signature now recovers to some unrelated address.
    recovered = recover(permit_digest(cpy_eip712, dataclasses.replace(permit, nonce=permit.nonce + 1)), signature)
    with reverts(cpy.ERC2612InvalidSigner, signer=recovered, owner=path.owner):
        path.submit(permit, signature)


@pytest.mark.parametrize("path_name", ["buyLicenceWithPermit", "settleClaimWithPermit"])
def test_front_run_permit_still_lets_the_operation_through(cpy, buy_path, settle_path, relayer, make_permit,
                                                           path_name):
    path = buy_path if path_name == "buyLicenceWithPermit" else settle_path
    permit, signature = make_permit(path)
    # Someone copies the permit from the pending transaction and submits it first. The market's own permit call
    # then fails, but the allowance it was meant to create is there, so the operation goes through.
    cpy.permit(permit.owner, permit.spender, permit.value, permit.deadline, signature.v, signature.r_bytes,
               signature.s_bytes, sender=relayer)
    path.submit(permit, signature)
    assert path.used()
    assert cpy.allowance(path.owner, path.spender) == 0


def test_permit_for_another_chain(cpy, cpy_eip712, path, make_permit):
    permit, signature = make_permit(path, domain=cpy_eip712.with_chain_id(OTHER_CHAIN_ID))
    recovered = recover(permit_digest(cpy_eip712, permit), signature)
    with reverts(cpy.ERC2612InvalidSigner, signer=recovered, owner=path.owner):
        path.submit(permit, signature)


def test_permit_for_another_token(project, admin, treasury, cpy, cpy_eip712, path, make_permit):
    other = admin.deploy(project.CPYToken, treasury, CPY_SUPPLY)
    permit, signature = make_permit(path, domain=cpy_eip712.with_contract(other.address))
    recovered = recover(permit_digest(cpy_eip712, permit), signature)
    with reverts(cpy.ERC2612InvalidSigner, signer=recovered, owner=path.owner):
        path.submit(permit, signature)
    # The same permit is good on the token it was made for.
    other.permit(permit.owner, permit.spender, permit.value, permit.deadline, signature.v, signature.r_bytes,
                 signature.s_bytes, sender=admin)
    assert other.allowance(permit.owner, permit.spender) == permit.value


def test_expired_permit(chain, cpy, path, make_permit):
    now = chain.pending_timestamp + 10
    permit, signature = make_permit(path, deadline=now - 1)
    chain.pending_timestamp = now
    with reverts(cpy.ERC2612ExpiredSignature, deadline=now - 1):
        path.submit(permit, signature)


def test_permit_signed_by_someone_else(cpy, path, stranger, make_permit):
    permit, signature = make_permit(path, signer=stranger)
    with reverts(cpy.ERC2612InvalidSigner, signer=stranger, owner=path.owner):
        path.submit(permit, signature)


def test_high_s_permit(cpy, cpy_eip712, path, make_permit):
    permit, signature = make_permit(path)
    twin = signature.high_s()
    assert recover(permit_digest(cpy_eip712, permit), twin) == path.owner.address
    with reverts(cpy.ECDSAInvalidSignatureS, s=twin.s_bytes):
        path.submit(permit, twin)


@pytest.mark.parametrize("change", ["v=0", "v=29", "r=0"])
def test_malformed_permit_signature(cpy, path, make_permit, change):
    permit, signature = make_permit(path)
    malformed = {
        "v=0": dataclasses.replace(signature, v=0),
        "v=29": dataclasses.replace(signature, v=29),
        "r=0": dataclasses.replace(signature, r=0),
    }[change]
    with reverts(cpy.ECDSAInvalidSignature):
        path.submit(permit, malformed)
