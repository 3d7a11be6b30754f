"""The cases service end to end on a real anvil with the indexer, on SQLite and PostgreSQL, and a real SMTP
server on loopback: sighting -> finding -> licence check -> claim -> review -> letters, with time moved through the
escalation and the scheduler restarted in between; a licensee is never written to; a disputed certificate opens no
case; another holder sees nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.backend.chainops import CPY, DevChain
from tests.backend.integration.indexer.support import new_indexer
from tests.backend.integration.mail.conftest import Server
from tests.backend.integration.registration.support import CASEWORKER
from tracemark.cases.clock import ManualClock
from tracemark.cases.deadlines import DeadlinePolicy
from tracemark.cases.licence_check import CheckOutcome
from tracemark.cases.workflow import CaseState, ClaimRefusedError, TransitionError, holder_history
from tracemark.mail import SmtpMailer
from tracemark.services.cases import CaseNotFoundError, CasesService, ClaimedUse, Verdict
from tracemark.store import Database
from tracemark.store.sighting_repository import record_sighting, save_site

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
POLICY = DeadlinePolicy(reminder_after=14 * DAY, damages_after=10 * DAY, lawyer_after=7 * DAY, court_after=21 * DAY)
OPERATOR_MAIL = "info@muster-gmbh.de"


@dataclass
class World:
    chain: DevChain
    database: Database
    clock: ManualClock
    smtp: Server
    sightings: dict[str, int]
    tokens: dict[str, int]
    alice: str
    bob: str
    licensee: str

    def service(self) -> CasesService:  # a new instance each time: a restart keeps nothing in memory
        mailer = SmtpMailer("127.0.0.1", self.smtp.port, sender="Tracemark <cases@tracemark.example>",
                            security="none", timeout_s=10)
        return CasesService(self.database, 31337, self.clock, policy=POLICY, transport=mailer,
                            portal_url="https://tracemark.example/portal")

    def index(self) -> None:
        new_indexer(self.database, self.chain, confirmations=2).catch_up()


@pytest.fixture
def world(dev_chain: DevChain, plain_smtp: Server, any_database: Database) -> Iterator[World]:
    chain = dev_chain
    alice, bob, licensee = chain.users[:3]  # unlocked accounts of the node: they send their own transactions
    tokens = {name: chain.register(alice) for name in ("claimed", "licensed", "disputed", "later", "buys_later")}
    tokens["bobs"] = chain.register(bob)
    hashes = chain.flush()
    chain.mine()
    chain.set_offer(tokens["claimed"], alice, kind=1, price=40 * CPY, duration=365 * 86_400)
    chain.set_offer(tokens["licensed"], alice, kind=1, price=10 * CPY, duration=365 * 86_400)
    chain.set_offer(tokens["buys_later"], alice, kind=1, price=10 * CPY, duration=365 * 86_400)
    chain.fund(licensee)
    hashes += chain.flush()
    chain.mine()
    chain.buy(tokens["licensed"], licensee)
    chain.dispute(tokens["disputed"])
    hashes += chain.flush()
    chain.mine(4)
    assert chain.receipts_ok(hashes) == len(hashes)
    database = any_database  # SQLite, then PostgreSQL where it is installed
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    sightings: dict[str, int] = {}
    with database.write() as session:
        shop = save_site(session, "shop.example.de", checked_at=t0, country_code="DE", country_reason="address",
                         country_basis="address", operator={"name": "Muster GmbH", "email": OPERATOR_MAIL})
        licensed = save_site(session, "licensed.example.de", checked_at=t0, country_code="DE", country_reason="tld",
                             country_basis="tld", operator={"name": "Lizenz AG", "email": "recht@lizenz.example",
                                                            "wallets": [licensee]})
        for name, site in (("claimed", shop), ("licensed", licensed), ("disputed", shop), ("later", shop),
                           ("bobs", shop), ("buys_later", licensed)):
            for day in (0, 30):  # online for 30 days
                row = record_sighting(session, site=site, certificate_id=f"{tokens[name]:064x}",
                                      page_url=f"https://{site.host}/{name}", image_url=f"https://{site.host}/{name}.jpg",
                                      score=0.93, match_report={"score": 0.93}, seen_at=t0 + day * DAY)
            sightings[name] = row.id
    w = World(chain, database, ManualClock(t0 + 31 * DAY), plain_smtp, sightings, tokens, alice, bob, licensee)
    w.index()
    yield w


def test_sighting_to_court_each_letter_once_across_restarts(world: World) -> None:
    svc = world.service()
    finding = svc.finding(world.sightings["claimed"], world.alice)
    assert finding.state is CaseState.FINDING
    assert svc.finding(world.sightings["claimed"], world.alice).case_id == finding.case_id  # one case per sighting
    case = svc.review_finding(world.sightings["claimed"], world.alice, Verdict.ILLEGAL, "no licence given")
    checked = world.service().check_licence(case.case_id, world.alice)
    assert checked.state is CaseState.CHECKED and checked.latest_check is not None
    assert checked.latest_check.outcome is CheckOutcome.CLEAR
    use = ClaimedUse()
    preview = svc.preview(case.case_id, world.alice, use)
    assert preview.offer_price == 40 * CPY
    assert preview.breakdown.total > 0 and preview.breakdown.lines
    assert preview.split.holder + preview.split.platform == preview.breakdown.total
    assert preview.split.platform == preview.breakdown.total * 3000 // 10_000
    with pytest.raises(TransitionError):  # the holder cannot approve its own claim
        svc.decide(case.case_id, world.alice, True, "mine")
    svc.submit_claim(case.case_id, world.alice, use)
    assert [c.case_id for c in svc.review_queue()] == [case.case_id]
    with pytest.raises(TransitionError):
        svc.decide(case.case_id, world.alice, True, "a holder is no caseworker of its own case")
    approved = world.service().decide(case.case_id, CASEWORKER.address, True, "match, evidence and standing checked")
    assert approved.state is CaseState.APPROVED and world.service().review_queue() == []

    report = world.service().scheduler().run_once()
    assert [d.to_state for d in report.applied] == [CaseState.OFFER], report
    assert world.service().scheduler().run_once().applied == []
    inbox = world.smtp.inbox.messages
    assert len(inbox) == 1 and inbox[0].rcpt_tos == [OPERATOR_MAIL]
    link = re.search(r"https://tracemark\.example/portal/c/[A-Za-z0-9_-]{43}", inbox[0].message.get_content())
    assert link is not None and case.case_id not in link.group(0)  # an unguessable link, not the case id

    for stage, wait in ((CaseState.REMINDER, 14), (CaseState.DAMAGES, 10), (CaseState.LAWYER_WARNING, 7),
                        (CaseState.COURT, 21)):
        world.clock.advance(wait * DAY - timedelta(seconds=1))
        assert world.service().scheduler().run_once().applied == []
        world.clock.advance(timedelta(seconds=1))
        report = world.service().scheduler().run_once()
        assert [d.to_state for d in report.applied] == [stage], report
        assert world.service().scheduler().run_once().applied == []  # restarted at once: nothing twice
    stored = world.service().case_of(case.case_id, world.alice)
    assert stored.state is CaseState.COURT
    letters = world.service().letters_of(case.case_id)
    assert [x.kind.value for x in letters] == ["offer", "reminder", "damages", "lawyer_warning", "court"]
    assert all(x.sent_at is not None and x.language == "de" for x in letters)
    assert len(world.smtp.inbox.messages) == 5
    assert len({m.message["Message-ID"] for m in world.smtp.inbox.messages}) == 5
    history = holder_history(stored)
    assert [h.state for h in history][-5:] == [CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES,
                                               CaseState.LAWYER_WARNING, CaseState.COURT]
    assert all(h.why for h in history)


def test_a_licensee_is_never_sent_a_claim(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["licensed"], world.alice, Verdict.ILLEGAL, "looks unlicensed")
    checked = svc.check_licence(case.case_id, world.alice)
    assert checked.state is CaseState.LICENSED and not checked.is_open
    assert checked.latest_check is not None and checked.latest_check.outcome is CheckOutcome.LICENSED
    with pytest.raises(TransitionError):
        svc.submit_claim(case.case_id, world.alice, ClaimedUse())
    world.clock.advance(400 * DAY)
    assert svc.scheduler().run_once().applied == []
    assert world.smtp.inbox.messages == [] and svc.letters_of(case.case_id) == []


def test_a_whitelisted_domain_ends_the_finding_and_is_remembered(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["claimed"], world.alice, Verdict.WHITELIST, "our reseller")
    assert case.state is CaseState.WHITELISTED and not case.is_open
    later = svc.finding(world.sightings["later"], world.alice)  # the same host, another image
    illegal = svc.review_finding(world.sightings["later"], world.alice, Verdict.ILLEGAL, "unsure")
    assert illegal.case_id == later.case_id
    assert svc.check_licence(later.case_id, world.alice).state is CaseState.LICENSED  # by the whitelist


def test_a_disputed_certificate_cannot_open_a_case(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["disputed"], world.alice, Verdict.ILLEGAL, "copied")
    blocked = svc.check_licence(case.case_id, world.alice)
    assert blocked.state is CaseState.ILLEGAL  # the check is recorded, the case does not move
    assert blocked.latest_check is not None and blocked.latest_check.outcome is CheckOutcome.BLOCKED
    with pytest.raises(TransitionError):
        svc.submit_claim(case.case_id, world.alice, ClaimedUse())
    # disputed after a clear check: the claim is refused on its standing
    later = svc.review_finding(world.sightings["later"], world.alice, Verdict.ILLEGAL, "copied")
    assert svc.check_licence(later.case_id, world.alice).state is CaseState.CHECKED
    world.chain.dispute(world.tokens["later"])
    hashes = world.chain.flush()
    world.chain.mine(4)
    assert world.chain.receipts_ok(hashes) == 1
    world.index()
    with pytest.raises(ClaimRefusedError, match="disputed"):
        svc.submit_claim(later.case_id, world.alice, ClaimedUse())
    assert svc.case_of(later.case_id, world.alice).state is CaseState.CHECKED
    assert svc.review_queue() == []


def test_another_holder_sees_nothing(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["claimed"], world.alice, Verdict.ILLEGAL, "copied")
    for call in (
        lambda: svc.case_of(case.case_id, world.bob),
        lambda: svc.check_licence(case.case_id, world.bob),
        lambda: svc.preview(case.case_id, world.bob, ClaimedUse()),
        lambda: svc.submit_claim(case.case_id, world.bob, ClaimedUse()),
        lambda: svc.review_finding(world.sightings["claimed"], world.bob, Verdict.LEGAL, "mine"),
        lambda: svc.finding(world.sightings["bobs"], world.alice),
        lambda: svc.case_of("no-such-case", world.alice),
        lambda: svc.finding(10_000, world.alice),
    ):
        with pytest.raises(CaseNotFoundError):
            call()
    assert svc.cases_of(world.bob) == []
    assert [c.case_id for c in svc.cases_of(world.alice)] == [case.case_id]
    assert svc.case_of(case.case_id, world.alice).state is CaseState.ILLEGAL


def test_a_claimant_who_no_longer_holds_the_certificate_is_refused(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["claimed"], world.alice, Verdict.ILLEGAL, "copied")
    assert svc.check_licence(case.case_id, world.alice).state is CaseState.CHECKED
    world.chain.transfer(world.tokens["claimed"], world.alice, world.bob)
    hashes = world.chain.flush()
    world.chain.mine(4)
    assert world.chain.receipts_ok(hashes) == 1
    world.index()
    with pytest.raises(ClaimRefusedError, match="does not hold the certificate"):
        svc.submit_claim(case.case_id, world.alice, ClaimedUse())
    with pytest.raises(CaseNotFoundError):  # the sighting now belongs to the new holder's findings
        svc.finding(world.sightings["claimed"], world.alice)
    assert svc.case_of(case.case_id, world.alice).state is CaseState.CHECKED


def test_a_licence_bought_after_approval_ends_the_case_before_any_letter(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["buys_later"], world.alice, Verdict.ILLEGAL, "copied")
    assert svc.check_licence(case.case_id, world.alice).state is CaseState.CHECKED
    svc.submit_claim(case.case_id, world.alice, ClaimedUse())
    svc.decide(case.case_id, CASEWORKER.address, True, "verified")
    world.chain.buy(world.tokens["buys_later"], world.licensee)  # the operator's wallet licenses it meanwhile
    hashes = world.chain.flush()
    world.chain.mine(4)
    assert world.chain.receipts_ok(hashes) == 1
    world.index()
    report = world.service().scheduler().run_once()
    assert report.ended_by_licence == [case.case_id] and report.applied == []
    stored = svc.case_of(case.case_id, world.alice)
    assert stored.state is CaseState.LICENSED and not stored.is_open
    world.clock.advance(100 * DAY)
    assert world.service().scheduler().run_once().applied == []
    assert world.smtp.inbox.messages == [] and svc.letters_of(case.case_id) == []


def test_racing_requests_open_one_case_per_sighting(world: World) -> None:
    ids: list[str] = []
    barrier = threading.Barrier(6)

    def open_it() -> None:
        svc = world.service()
        barrier.wait()
        ids.append(svc.finding(world.sightings["claimed"], world.alice).case_id)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert [c.case_id for c in world.service().cases_of(world.alice)] == ids[:1]
