"""Role accounts, deployments and small helpers shared by the contract tests.

Ape snapshots the chain around every test (and every fixture scope), so the session-scoped deployments below are
deployed once and every test starts from the same state. Tests that need more than one state inside one test
function (hypothesis examples) use `chain.isolate()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.contracts.signing import (
    Domain,
    MetadataRevision,
    Permit,
    Registration,
    SettlementQuote,
    Signature,
    certificate_domain,
    cpy_domain,
    market_domain,
    sign_metadata_revision,
    sign_permit,
    sign_quote,
    sign_registration,
)
from tests.contracts.support import (
    ADMIN_DELAY,
    BUYER_FUNDS,
    CPY_SUPPLY,
    FEE_BPS,
    HOUR,
    ONE_CPY,
    WEB,
    address_of,
    unique_bytes32,
)

# --- accounts ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def admin(accounts):
    """Deploys everything and holds DEFAULT_ADMIN_ROLE."""
    return accounts[0]


@pytest.fixture(scope="session")
def verifier(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def settlement_signer(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def dispute_agent(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def anchorer(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def treasury(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def creator(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def buyer(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def relayer(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def infringer(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def stranger(accounts, admin):
    """An account with no role and no CPY (it has ether for gas)."""
    account = accounts.generate_test_account()
    admin.transfer(account, 10**20)
    return account


# --- deployments ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cpy(project, admin, treasury, buyer, infringer):
    token = admin.deploy(project.CPYToken, treasury, CPY_SUPPLY)
    token.transfer(buyer, BUYER_FUNDS, sender=treasury)
    token.transfer(infringer, BUYER_FUNDS, sender=treasury)
    return token


@pytest.fixture(scope="session")
def certificate(project, admin, verifier, dispute_agent):
    contract = admin.deploy(project.ImageCertificate, ADMIN_DELAY, admin)
    contract.grantRole(contract.VERIFIER_ROLE(), verifier, sender=admin)
    contract.grantRole(contract.DISPUTE_ROLE(), dispute_agent, sender=admin)
    return contract


@pytest.fixture(scope="session")
def market(project, admin, cpy, certificate, treasury, settlement_signer):
    contract = admin.deploy(project.LicenseMarket, cpy, certificate, treasury, FEE_BPS, ADMIN_DELAY, admin)
    contract.grantRole(contract.SETTLEMENT_ROLE(), settlement_signer, sender=admin)
    return contract


@pytest.fixture(scope="session")
def evidence_anchor(project, admin, anchorer):
    contract = admin.deploy(project.EvidenceAnchor, ADMIN_DELAY, admin)
    contract.grantRole(contract.ANCHOR_ROLE(), anchorer, sender=admin)
    return contract


@pytest.fixture(scope="session", autouse=True)
def deployed(cpy, certificate, market, evidence_anchor, stranger, creator, relayer):
    """Deploys everything before the first test, so that every test and module snapshot starts after it."""
    return cpy, certificate, market, evidence_anchor


# --- EIP-712 domains --------------------------------------------------------------------------------------------


@pytest.fixture
def certificate_eip712(chain, certificate) -> Domain:
    return certificate_domain(chain.chain_id, certificate.address)


@pytest.fixture
def market_eip712(chain, market) -> Domain:
    return market_domain(chain.chain_id, market.address)


@pytest.fixture
def cpy_eip712(chain, cpy) -> Domain:
    return cpy_domain(chain.chain_id, cpy.address)


# --- helpers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def make_registration(chain) -> Callable[..., Registration]:
    """Builds a registration with fresh hashes; any field can be overridden by keyword."""

    def build(creator: Any, **overrides: Any) -> Registration:
        fields: dict[str, Any] = {
            "creator": address_of(creator),
            "content_hash": unique_bytes32("content"),
            "metadata_digest": unique_bytes32("metadata"),
            "fingerprint": unique_bytes32("fingerprint"),
            "royalty_bps": 500,
            "nonce": int.from_bytes(unique_bytes32("nonce")[:8], "big"),
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        return Registration(**fields)

    return build


@pytest.fixture
def attest(verifier, certificate_eip712) -> Callable[..., Signature]:
    """The verifier's signature over a registration (or a metadata revision)."""

    def sign(message: Registration | MetadataRevision, signer: Any = None, domain: Domain | None = None) -> Signature:
        key = (signer or verifier).private_key
        if isinstance(message, Registration):
            return sign_registration(key, domain or certificate_eip712, message)
        return sign_metadata_revision(key, domain or certificate_eip712, message)

    return sign


@pytest.fixture
def register(certificate, make_registration, attest, relayer) -> Callable[..., int]:
    """Registers a fresh image for `creator`, submitted by the relayer; returns the token id."""

    def submit(creator: Any, sender: Any = None, **overrides: Any) -> int:
        registration = make_registration(creator, **overrides)
        certificate.register(registration.as_tuple(), attest(registration).to_bytes(), sender=sender or relayer)
        return registration.token_id

    return submit


@pytest.fixture
def quote_for(chain, settlement_signer, market_eip712) -> Callable[..., tuple[SettlementQuote, Signature]]:
    """Builds and signs a settlement quote (70/30, web, perpetual unless overridden)."""

    def build(certificate_id: int, payer: Any, signer: Any = None, domain: Domain | None = None,
              **overrides: Any) -> tuple[SettlementQuote, Signature]:
        fields: dict[str, Any] = {
            "case_id": unique_bytes32("case"),
            "certificate_id": certificate_id,
            "payer": address_of(payer),
            "amount": 250 * ONE_CPY,
            "holder_share_bps": 7000,
            "kind": WEB,
            "licence_duration": 0,
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        quote = SettlementQuote(**fields)
        return quote, sign_quote((signer or settlement_signer).private_key, domain or market_eip712, quote)

    return build


@pytest.fixture
def permit_for(chain, cpy, cpy_eip712) -> Callable[..., tuple[Permit, Signature]]:
    """Builds and signs a CPY permit from `owner` to `spender` with the owner's current nonce."""

    def build(owner: Any, spender: Any, value: int, signer: Any = None, domain: Domain | None = None,
              **overrides: Any) -> tuple[Permit, Signature]:
        fields: dict[str, Any] = {
            "owner": owner.address,
            "spender": address_of(spender),
            "value": value,
            "nonce": cpy.nonces(owner),
            "deadline": chain.pending_timestamp + HOUR,
        }
        fields.update(overrides)
        permit = Permit(**fields)
        return permit, sign_permit((signer or owner).private_key, domain or cpy_eip712, permit)

    return build


@dataclass
class Balances:
    """CPY balances of a few accounts, to compare before and after a payment."""

    token: Any
    holders: dict[str, Any]

    def snapshot(self) -> dict[str, int]:
        return {name: self.token.balanceOf(account) for name, account in self.holders.items()}


@pytest.fixture
def balances(cpy) -> Callable[..., Balances]:
    def build(**holders: Any) -> Balances:
        return Balances(cpy, holders)

    return build


@pytest.fixture
def event_args() -> Callable[[Any, Any], list[dict[str, Any]]]:
    """The decoded arguments of every log of one event in a receipt."""

    def collect(receipt: Any, event: Any) -> list[dict[str, Any]]:
        return [dict(log.event_arguments) for log in receipt.events.filter(event)]

    return collect
