"""LicenseMarket claim settlement: paying a signed quote splits the amount exactly and grants a post-licence."""

from __future__ import annotations

import dataclasses

import pytest

from tests.contracts.signing import quote_digest, recover
from tests.contracts.support import (
    DAY,
    ONE_CPY,
    PRINT,
    UINT64_MAX,
    UINT256_MAX,
    WEB,
    block_timestamp,
    licence_id,
    reverts,
    single,
    unique_bytes32,
)

AMOUNT = 250 * ONE_CPY


@pytest.fixture
def token_id(creator, register):
    return register(creator)


@pytest.fixture
def payer(cpy, market, infringer):
    cpy.approve(market, UINT256_MAX, sender=infringer)
    return infringer


def settle(market, quote, signature, sender):
    return market.settleClaim(quote.as_tuple(), signature.to_bytes(), sender=sender)


@pytest.mark.parametrize("share_bps", [7000, 5000])
def test_settlement_splits_the_payment_and_grants_a_licence(chain, cpy, market, creator, treasury, payer, token_id,
                                                            quote_for, balances, event_args, share_bps):
    quote, signature = quote_for(token_id, payer, amount=AMOUNT, holder_share_bps=share_bps, kind=WEB)
    holder_amount = AMOUNT * share_bps // 10_000
    platform_amount = AMOUNT - holder_amount
    expected_id = licence_id(token_id, payer, WEB, 1)
    before = balances(payer=payer, holder=creator, treasury=treasury).snapshot()
    assert market.settleClaim.call(quote.as_tuple(), signature.to_bytes(), sender=payer) == expected_id

    receipt = settle(market, quote, signature, payer)

    now = block_timestamp(chain, receipt)
    after = balances(payer=payer, holder=creator, treasury=treasury).snapshot()
    assert after["payer"] == before["payer"] - AMOUNT
    assert after["holder"] == before["holder"] + holder_amount
    assert after["treasury"] == before["treasury"] + platform_amount
    assert cpy.balanceOf(market) == 0
    assert market.isSettled(quote.case_id) is True
    assert market.isLicensed(token_id, payer, WEB) is True
    assert [log.event_name for log in receipt.events] == ["LicencePurchased", "ClaimSettled", "Transfer", "Transfer"]
    assert event_args(receipt, market.ClaimSettled) == [{
        "caseId": quote.case_id,
        "certificateId": token_id,
        "payer": payer.address,
        "licenceId": expected_id,
        "holder": creator.address,
        "holderAmount": holder_amount,
        "treasury": treasury.address,
        "platformAmount": platform_amount,
    }]
    assert event_args(receipt, market.LicencePurchased) == [{
        "licenceId": expected_id,
        "certificateId": token_id,
        "licensee": payer.address,
        "kind": WEB,
        "start": now,
        "end": UINT64_MAX,
        "price": AMOUNT,
        "holder": creator.address,
        "platformFee": platform_amount,
    }]
    assert event_args(receipt, cpy.Transfer) == [
        {"from": payer.address, "to": creator.address, "value": holder_amount},
        {"from": payer.address, "to": treasury.address, "value": platform_amount},
    ]


@pytest.mark.parametrize(
    ("amount", "share_bps", "holder_amount"),
    [(101, 7000, 71), (1, 5000, 1), (3, 3333, 1), (999, 1, 1), (10**18 + 1, 7000, 7 * 10**17 + 1)],
)
def test_platform_share_is_rounded_down_and_the_holder_gets_the_rest(cpy, market, creator, treasury, payer,
                                                                     token_id, quote_for, amount, share_bps,
                                                                     holder_amount):
    quote, signature = quote_for(token_id, payer, amount=amount, holder_share_bps=share_bps)
    treasury_before = cpy.balanceOf(treasury)
    settle(market, quote, signature, payer)
    assert cpy.balanceOf(creator) == holder_amount
    assert cpy.balanceOf(treasury) - treasury_before == amount - holder_amount
    assert amount * (10_000 - share_bps) // 10_000 == amount - holder_amount


def test_whole_amount_to_the_holder(cpy, market, creator, payer, token_id, quote_for, event_args):
    quote, signature = quote_for(token_id, payer, holder_share_bps=10_000)
    receipt = settle(market, quote, signature, payer)
    assert event_args(receipt, cpy.Transfer) == [{"from": payer.address, "to": creator.address, "value": AMOUNT}]


def test_whole_amount_to_the_treasury(cpy, market, treasury, payer, token_id, quote_for, event_args):
    quote, signature = quote_for(token_id, payer, holder_share_bps=0)
    receipt = settle(market, quote, signature, payer)
    assert event_args(receipt, cpy.Transfer) == [{"from": payer.address, "to": treasury.address, "value": AMOUNT}]


def test_settlement_ignores_the_platform_fee_on_sales(cpy, market, admin, creator, payer, token_id, quote_for):
    market.setPlatformFee(3000, sender=admin)
    quote, signature = quote_for(token_id, payer, holder_share_bps=5000)
    settle(market, quote, signature, payer)
    assert cpy.balanceOf(creator) == AMOUNT // 2


def test_holder_at_settlement_time_is_paid(certificate, cpy, market, creator, relayer, payer, token_id, quote_for,
                                           event_args):
    quote, signature = quote_for(token_id, payer)
    certificate.transferFrom(creator, relayer, token_id, sender=creator)
    receipt = settle(market, quote, signature, payer)
    assert single(event_args(receipt, market.ClaimSettled))["holder"] == relayer.address
    assert cpy.balanceOf(relayer) == AMOUNT * 7000 // 10_000
    assert cpy.balanceOf(creator) == 0


def test_term_post_licence(chain, market, payer, token_id, quote_for, event_args):
    quote, signature = quote_for(token_id, payer, kind=PRINT, licence_duration=90 * DAY)
    receipt = settle(market, quote, signature, payer)
    record = single(event_args(receipt, market.LicencePurchased))
    now = block_timestamp(chain, receipt)
    assert (record["kind"], record["start"], record["end"]) == (PRINT, now, now + 90 * DAY)


def test_a_case_settles_once(market, settlement_signer, payer, token_id, quote_for):
    quote, signature = quote_for(token_id, payer)
    settle(market, quote, signature, payer)
    # Neither the same quote nor a fresh quote for the same case settles it again.
    with reverts(market.LicenseMarketCaseSettled, caseId=quote.case_id):
        settle(market, quote, signature, payer)
    fresh, fresh_signature = quote_for(token_id, payer, case_id=quote.case_id, amount=1)
    with reverts(market.LicenseMarketCaseSettled, caseId=quote.case_id):
        settle(market, fresh, fresh_signature, payer)


def test_settlement_while_a_perpetual_licence_exists_still_settles(chain, cpy, market, creator, payer, token_id,
                                                                   quote_for, event_args):
    market.setOffer(token_id, WEB, 10 * ONE_CPY, 0, sender=creator)
    market.buyLicence(token_id, WEB, payer, 10 * ONE_CPY, 0, sender=payer)
    # A term quote for a kind the payer already holds forever: the case is paid and the licence stays perpetual.
    quote, signature = quote_for(token_id, payer, kind=WEB, licence_duration=30 * DAY)
    receipt = settle(market, quote, signature, payer)
    record = single(event_args(receipt, market.LicencePurchased))
    assert (record["start"], record["end"]) == (block_timestamp(chain, receipt), UINT64_MAX)
    assert record["licenceId"] == licence_id(token_id, payer, WEB, 2)
    assert market.isSettled(quote.case_id) is True
    assert market.licensedUntil(token_id, payer, WEB) == UINT64_MAX


def test_term_post_licence_extends_a_running_term(chain, market, creator, payer, token_id, quote_for, event_args):
    market.setOffer(token_id, WEB, 10 * ONE_CPY, 10 * DAY, sender=creator)
    bought = market.buyLicence(token_id, WEB, payer, 10 * ONE_CPY, 10 * DAY, sender=payer)
    running_end = block_timestamp(chain, bought) + 10 * DAY
    quote, signature = quote_for(token_id, payer, kind=WEB, licence_duration=30 * DAY)
    receipt = settle(market, quote, signature, payer)
    record = single(event_args(receipt, market.LicencePurchased))
    assert (record["start"], record["end"]) == (running_end, running_end + 30 * DAY)


def test_only_the_payer_settles(market, relayer, payer, token_id, quote_for):
    quote, signature = quote_for(token_id, payer)
    with reverts(market.LicenseMarketNotPayer, caller=relayer, payer=payer):
        settle(market, quote, signature, relayer)


def test_expired_quote_is_refused(chain, market, payer, token_id, quote_for):
    now = chain.pending_timestamp + 10
    quote, signature = quote_for(token_id, payer, deadline=now - 1)
    chain.pending_timestamp = now
    with reverts(market.LicenseMarketQuoteExpired, deadline=now - 1, timestamp=now):
        settle(market, quote, signature, payer)


def test_quote_is_valid_up_to_its_deadline(chain, market, payer, token_id, quote_for):
    now = chain.pending_timestamp + 10
    quote, signature = quote_for(token_id, payer, deadline=now)
    chain.pending_timestamp = now
    settle(market, quote, signature, payer)
    assert market.isSettled(quote.case_id) is True


@pytest.mark.parametrize(("amount", "share_bps"), [(0, 7000), (AMOUNT, 10_001), (AMOUNT, 2**16 - 1)])
def test_invalid_quote_is_refused(market, payer, token_id, quote_for, amount, share_bps):
    quote, signature = quote_for(token_id, payer, amount=amount, holder_share_bps=share_bps)
    with reverts(market.LicenseMarketInvalidQuote):
        settle(market, quote, signature, payer)


def test_kind_zero_is_refused(market, payer, token_id, quote_for):
    quote, signature = quote_for(token_id, payer, kind=0)
    with reverts(market.LicenseMarketInvalidKind, kind=0):
        settle(market, quote, signature, payer)


def test_quote_signed_without_the_settlement_role_is_refused(market, admin, payer, token_id, quote_for):
    quote, signature = quote_for(token_id, payer, signer=admin)
    with reverts(market.LicenseMarketInvalidQuoteSigner, recoveredSigner=admin):
        settle(market, quote, signature, payer)


@pytest.mark.parametrize(
    "field", ["case_id", "certificate_id", "amount", "holder_share_bps", "kind", "licence_duration", "deadline"]
)
def test_changing_any_quoted_field_breaks_the_signature(market, market_eip712, settlement_signer, creator, payer,
                                                        token_id, register, quote_for, field):
    quote, signature = quote_for(token_id, payer)
    replacement = {
        "case_id": unique_bytes32("case"),
        "certificate_id": register(creator),
        "amount": quote.amount - 1,  # a payer paying less than quoted
        "holder_share_bps": 5000,
        "kind": PRINT,
        "licence_duration": 1,
        "deadline": quote.deadline + 1,
    }[field]
    tampered = dataclasses.replace(quote, **{field: replacement})
    recovered = recover(quote_digest(market_eip712, tampered), signature)
    assert recovered != settlement_signer.address
    with reverts(market.LicenseMarketInvalidQuoteSigner, recoveredSigner=recovered):
        settle(market, tampered, signature, payer)


def test_quote_for_another_payer_cannot_be_taken_over(market, market_eip712, relayer, payer, token_id, quote_for):
    quote, signature = quote_for(token_id, payer)
    tampered = dataclasses.replace(quote, payer=relayer.address)
    recovered = recover(quote_digest(market_eip712, tampered), signature)
    with reverts(market.LicenseMarketInvalidQuoteSigner, recoveredSigner=recovered):
        settle(market, tampered, signature, relayer)


def test_unknown_certificate_is_refused(market, payer, quote_for):
    unknown = int.from_bytes(unique_bytes32("unknown"), "big")
    quote, signature = quote_for(unknown, payer)
    with reverts(market.LicenseMarketUnknownCertificate, certificateId=unknown):
        settle(market, quote, signature, payer)


def test_payer_without_allowance_settles_nothing(cpy, market, infringer, token_id, quote_for):
    quote, signature = quote_for(token_id, infringer)
    with reverts(cpy.ERC20InsufficientAllowance, spender=market, allowance=0, needed=AMOUNT * 7000 // 10_000):
        settle(market, quote, signature, infringer)
    assert market.isSettled(quote.case_id) is False
    assert market.isLicensed(token_id, infringer, WEB) is False


def test_settle_with_permit(cpy, market, creator, infringer, token_id, quote_for, permit_for):
    quote, signature = quote_for(token_id, infringer)
    permit, permit_signature = permit_for(infringer, market, quote.amount)
    market.settleClaimWithPermit(quote.as_tuple(), signature.to_bytes(), permit.deadline, permit_signature.v,
                                 permit_signature.r_bytes, permit_signature.s_bytes, sender=infringer)
    assert market.isSettled(quote.case_id) is True
    assert cpy.allowance(infringer, market) == 0
    assert cpy.nonces(infringer) == 1
    assert cpy.balanceOf(creator) == quote.amount * 7000 // 10_000


def test_settle_with_front_run_permit_still_settles(cpy, market, infringer, relayer, token_id, quote_for,
                                                    permit_for):
    quote, signature = quote_for(token_id, infringer)
    permit, permit_signature = permit_for(infringer, market, quote.amount)
    cpy.permit(infringer, market, quote.amount, permit.deadline, permit_signature.v, permit_signature.r_bytes,
               permit_signature.s_bytes, sender=relayer)
    market.settleClaimWithPermit(quote.as_tuple(), signature.to_bytes(), permit.deadline, permit_signature.v,
                                 permit_signature.r_bytes, permit_signature.s_bytes, sender=infringer)
    assert market.isSettled(quote.case_id) is True
