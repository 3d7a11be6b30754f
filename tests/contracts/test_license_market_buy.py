"""LicenseMarket purchases: paying an offer (approve or permit), the licence record and renewal rules."""

from __future__ import annotations

import pytest

from tests.contracts.support import (
    DAY,
    EDITORIAL,
    ONE_CPY,
    PRINT,
    UINT64_MAX,
    UINT256_MAX,
    WEB,
    ZERO_ADDRESS,
    block_timestamp,
    licence_id,
    mine_at,
    reverts,
    single,
)

PRICE = 40 * ONE_CPY
FEE = PRICE * 500 // 10_000  # the fixtures' platform fee is 5 %
TERM = 30 * DAY


@pytest.fixture
def token_id(creator, register):
    return register(creator)


@pytest.fixture
def offered(market, creator, token_id):
    """A certificate with a 30-day web offer and a perpetual print offer."""
    market.setOffer(token_id, WEB, PRICE, TERM, sender=creator)
    market.setOffer(token_id, PRINT, 3 * PRICE, 0, sender=creator)
    return token_id


@pytest.fixture
def approved(cpy, market, buyer):
    cpy.approve(market, UINT256_MAX, sender=buyer)
    return buyer


def test_buy_pays_holder_and_treasury_and_records_the_licence(chain, cpy, market, creator, treasury, approved,
                                                              offered, balances, event_args):
    before = balances(buyer=approved, holder=creator, treasury=treasury, market=market).snapshot()
    expected_id = licence_id(offered, approved, WEB, 1)
    assert market.buyLicence.call(offered, WEB, approved, PRICE, TERM, sender=approved) == expected_id

    receipt = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)

    now = block_timestamp(chain, receipt)
    after = balances(buyer=approved, holder=creator, treasury=treasury, market=market).snapshot()
    assert after["buyer"] == before["buyer"] - PRICE
    assert after["holder"] == before["holder"] + PRICE - FEE
    assert after["treasury"] == before["treasury"] + FEE
    assert after["market"] == 0
    assert [log.event_name for log in receipt.events] == ["LicencePurchased", "Transfer", "Transfer"]
    assert event_args(receipt, market.LicencePurchased) == [{
        "licenceId": expected_id,
        "certificateId": offered,
        "licensee": approved.address,
        "kind": WEB,
        "start": now,
        "end": now + TERM,
        "price": PRICE,
        "holder": creator.address,
        "platformFee": FEE,
    }]
    assert event_args(receipt, cpy.Transfer) == [
        {"from": approved.address, "to": creator.address, "value": PRICE - FEE},
        {"from": approved.address, "to": treasury.address, "value": FEE},
    ]
    assert market.isLicensed(offered, approved, WEB) is True
    assert market.licensedUntil(offered, approved, WEB) == now + TERM
    assert market.licenceSerial(offered, approved, WEB) == 1
    assert market.licenceIdOf(offered, approved, WEB, 1) == expected_id


def test_licence_may_name_another_licensee(cpy, market, approved, stranger, offered, event_args):
    before = cpy.balanceOf(approved)
    receipt = market.buyLicence(offered, WEB, stranger, PRICE, TERM, sender=approved)
    assert market.isLicensed(offered, stranger, WEB) is True
    assert market.isLicensed(offered, approved, WEB) is False
    assert cpy.balanceOf(approved) == before - PRICE
    assert cpy.balanceOf(stranger) == 0
    assert single(event_args(receipt, market.LicencePurchased))["licensee"] == stranger.address


def test_licence_is_for_its_certificate_licensee_and_kind_only(market, creator, approved, relayer, offered,
                                                               register):
    other = register(creator)
    market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    assert market.isLicensed(offered, approved, WEB) is True
    assert market.isLicensed(offered, approved, PRINT) is False
    assert market.isLicensed(offered, relayer, WEB) is False
    assert market.isLicensed(other, approved, WEB) is False
    assert market.licensedUntil(other, approved, WEB) == 0
    assert market.licenceSerial(other, approved, WEB) == 0


def test_term_licence_runs_until_its_end_exclusive(chain, market, approved, offered):
    receipt = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    end = block_timestamp(chain, receipt) + TERM
    mine_at(chain, end - 1)
    assert market.isLicensed(offered, approved, WEB) is True
    mine_at(chain, end)
    assert market.isLicensed(offered, approved, WEB) is False
    assert market.licensedUntil(offered, approved, WEB) == end


def test_term_licence_bought_while_one_runs_starts_at_its_end(chain, market, approved, offered, event_args):
    first = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    first_end = block_timestamp(chain, first) + TERM
    chain.pending_timestamp = first_end - 10 * DAY

    second = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)

    record = single(event_args(second, market.LicencePurchased))
    assert (record["start"], record["end"]) == (first_end, first_end + TERM)
    assert record["licenceId"] == licence_id(offered, approved, WEB, 2)
    assert market.licensedUntil(offered, approved, WEB) == first_end + TERM
    assert market.licenceSerial(offered, approved, WEB) == 2


def test_term_licence_bought_after_expiry_starts_now(chain, market, approved, offered, event_args):
    first = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    later = block_timestamp(chain, first) + TERM + 5 * DAY
    chain.pending_timestamp = later

    second = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)

    record = single(event_args(second, market.LicencePurchased))
    assert (record["start"], record["end"]) == (later, later + TERM)


def test_perpetual_licence(chain, market, approved, offered, event_args):
    receipt = market.buyLicence(offered, PRINT, approved, 3 * PRICE, 0, sender=approved)
    record = single(event_args(receipt, market.LicencePurchased))
    assert (record["start"], record["end"]) == (block_timestamp(chain, receipt), UINT64_MAX)
    assert market.licensedUntil(offered, approved, PRINT) == UINT64_MAX
    mine_at(chain, block_timestamp(chain, receipt) + 100 * 365 * DAY)
    assert market.isLicensed(offered, approved, PRINT) is True


def test_perpetual_licence_is_not_sold_twice(market, creator, approved, stranger, offered):
    market.buyLicence(offered, PRINT, approved, 3 * PRICE, 0, sender=approved)
    with reverts(market.LicenseMarketAlreadyPerpetual, certificateId=offered, licensee=approved, kind=PRINT):
        market.buyLicence(offered, PRINT, approved, 3 * PRICE, 0, sender=approved)
    # Nor a term licence on top of it.
    market.setOffer(offered, PRINT, PRICE, TERM, sender=creator)
    with reverts(market.LicenseMarketAlreadyPerpetual, certificateId=offered, licensee=approved, kind=PRINT):
        market.buyLicence(offered, PRINT, approved, PRICE, TERM, sender=approved)
    # Another licensee still can buy.
    market.buyLicence(offered, PRINT, stranger, PRICE, TERM, sender=approved)
    assert market.licenceSerial(offered, approved, PRINT) == 1


def test_perpetual_licence_bought_while_a_term_runs_starts_now(chain, market, creator, approved, offered,
                                                               event_args):
    market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    market.setOffer(offered, WEB, 2 * PRICE, 0, sender=creator)
    receipt = market.buyLicence(offered, WEB, approved, 2 * PRICE, 0, sender=approved)
    record = single(event_args(receipt, market.LicencePurchased))
    assert (record["start"], record["end"]) == (block_timestamp(chain, receipt), UINT64_MAX)


def test_longest_term_is_capped_below_perpetual(market, creator, approved, token_id, event_args):
    market.setOffer(token_id, EDITORIAL, PRICE, UINT64_MAX, sender=creator)
    receipt = market.buyLicence(token_id, EDITORIAL, approved, PRICE, UINT64_MAX, sender=approved)
    assert single(event_args(receipt, market.LicencePurchased))["end"] == UINT64_MAX - 1
    # Still a term licence: a perpetual offer can be sold on top of it.
    market.setOffer(token_id, EDITORIAL, PRICE, 0, sender=creator)
    market.buyLicence(token_id, EDITORIAL, approved, PRICE, 0, sender=approved)
    assert market.licensedUntil(token_id, approved, EDITORIAL) == UINT64_MAX


def test_price_above_the_buyers_limit_is_refused(cpy, market, creator, approved, offered):
    # The holder raised the price after the buyer looked.
    market.setOffer(offered, WEB, PRICE + 1, TERM, sender=creator)
    with reverts(market.LicenseMarketPriceAboveLimit, price=PRICE + 1, maxPrice=PRICE):
        market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)


def test_buyer_pays_the_price_not_the_limit(cpy, market, approved, offered):
    before = cpy.balanceOf(approved)
    market.buyLicence(offered, WEB, approved, 10 * PRICE, TERM, sender=approved)
    assert cpy.balanceOf(approved) == before - PRICE


def test_licensee_must_not_be_the_zero_address(market, approved, offered):
    with reverts(market.LicenseMarketInvalidLicensee):
        market.buyLicence(offered, WEB, ZERO_ADDRESS, PRICE, TERM, sender=approved)


def test_no_licence_without_an_offer(market, approved, offered):
    with reverts(market.LicenseMarketNoOffer, certificateId=offered, kind=EDITORIAL):
        market.buyLicence(offered, EDITORIAL, approved, PRICE, 0, sender=approved)
    with reverts(market.LicenseMarketNoOffer, certificateId=offered + 1, kind=WEB):
        market.buyLicence(offered + 1, WEB, approved, PRICE, TERM, sender=approved)


def test_buyer_without_allowance_is_refused(cpy, market, buyer, offered):
    with reverts(cpy.ERC20InsufficientAllowance, spender=market, allowance=0, needed=PRICE - FEE):
        market.buyLicence(offered, WEB, buyer, PRICE, TERM, sender=buyer)
    assert market.isLicensed(offered, buyer, WEB) is False
    assert market.licenceSerial(offered, buyer, WEB) == 0


def test_buyer_without_funds_is_refused(cpy, market, stranger, offered):
    cpy.approve(market, UINT256_MAX, sender=stranger)
    with reverts(cpy.ERC20InsufficientBalance, sender=stranger, balance=0, needed=PRICE - FEE):
        market.buyLicence(offered, WEB, stranger, PRICE, TERM, sender=stranger)


def test_without_platform_fee_the_holder_gets_everything(cpy, market, admin, creator, treasury, approved, offered,
                                                         event_args):
    market.setPlatformFee(0, sender=admin)
    treasury_before = cpy.balanceOf(treasury)
    receipt = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    assert event_args(receipt, cpy.Transfer) == [{"from": approved.address, "to": creator.address, "value": PRICE}]
    assert single(event_args(receipt, market.LicencePurchased))["platformFee"] == 0
    assert cpy.balanceOf(treasury) == treasury_before


def test_fee_is_rounded_down(cpy, market, admin, creator, treasury, approved, token_id):
    market.setPlatformFee(333, sender=admin)
    market.setOffer(token_id, WEB, 1001, 0, sender=creator)
    treasury_before = cpy.balanceOf(treasury)
    market.buyLicence(token_id, WEB, approved, 1001, 0, sender=approved)
    assert cpy.balanceOf(treasury) - treasury_before == 1001 * 333 // 10_000 == 33
    assert cpy.balanceOf(creator) == 1001 - 33


# --- paying with a permit ----------------------------------------------------------------------------------------


def test_buy_with_permit_needs_no_prior_approval(cpy, market, buyer, offered, permit_for, event_args):
    limit = PRICE + 7
    permit, signature = permit_for(buyer, market, limit)
    receipt = market.buyLicenceWithPermit(offered, WEB, buyer, limit, TERM, permit.deadline, signature.v,
                                          signature.r_bytes, signature.s_bytes, sender=buyer)
    assert market.isLicensed(offered, buyer, WEB) is True
    assert cpy.nonces(buyer) == 1
    # The permit allowed the limit; the purchase spent the price.
    assert cpy.allowance(buyer, market) == limit - PRICE
    assert [log.event_name for log in receipt.events] == ["Approval", "LicencePurchased", "Transfer", "Transfer"]
    assert event_args(receipt, cpy.Approval) == [{"owner": buyer.address, "spender": market.address, "value": limit}]


def test_front_run_permit_still_lets_the_purchase_through(cpy, market, buyer, relayer, offered, permit_for):
    permit, signature = permit_for(buyer, market, PRICE)
    # Someone saw the transaction and submitted the permit first: the market's own permit call fails, but the
    # allowance it wanted is there.
    cpy.permit(buyer, market, PRICE, permit.deadline, signature.v, signature.r_bytes, signature.s_bytes,
               sender=relayer)
    market.buyLicenceWithPermit(offered, WEB, buyer, PRICE, TERM, permit.deadline, signature.v,
                                signature.r_bytes, signature.s_bytes, sender=buyer)
    assert market.isLicensed(offered, buyer, WEB) is True
    assert cpy.allowance(buyer, market) == 0
    assert cpy.nonces(buyer) == 1


def test_failed_permit_with_enough_allowance_goes_through(chain, cpy, market, approved, offered, permit_for):
    # An expired permit does not matter when the buyer has approved enough anyway.
    permit, signature = permit_for(approved, market, PRICE, deadline=chain.pending_timestamp - 1)
    market.buyLicenceWithPermit(offered, WEB, approved, PRICE, TERM, permit.deadline, signature.v,
                                signature.r_bytes, signature.s_bytes, sender=approved)
    assert market.isLicensed(offered, approved, WEB) is True
    assert cpy.nonces(approved) == 0


def test_permit_must_be_for_the_price_limit(cpy, cpy_eip712, market, buyer, offered, permit_for):
    from tests.contracts.signing import permit_digest, recover

    permit, signature = permit_for(buyer, market, PRICE)
    # The market asks the token to apply a permit for `maxPrice`; a permit for another value does not verify.
    moved = type(permit)(permit.owner, permit.spender, PRICE + 1, permit.nonce, permit.deadline)
    recovered = recover(permit_digest(cpy_eip712, moved), signature)
    with reverts(cpy.ERC2612InvalidSigner, signer=recovered, owner=buyer):
        market.buyLicenceWithPermit(offered, WEB, buyer, PRICE + 1, TERM, permit.deadline, signature.v,
                                    signature.r_bytes, signature.s_bytes, sender=buyer)


def test_market_never_holds_cpy(cpy, market, creator, treasury, buyer, infringer, offered, permit_for, quote_for,
                                balances):
    accounts = balances(buyer=buyer, infringer=infringer, holder=creator, treasury=treasury, market=market)
    total_before = sum(accounts.snapshot().values())

    def paid_out() -> None:
        assert cpy.balanceOf(market) == 0
        assert sum(accounts.snapshot().values()) == total_before  # every unit went from a payer to a payee

    cpy.approve(market, PRICE, sender=buyer)
    market.buyLicence(offered, WEB, buyer, PRICE, TERM, sender=buyer)
    paid_out()
    permit, signature = permit_for(buyer, market, 3 * PRICE)
    market.buyLicenceWithPermit(offered, PRINT, buyer, 3 * PRICE, 0, permit.deadline, signature.v,
                                signature.r_bytes, signature.s_bytes, sender=buyer)
    paid_out()
    quote, quote_signature = quote_for(offered, infringer)
    cpy.approve(market, quote.amount, sender=infringer)
    market.settleClaim(quote.as_tuple(), quote_signature.to_bytes(), sender=infringer)
    paid_out()
    quote, quote_signature = quote_for(offered, infringer, kind=EDITORIAL)
    permit, signature = permit_for(infringer, market, quote.amount)
    market.settleClaimWithPermit(quote.as_tuple(), quote_signature.to_bytes(), permit.deadline, signature.v,
                                 signature.r_bytes, signature.s_bytes, sender=infringer)
    paid_out()
    assert cpy.allowance(buyer, market) == 0
    assert cpy.allowance(infringer, market) == 0


# --- offer terms changed under a pending purchase -----------------------------------------------------------------
#
# The buyer names the licence duration it saw (0 = perpetual) next to its price limit. A holder who republishes the
# offer at the same price with other terms before the purchase is mined passes the price limit, so the purchase must
# revert on the duration, pay nothing and record nothing.

CHANGED_TERMS = [
    pytest.param(TERM, DAY, id="shortened"),
    pytest.param(TERM, 2 * TERM, id="lengthened"),
    pytest.param(TERM, 0, id="made-perpetual"),
    pytest.param(0, TERM, id="made-term"),
]


@pytest.fixture
def republish(market, creator, token_id):
    """Publishes an editorial offer with the terms a buyer sees, and then, as the holder would under the buyer's
    pending purchase, the same offer at the same price with other terms. Returns the certificate id."""

    def change(seen: int, changed: int) -> int:
        market.setOffer(token_id, EDITORIAL, PRICE, seen, sender=creator)
        market.setOffer(token_id, EDITORIAL, PRICE, changed, sender=creator)
        assert tuple(market.offerOf(token_id, EDITORIAL)) == (True, PRICE, changed)
        return token_id

    return change


def assert_not_licensed(market, certificate_id, licensee, kind):
    assert market.isLicensed(certificate_id, licensee, kind) is False
    assert market.licensedUntil(certificate_id, licensee, kind) == 0
    assert market.licenceSerial(certificate_id, licensee, kind) == 0


@pytest.mark.parametrize(("seen", "changed"), CHANGED_TERMS)
def test_terms_changed_at_the_same_price_refuse_the_purchase(cpy, market, creator, treasury, approved, republish,
                                                             balances, seen, changed):
    certificate_id = republish(seen, changed)
    accounts = balances(buyer=approved, holder=creator, treasury=treasury, market=market)
    before = accounts.snapshot()

    with reverts(market.LicenseMarketOfferChanged, duration=changed, expectedDuration=seen):
        market.buyLicence(certificate_id, EDITORIAL, approved, PRICE, seen, sender=approved)

    assert accounts.snapshot() == before
    assert cpy.allowance(approved, market) == UINT256_MAX
    assert_not_licensed(market, certificate_id, approved, EDITORIAL)


@pytest.mark.parametrize(("seen", "changed"), CHANGED_TERMS)
def test_terms_changed_at_the_same_price_refuse_the_permit_purchase(cpy, market, creator, treasury, buyer, republish,
                                                                    permit_for, balances, seen, changed):
    permit, signature = permit_for(buyer, market, PRICE)
    certificate_id = republish(seen, changed)
    accounts = balances(buyer=buyer, holder=creator, treasury=treasury, market=market)
    before = accounts.snapshot()

    with reverts(market.LicenseMarketOfferChanged, duration=changed, expectedDuration=seen):
        market.buyLicenceWithPermit(certificate_id, EDITORIAL, buyer, PRICE, seen, permit.deadline, signature.v,
                                    signature.r_bytes, signature.s_bytes, sender=buyer)

    assert accounts.snapshot() == before
    # The permit was undone with the purchase: its nonce is unused and it granted no allowance.
    assert cpy.nonces(buyer) == permit.nonce
    assert cpy.allowance(buyer, market) == 0
    assert_not_licensed(market, certificate_id, buyer, EDITORIAL)


@pytest.mark.parametrize(("seen", "changed"), CHANGED_TERMS)
def test_buyer_who_names_the_new_terms_buys_them(chain, market, creator, treasury, approved, republish, balances,
                                                 event_args, seen, changed):
    certificate_id = republish(seen, changed)
    with reverts(market.LicenseMarketOfferChanged, duration=changed, expectedDuration=seen):
        market.buyLicence(certificate_id, EDITORIAL, approved, PRICE, seen, sender=approved)
    accounts = balances(buyer=approved, holder=creator, treasury=treasury)
    before = accounts.snapshot()

    # The buyer reads the offer again and accepts its new terms.
    receipt = market.buyLicence(certificate_id, EDITORIAL, approved, PRICE, changed, sender=approved)

    now = block_timestamp(chain, receipt)
    end = UINT64_MAX if changed == 0 else now + changed
    record = single(event_args(receipt, market.LicencePurchased))
    assert (record["start"], record["end"], record["price"]) == (now, end, PRICE)
    assert market.licensedUntil(certificate_id, approved, EDITORIAL) == end
    assert market.licenceSerial(certificate_id, approved, EDITORIAL) == 1
    after = accounts.snapshot()
    assert after["buyer"] == before["buyer"] - PRICE
    assert after["holder"] == before["holder"] + PRICE - FEE
    assert after["treasury"] == before["treasury"] + FEE


@pytest.mark.parametrize(("seen", "changed"), CHANGED_TERMS)
def test_permit_of_a_refused_purchase_still_buys_the_new_terms(chain, cpy, market, buyer, republish, permit_for,
                                                               event_args, seen, changed):
    permit, signature = permit_for(buyer, market, PRICE)
    certificate_id = republish(seen, changed)
    with reverts(market.LicenseMarketOfferChanged, duration=changed, expectedDuration=seen):
        market.buyLicenceWithPermit(certificate_id, EDITORIAL, buyer, PRICE, seen, permit.deadline, signature.v,
                                    signature.r_bytes, signature.s_bytes, sender=buyer)

    receipt = market.buyLicenceWithPermit(certificate_id, EDITORIAL, buyer, PRICE, changed, permit.deadline,
                                          signature.v, signature.r_bytes, signature.s_bytes, sender=buyer)

    now = block_timestamp(chain, receipt)
    end = UINT64_MAX if changed == 0 else now + changed
    assert single(event_args(receipt, market.LicencePurchased))["end"] == end
    assert market.licensedUntil(certificate_id, buyer, EDITORIAL) == end
    assert cpy.nonces(buyer) == permit.nonce + 1
    assert cpy.allowance(buyer, market) == 0


def test_shortened_renewal_leaves_the_running_licence_alone(chain, market, creator, treasury, approved, offered,
                                                            balances):
    first = market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    end = block_timestamp(chain, first) + TERM
    # The buyer renews at the terms it bought; the holder cuts the term to a day at the same price first.
    market.setOffer(offered, WEB, PRICE, DAY, sender=creator)
    accounts = balances(buyer=approved, holder=creator, treasury=treasury, market=market)
    before = accounts.snapshot()

    with reverts(market.LicenseMarketOfferChanged, duration=DAY, expectedDuration=TERM):
        market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)

    assert accounts.snapshot() == before
    assert market.licensedUntil(offered, approved, WEB) == end
    assert market.licenceSerial(offered, approved, WEB) == 1


def test_a_raised_price_is_reported_before_changed_terms(market, creator, approved, offered):
    market.setOffer(offered, WEB, PRICE + 1, DAY, sender=creator)
    with reverts(market.LicenseMarketPriceAboveLimit, price=PRICE + 1, maxPrice=PRICE):
        market.buyLicence(offered, WEB, approved, PRICE, TERM, sender=approved)
    # Within the limit, the duration is what is refused.
    with reverts(market.LicenseMarketOfferChanged, duration=DAY, expectedDuration=TERM):
        market.buyLicence(offered, WEB, approved, PRICE + 1, TERM, sender=approved)
