"""Property tests against the deployed contracts: every payment is split exactly, whatever the numbers.

Hypothesis runs many examples inside one test, and Ape only snapshots around the test, so each example runs in
its own `chain.isolate()` and starts from the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.contracts.signing import (
    Registration,
    SettlementQuote,
    certificate_domain,
    market_domain,
    sign_quote,
    sign_registration,
)
from tests.contracts.support import (
    ADMIN_DELAY,
    DAY,
    FEE_BPS,
    HOUR,
    UINT96_MAX,
    UINT256_MAX,
    WEB,
    single,
    unique_bytes32,
)

# Enough CPY for any offer price (prices fit 96 bits) and any settlement amount drawn below.
SUPPLY = 2**120
MAX_SETTLEMENT = 2**110
# Examples per property; a licence example costs three transactions, a settlement example one.
LICENCE_EXAMPLES = 60
SETTLEMENT_EXAMPLES = 100


@dataclass
class Market:
    cpy: Any
    certificate: Any
    market: Any
    token_id: int


@pytest.fixture(scope="module")
def rich(project, chain, admin, treasury, verifier, settlement_signer, creator, buyer, infringer,
         certificate) -> Market:
    """A market whose token has a supply large enough for any price, and one registered certificate."""
    cpy = admin.deploy(project.CPYToken, treasury, SUPPLY)
    market = admin.deploy(project.LicenseMarket, cpy, certificate, treasury, FEE_BPS, ADMIN_DELAY, admin)
    market.grantRole(market.SETTLEMENT_ROLE(), settlement_signer, sender=admin)
    for payer in (buyer, infringer):
        cpy.transfer(payer, SUPPLY // 4, sender=treasury)
        cpy.approve(market, UINT256_MAX, sender=payer)
    registration = Registration(
        creator=creator.address,
        content_hash=unique_bytes32("property image"),
        metadata_digest=unique_bytes32("property metadata"),
        fingerprint=unique_bytes32("property fingerprint"),
        royalty_bps=0,
        nonce=1,
        deadline=chain.pending_timestamp + HOUR,
    )
    signature = sign_registration(verifier.private_key, certificate_domain(chain.chain_id, certificate.address),
                                  registration)
    certificate.register(registration.as_tuple(), signature.to_bytes(), sender=creator)
    return Market(cpy, certificate, market, registration.token_id)


def cpy_balances(cpy: Any, *accounts: Any) -> list[int]:
    return [cpy.balanceOf(account) for account in accounts]


@settings(max_examples=LICENCE_EXAMPLES, deadline=None)
@given(price=st.integers(min_value=1, max_value=UINT96_MAX), fee_bps=st.integers(min_value=0, max_value=3000))
@example(price=1, fee_bps=3000)
@example(price=9_999, fee_bps=1)
@example(price=UINT96_MAX, fee_bps=3000)
@example(price=UINT96_MAX, fee_bps=0)
def test_licence_payouts_add_up_to_the_price(chain, rich, admin, creator, buyer, treasury, price, fee_bps):
    cpy, market = rich.cpy, rich.market
    with chain.isolate():
        market.setPlatformFee(fee_bps, sender=admin)
        market.setOffer(rich.token_id, WEB, price, DAY, sender=creator)
        before = cpy_balances(cpy, buyer, creator, treasury, market)

        receipt = market.buyLicence(rich.token_id, WEB, buyer, price, DAY, sender=buyer)

        after = cpy_balances(cpy, buyer, creator, treasury, market)
        paid, holder_gain, treasury_gain = before[0] - after[0], after[1] - before[1], after[2] - before[2]
        assert paid == price
        assert holder_gain + treasury_gain == price
        assert treasury_gain == price * fee_bps // 10_000
        assert after[3] == before[3] == 0  # the market keeps nothing
        record = single([log.event_arguments for log in receipt.events.filter(market.LicencePurchased)])
        assert (record["price"], record["platformFee"]) == (price, treasury_gain)


@settings(max_examples=SETTLEMENT_EXAMPLES, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=MAX_SETTLEMENT),
    share_bps=st.one_of(st.sampled_from([7000, 5000, 0, 10_000]), st.integers(min_value=0, max_value=10_000)),
)
@example(amount=1, share_bps=7000)
@example(amount=3, share_bps=3333)
@example(amount=MAX_SETTLEMENT, share_bps=1)
def test_settlement_payouts_add_up_to_the_amount(chain, rich, settlement_signer, creator, infringer, treasury,
                                                  amount, share_bps):
    cpy, market = rich.cpy, rich.market
    domain = market_domain(chain.chain_id, market.address)
    with chain.isolate():
        quote = SettlementQuote(
            case_id=unique_bytes32("property case"),
            certificate_id=rich.token_id,
            payer=infringer.address,
            amount=amount,
            holder_share_bps=share_bps,
            kind=WEB,
            licence_duration=0,
            deadline=chain.pending_timestamp + HOUR,
        )
        signature = sign_quote(settlement_signer.private_key, domain, quote)
        before = cpy_balances(cpy, infringer, creator, treasury, market)

        receipt = market.settleClaim(quote.as_tuple(), signature.to_bytes(), sender=infringer)

        after = cpy_balances(cpy, infringer, creator, treasury, market)
        paid, holder_gain, treasury_gain = before[0] - after[0], after[1] - before[1], after[2] - before[2]
        assert paid == amount
        assert holder_gain + treasury_gain == amount
        # The platform's share is rounded down; the holder gets at least its share.
        assert treasury_gain == amount * (10_000 - share_bps) // 10_000
        assert holder_gain * 10_000 >= amount * share_bps
        assert after[3] == before[3] == 0
        settled = single([log.event_arguments for log in receipt.events.filter(market.ClaimSettled)])
        assert (settled["holderAmount"], settled["platformAmount"]) == (holder_gain, treasury_gain)
