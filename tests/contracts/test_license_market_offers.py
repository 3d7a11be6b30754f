"""LicenseMarket offers: holders publish and withdraw offers; an offer dies when the certificate changes hands."""

from __future__ import annotations

import pytest

from tests.contracts.support import (
    COMMERCIAL,
    DAY,
    ONE_CPY,
    PRINT,
    UINT64_MAX,
    UINT96_MAX,
    UINT256_MAX,
    WEB,
    ZERO_ADDRESS,
    reverts,
    unique_bytes32,
)

PRICE = 25 * ONE_CPY


@pytest.fixture
def token_id(creator, register):
    return register(creator)


@pytest.fixture
def paying_buyer(cpy, market, buyer):
    cpy.approve(market, UINT256_MAX, sender=buyer)
    return buyer


def test_holder_publishes_an_offer(market, creator, token_id, event_args):
    receipt = market.setOffer(token_id, WEB, PRICE, 30 * DAY, sender=creator)
    assert tuple(market.offerOf(token_id, WEB)) == (True, PRICE, 30 * DAY)
    assert event_args(receipt, market.OfferPublished) == [{
        "certificateId": token_id, "kind": WEB, "holder": creator.address, "price": PRICE, "duration": 30 * DAY,
    }]


def test_offers_are_per_kind(market, creator, token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    market.setOffer(token_id, PRINT, 2 * PRICE, DAY, sender=creator)
    assert tuple(market.offerOf(token_id, WEB)) == (True, PRICE, 0)
    assert tuple(market.offerOf(token_id, PRINT)) == (True, 2 * PRICE, DAY)
    assert tuple(market.offerOf(token_id, COMMERCIAL)) == (False, 0, 0)


def test_publishing_again_replaces_the_offer(market, creator, token_id):
    market.setOffer(token_id, WEB, PRICE, DAY, sender=creator)
    market.setOffer(token_id, WEB, 3 * PRICE, UINT64_MAX, sender=creator)
    assert tuple(market.offerOf(token_id, WEB)) == (True, 3 * PRICE, UINT64_MAX)


def test_only_the_holder_publishes(market, creator, buyer, token_id):
    with reverts(market.LicenseMarketNotHolder, certificateId=token_id, caller=buyer, holder=creator):
        market.setOffer(token_id, WEB, PRICE, 0, sender=buyer)


def test_no_offer_for_an_unknown_certificate(market, creator):
    unknown = int.from_bytes(unique_bytes32("unknown"), "big")
    with reverts(market.LicenseMarketNotHolder, certificateId=unknown, caller=creator, holder=ZERO_ADDRESS):
        market.setOffer(unknown, WEB, PRICE, 0, sender=creator)
    assert tuple(market.offerOf(unknown, WEB)) == (False, 0, 0)


def test_kind_zero_is_not_a_kind(market, creator, token_id):
    with reverts(market.LicenseMarketInvalidKind, kind=0):
        market.setOffer(token_id, 0, PRICE, 0, sender=creator)


@pytest.mark.parametrize("price", [0, UINT96_MAX + 1, UINT256_MAX])
def test_price_must_be_positive_and_fit_96_bits(market, creator, token_id, price):
    with reverts(market.LicenseMarketInvalidPrice, price=price):
        market.setOffer(token_id, WEB, price, 0, sender=creator)


def test_highest_price_fits(market, creator, token_id):
    market.setOffer(token_id, WEB, UINT96_MAX, 0, sender=creator)
    assert tuple(market.offerOf(token_id, WEB)) == (True, UINT96_MAX, 0)


def test_holder_withdraws_an_offer(market, creator, paying_buyer, token_id, event_args):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    receipt = market.withdrawOffer(token_id, WEB, sender=creator)
    assert event_args(receipt, market.OfferWithdrawn) == [
        {"certificateId": token_id, "kind": WEB, "holder": creator.address}
    ]
    assert market.offerOf(token_id, WEB).live is False
    with reverts(market.LicenseMarketNoOffer, certificateId=token_id, kind=WEB):
        market.buyLicence(token_id, WEB, paying_buyer, PRICE, 0, sender=paying_buyer)


def test_only_the_holder_withdraws(market, creator, buyer, token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    with reverts(market.LicenseMarketNotHolder, certificateId=token_id, caller=buyer, holder=creator):
        market.withdrawOffer(token_id, WEB, sender=buyer)
    assert market.offerOf(token_id, WEB).live is True


def test_offer_dies_when_the_certificate_changes_hands(certificate, market, creator, buyer, paying_buyer, token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    certificate.transferFrom(creator, buyer, token_id, sender=creator)

    assert market.offerOf(token_id, WEB).live is False
    with reverts(market.LicenseMarketNoOffer, certificateId=token_id, kind=WEB):
        market.buyLicence(token_id, WEB, paying_buyer, PRICE, 0, sender=paying_buyer)
    # The former holder can neither revive nor withdraw it.
    with reverts(market.LicenseMarketNotHolder, certificateId=token_id, caller=creator, holder=buyer):
        market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    with reverts(market.LicenseMarketNotHolder, certificateId=token_id, caller=creator, holder=buyer):
        market.withdrawOffer(token_id, WEB, sender=creator)


def test_offer_stays_dead_when_the_certificate_comes_back(certificate, market, creator, buyer, paying_buyer,
                                                          token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    market.setOffer(token_id, PRINT, PRICE, 0, sender=creator)
    certificate.transferFrom(creator, buyer, token_id, sender=creator)
    certificate.transferFrom(buyer, creator, token_id, sender=buyer)  # A -> B -> A

    assert market.offerOf(token_id, WEB).live is False
    assert market.offerOf(token_id, PRINT).live is False
    with reverts(market.LicenseMarketNoOffer, certificateId=token_id, kind=WEB):
        market.buyLicence(token_id, WEB, paying_buyer, PRICE, 0, sender=paying_buyer)
    # Publishing again revives that kind only.
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    assert market.offerOf(token_id, WEB).live is True
    assert market.offerOf(token_id, PRINT).live is False
    market.buyLicence(token_id, WEB, paying_buyer, PRICE, 0, sender=paying_buyer)


def test_new_holder_publishes_its_own_offer(certificate, cpy, market, creator, buyer, paying_buyer, relayer,
                                            token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    certificate.transferFrom(creator, relayer, token_id, sender=creator)
    market.setOffer(token_id, WEB, 2 * PRICE, 0, sender=relayer)
    assert tuple(market.offerOf(token_id, WEB)) == (True, 2 * PRICE, 0)

    market.buyLicence(token_id, WEB, paying_buyer, 2 * PRICE, 0, sender=paying_buyer)
    # The new holder is paid.
    assert cpy.balanceOf(relayer) == 2 * PRICE - 2 * PRICE * market.platformFeeBps() // 10_000
    assert cpy.balanceOf(creator) == 0


def test_an_approved_operator_transfer_also_kills_offers(certificate, market, creator, buyer, relayer, token_id):
    market.setOffer(token_id, WEB, PRICE, 0, sender=creator)
    certificate.setApprovalForAll(relayer, True, sender=creator)
    certificate.safeTransferFrom(creator, buyer, token_id, sender=relayer)
    assert market.offerOf(token_id, WEB).live is False
