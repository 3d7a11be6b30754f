"""Settlement of cases on a real anvil with the indexer and a real SMTP server: the service signs a quote for a
payable case, the payer pays it with its own account (`settleClaim`), the indexer confirms `ClaimSettled` and the
case closes as settled with the payouts recorded, split 70/30 to the last unit. A tampered quote, a quote paid by
someone else and a replayed settlement are refused by the contract, with nothing changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.backend.chainops import CPY, GAS, SETTLER_KEY
from tests.backend.integration.cases.test_service import OPERATOR_MAIL, POLICY, World
from tests.backend.integration.cases.test_service import world as service_world  # noqa: F401 - the fixture
from tests.backend.integration.registration.support import CASEWORKER
from tracemark.cases.split import Handler
from tracemark.cases.workflow import CaseState, holder_history
from tracemark.chain.eip712 import SettlementQuote
from tracemark.mail import SmtpMailer
from tracemark.services.cases import (
    CaseNotFoundError,
    CasesService,
    ClaimedUse,
    NotPayableError,
    SettlementUnavailableError,
    Verdict,
    chain_case_id,
)

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


@pytest.fixture
def w(service_world: World) -> World:  # noqa: F811 - the imported fixture, by its name
    """The cases' world of test_service: a deployed anvil, indexed, with sightings, an SMTP server, a database."""
    return service_world


def settling_service(w: World, *, key: str | None = SETTLER_KEY) -> CasesService:
    mailer = SmtpMailer("127.0.0.1", w.smtp.port, sender="Tracemark <cases@tracemark.example>", security="none",
                        timeout_s=10)
    return CasesService(w.database, 31337, w.clock, policy=POLICY, transport=mailer,
                        portal_url="https://tracemark.example/portal", settlement_key=key,
                        market_address=w.chain.market.address)


def approved_case(w: World, svc: CasesService) -> str:
    case = svc.review_finding(w.sightings["claimed"], w.alice, Verdict.ILLEGAL, "no licence given")
    assert svc.check_licence(case.case_id, w.alice).state is CaseState.CHECKED
    svc.submit_claim(case.case_id, w.alice, ClaimedUse())
    svc.decide(case.case_id, CASEWORKER.address, True, "match, evidence and standing checked")
    return case.case_id


def balance(w: World, account: str) -> int:
    data = w.chain.cpy.encode_abi("balanceOf", args=[account])
    return int(w.chain.rpc("eth_call", [{"to": w.chain.cpy.address, "data": data}, "latest"]), 16)


def pay(w: World, payer: str, quote: SettlementQuote, signature: bytes) -> int:
    """Sends `settleClaim(quote, signature)` from `payer`, mines it to confirmation and indexes; 1 if it succeeded."""
    data = w.chain.market.encode_abi("settleClaim", args=[tuple(vars(quote).values()), signature])
    w.chain._queue(payer, w.chain.market.address, data, GAS["settle"])
    hashes = w.chain.flush()
    w.chain.mine(4)
    ok = w.chain.receipts_ok(hashes)
    w.index()
    return ok


def test_offer_settled_on_chain_splits_70_30_and_closes_the_case(w: World) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    payer, stranger = w.chain.users[3], w.bob
    w.chain.fund(payer)
    w.chain.fund(stranger)
    hashes = w.chain.flush()
    w.chain.mine()
    assert w.chain.receipts_ok(hashes) == len(hashes)
    with pytest.raises(NotPayableError):  # approved, no letter yet: nothing to pay
        svc.quote(case_id, payer)
    assert [d.to_state for d in svc.scheduler().run_once().applied] == [CaseState.OFFER]
    letter = w.smtp.inbox.messages[0]
    assert letter.rcpt_tos == [OPERATOR_MAIL] and case_id in letter.message.get_content()

    offer = svc.quote(case_id, payer)
    quote = offer.quote
    assert quote.caseId == chain_case_id(case_id) and len(quote.caseId) == 32
    assert chain_case_id(case_id) == chain_case_id(case_id) != chain_case_id(case_id + "x")
    assert (quote.amount, quote.holderShareBps, quote.payer) == (40 * CPY, 7000, payer)  # the post-licence price
    assert offer.split.holder == 28 * CPY and offer.split.platform == 12 * CPY
    deadline = w.clock.now() + timedelta(minutes=30)
    assert quote.deadline == int(deadline.timestamp())
    typed = offer.typed_data
    assert typed["primaryType"] == "SettlementQuote"
    assert typed["domain"]["verifyingContract"] == w.chain.market.address and typed["domain"]["chainId"] == 31337
    assert typed["message"]["caseId"] == "0x" + quote.caseId.hex() and typed["message"]["amount"] == 40 * CPY
    call = offer.call()
    assert call["function"] == "settleClaim" and call["args"][1] == "0x" + offer.signature.hex()

    holder0, treasury0, payer0 = balance(w, w.alice), balance(w, w.chain.treasury), balance(w, payer)
    before = svc.any_case(case_id)

    # a tampered quote (a lower amount, a bigger holder share, another case) and a quote paid by someone else
    for bad in (replace(quote, amount=CPY), replace(quote, holderShareBps=10_000),
                replace(quote, caseId=chain_case_id("another case"))):
        assert pay(w, payer, bad, offer.signature) == 0
    assert pay(w, stranger, quote, offer.signature) == 0
    assert svc.close_settled() == [] and svc.payout(case_id) is None
    assert (balance(w, w.alice), balance(w, w.chain.treasury), balance(w, payer)) == (holder0, treasury0, payer0)
    unchanged = svc.any_case(case_id)
    assert (unchanged.state, unchanged.version) == (CaseState.OFFER, before.version)

    assert pay(w, payer, quote, offer.signature) == 1
    assert balance(w, w.alice) - holder0 == 28 * CPY  # exactly 70 %
    assert balance(w, w.chain.treasury) - treasury0 == 12 * CPY  # exactly 30 %
    assert payer0 - balance(w, payer) == 40 * CPY
    assert svc.close_settled() == [case_id]
    settled = svc.case_of(case_id, w.alice)
    assert settled.state is CaseState.SETTLED and not settled.is_open
    paid = svc.payout(case_id)
    assert paid is not None and (paid.holder_amount, paid.platform_amount) == (28 * CPY, 12 * CPY)
    assert paid.holder.lower() == w.alice.lower() and paid.payer.lower() == payer.lower()
    last = holder_history(settled)[-1]
    assert last.state is CaseState.SETTLED and str(28 * CPY) in last.why and str(12 * CPY) in last.why
    assert svc.close_settled() == []  # once
    with pytest.raises(NotPayableError):
        svc.quote(case_id, payer)

    # replayed: the same signed quote again
    version = settled.version
    assert pay(w, payer, quote, offer.signature) == 0
    assert (balance(w, w.alice), balance(w, w.chain.treasury)) == (holder0 + 28 * CPY, treasury0 + 12 * CPY)
    assert svc.close_settled() == []
    again = svc.any_case(case_id)
    assert (again.state, again.version) == (CaseState.SETTLED, version)
    w.clock.advance(400 * DAY)  # settled: the scheduler writes no more letters
    assert svc.scheduler().run_once().applied == []
    assert len(w.smtp.inbox.messages) == 1


def test_damages_are_quoted_and_split_50_50_abroad(w: World) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    svc.scheduler().run_once()
    for wait in (14, 10):  # reminder, damages
        w.clock.advance(wait * DAY)
        svc.scheduler().run_once()
    assert svc.any_case(case_id).state is CaseState.DAMAGES
    payer = w.chain.users[3]
    w.chain.fund(payer)
    hashes = w.chain.flush()
    w.chain.mine()
    assert w.chain.receipts_ok(hashes) == len(hashes)
    damages = svc.preview(case_id, w.alice, ClaimedUse()).breakdown.total
    offer = svc.quote(case_id, payer, handler=Handler.LAWYER, handler_country="FR")
    assert offer.quote.amount == damages != 40 * CPY and offer.quote.holderShareBps == 5000
    assert svc.quote(case_id, payer, handler=Handler.LAWYER, handler_country="DE").quote.holderShareBps == 7000
    holder0, treasury0 = balance(w, w.alice), balance(w, w.chain.treasury)
    assert pay(w, payer, offer.quote, offer.signature) == 1
    platform = damages * 5000 // 10_000
    assert balance(w, w.alice) - holder0 == damages - platform
    assert balance(w, w.chain.treasury) - treasury0 == platform
    assert svc.close_settled() == [case_id]
    assert svc.any_case(case_id).state is CaseState.SETTLED


def test_quotes_are_refused_without_a_signer_a_case_or_an_address(w: World) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    svc.scheduler().run_once()
    with pytest.raises(SettlementUnavailableError):
        settling_service(w, key=None).quote(case_id, w.chain.users[3])
    with pytest.raises(CaseNotFoundError):
        svc.quote("no-such-case", w.chain.users[3])
    with pytest.raises(ValueError):
        svc.quote(case_id, "not an address")
    assert svc.any_case(case_id).state is CaseState.OFFER
