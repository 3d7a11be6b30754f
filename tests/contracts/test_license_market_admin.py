"""LicenseMarket configuration: deployment, the platform fee and its cap, the treasury."""

from __future__ import annotations

from tests.contracts.signing import SETTLEMENT_QUOTE_TYPES, type_hash
from tests.contracts.support import (
    ADMIN_DELAY,
    DEFAULT_ADMIN_ROLE,
    FEE_BPS,
    ONE_CPY,
    UINT64_MAX,
    UINT256_MAX,
    WEB,
    ZERO_ADDRESS,
    as_bytes,
    reverts,
    role_hash,
)


def test_deployment_state(market, cpy, certificate, treasury, admin):
    assert market.cpy() == cpy.address
    assert market.certificates() == certificate.address
    assert market.treasury() == treasury.address
    assert market.platformFeeBps() == FEE_BPS
    assert market.MAX_FEE_BPS() == 3000
    assert market.PERPETUAL() == UINT64_MAX
    assert as_bytes(market.SETTLEMENT_ROLE()) == role_hash("SETTLEMENT_ROLE")
    assert as_bytes(market.SETTLEMENT_QUOTE_TYPEHASH()) == type_hash(SETTLEMENT_QUOTE_TYPES, "SettlementQuote")
    assert market.defaultAdmin() == admin.address


def test_deployment_emits_the_configuration(project, chain, admin, cpy, certificate, treasury, event_args):
    fresh = admin.deploy(project.LicenseMarket, cpy, certificate, treasury, 1234, ADMIN_DELAY, admin)
    receipt = chain.get_receipt(fresh.txn_hash)
    assert event_args(receipt, fresh.TreasuryChanged) == [
        {"previousTreasury": ZERO_ADDRESS, "treasury": treasury.address}
    ]
    assert event_args(receipt, fresh.PlatformFeeChanged) == [{"previousBps": 0, "feeBps": 1234}]


def test_deployment_refuses_a_bad_configuration(project, admin, cpy, certificate, treasury):
    with reverts(project.LicenseMarket.LicenseMarketFeeTooHigh, feeBps=3001, maxFeeBps=3000):
        admin.deploy(project.LicenseMarket, cpy, certificate, treasury, 3001, ADMIN_DELAY, admin)
    with reverts(project.LicenseMarket.LicenseMarketInvalidTreasury):
        admin.deploy(project.LicenseMarket, cpy, certificate, ZERO_ADDRESS, FEE_BPS, ADMIN_DELAY, admin)
    with reverts(project.LicenseMarket.LicenseMarketInvalidContract):
        admin.deploy(project.LicenseMarket, ZERO_ADDRESS, certificate, treasury, FEE_BPS, ADMIN_DELAY, admin)
    with reverts(project.LicenseMarket.LicenseMarketInvalidContract):
        admin.deploy(project.LicenseMarket, cpy, ZERO_ADDRESS, treasury, FEE_BPS, ADMIN_DELAY, admin)


def test_admin_sets_the_platform_fee_up_to_the_cap(market, admin, event_args):
    receipt = market.setPlatformFee(3000, sender=admin)
    assert market.platformFeeBps() == 3000
    assert event_args(receipt, market.PlatformFeeChanged) == [{"previousBps": FEE_BPS, "feeBps": 3000}]
    market.setPlatformFee(0, sender=admin)
    assert market.platformFeeBps() == 0


def test_platform_fee_above_the_cap_is_refused(market, admin):
    for fee in (3001, 10_000, 2**16 - 1):
        with reverts(market.LicenseMarketFeeTooHigh, feeBps=fee, maxFeeBps=3000):
            market.setPlatformFee(fee, sender=admin)
    assert market.platformFeeBps() == FEE_BPS


def test_only_the_admin_sets_the_fee_and_the_treasury(market, settlement_signer, stranger):
    for account in (settlement_signer, stranger):
        with reverts(market.AccessControlUnauthorizedAccount, account=account, neededRole=DEFAULT_ADMIN_ROLE):
            market.setPlatformFee(0, sender=account)
        with reverts(market.AccessControlUnauthorizedAccount, account=account, neededRole=DEFAULT_ADMIN_ROLE):
            market.setTreasury(account, sender=account)


def test_admin_sets_the_treasury(market, admin, treasury, stranger, event_args):
    receipt = market.setTreasury(stranger, sender=admin)
    assert market.treasury() == stranger.address
    assert event_args(receipt, market.TreasuryChanged) == [
        {"previousTreasury": treasury.address, "treasury": stranger.address}
    ]
    with reverts(market.LicenseMarketInvalidTreasury):
        market.setTreasury(ZERO_ADDRESS, sender=admin)


def test_sales_pay_the_current_fee_to_the_current_treasury(cpy, market, admin, creator, buyer, stranger, treasury,
                                                           register):
    token_id = register(creator)
    market.setOffer(token_id, WEB, 1000 * ONE_CPY, 0, sender=creator)
    cpy.approve(market, UINT256_MAX, sender=buyer)
    market.setTreasury(stranger, sender=admin)
    market.setPlatformFee(2500, sender=admin)
    treasury_before = cpy.balanceOf(treasury)

    market.buyLicence(token_id, WEB, buyer, 1000 * ONE_CPY, 0, sender=buyer)

    assert cpy.balanceOf(stranger) == 250 * ONE_CPY
    assert cpy.balanceOf(creator) == 750 * ONE_CPY
    assert cpy.balanceOf(treasury) == treasury_before


def test_eip712_domain_and_interfaces(chain, market):
    fields, name, version, chain_id, verifying_contract, _salt, _extensions = market.eip712Domain()
    assert bytes(fields) == b"\x0f"
    assert (name, version, chain_id, verifying_contract) == (
        "Tracemark LicenseMarket", "1", chain.chain_id, market.address,
    )
    assert market.supportsInterface(bytes.fromhex("01ffc9a7")) is True  # ERC-165
    assert market.supportsInterface(bytes.fromhex("7965db0b")) is True  # IAccessControl
    assert market.supportsInterface(bytes.fromhex("80ac58cd")) is False  # not an ERC-721
