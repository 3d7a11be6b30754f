"""The holder's and the caseworker's views over the same cases, through the real app on SQLite and PostgreSQL with
real sign-in sessions: withdrawal, a caseworker's answer to a case on hold, messages and notes, the recipient's
documents, payouts. Another holder's case is 404 with nothing changed, a holder on a caseworker's route is 403, a
move the workflow does not allow is 409 with nothing changed, a malformed request is 422. Last, on a real anvil with
the indexer and an SMTP server: a withdrawn case gets no further letter when time moves on, and a resumed case's
deadline runs from the resumption."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from tests.backend.integration.cases.test_service import World
from tests.backend.integration.cases.test_service import world as service_world  # noqa: F401 - the fixture
from tests.backend.integration.cases.test_settlement import approved_case, settling_service
from tests.backend.integration.registration.support import CASEWORKER, make_app, sign_in, wallet
from tracemark.cases.clock import ManualClock
from tracemark.cases.licence_check import CheckOutcome, LicenceCheck, Observation, Source
from tracemark.cases.scheduler import ConcurrencyError
from tracemark.cases.workflow import (
    Actor,
    Case,
    CaseState,
    EventKind,
    Role,
    Standing,
    TransitionError,
    open_case,
    recipient_history,
    record_answer,
    record_licence_check,
    submit_claim,
    transition,
)
from tracemark.chain.indexer.events import pos
from tracemark.services.cases import AnswerKind, CasesService, chain_case_id
from tracemark.store import Database
from tracemark.store.case_repository import SqlCaseRepository
from tracemark.store.chain_models import ChainCursor, Settlement

pytestmark = pytest.mark.integration

ALICE, BOB = wallet(0xA11CE), wallet(0xB0B)
CHAIN = 31337
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
_PATH = [CaseState.ILLEGAL, CaseState.CHECKED, CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW, CaseState.APPROVED,
         CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES]


def walked(case_id: str, holder: str, state: CaseState, start: datetime) -> Case:
    """A case of `holder` walked to `state` through the real workflow operations, one minute per step."""
    system, worker = Actor(Role.SYSTEM, "scheduler"), Actor(Role.CASEWORKER, "0x" + "c1" * 20)
    owner = Actor(Role.HOLDER, holder.lower())
    case = open_case(case_id=case_id, certificate_id=7, holder=holder.lower(), host="shop.example.de",
                     page_url=f"https://shop.example.de/{case_id}", image_url=f"https://shop.example.de/{case_id}.jpg",
                     country="DE", at=start)
    t = start
    for target in _PATH:
        if case.state is state:
            break
        t += timedelta(minutes=1)
        if target is CaseState.ILLEGAL:
            case = transition(case, target, actor=owner, at=t, reason="no licence known")
        elif target is CaseState.CHECKED:
            check = LicenceCheck(CheckOutcome.CLEAR, (Observation(Source.LIMITATION, CheckOutcome.CLEAR, "in time"),),
                                 t, case.certificate_id, case.host)
            case = record_licence_check(case, check, actor=system, at=t)
        elif target is CaseState.CLAIM_SUBMITTED:
            case = submit_claim(case, actor=owner, at=t, standing=Standing(holder, False), reason="my photograph")
        elif target in (CaseState.IN_REVIEW, CaseState.APPROVED):
            case = transition(case, target, actor=worker, at=t, reason="match and standing verified")
        else:
            case = transition(case, target, actor=system, at=t, reason="deadline")
    assert case.state is state
    return case


@dataclass
class Views:
    database: Database
    repo: SqlCaseRepository
    client: TestClient
    clock: ManualClock
    data_dir: Path
    alice: dict[str, str]
    bob: dict[str, str]
    worker: dict[str, str]

    def add(self, case_id: str, holder: str, state: CaseState, *, held: bool = False) -> Case:
        case = walked(case_id, holder, state, self.clock.now() - timedelta(days=2))
        if held:
            case = record_answer(case, actor=Actor(Role.RECIPIENT, "recipient"),
                                 at=self.clock.now() - timedelta(days=1),
                                 reason="message: we bought a licence from your agency")
        self.repo.save(case, 0)
        return case

    def stored(self, case_id: str) -> Case:
        return self.repo.get(case_id)

    def service(self) -> CasesService:
        return CasesService(self.database, CHAIN, self.clock, documents_dir=self.data_dir / "case-documents")


@pytest.fixture
def v(any_database: Database, tmp_path: Path) -> Iterator[Views]:
    url = any_database.engine.url.render_as_string(hide_password=False)
    app = make_app(tmp_path, database_url=url, caseworkers=[CASEWORKER.address])
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    app.state.cases_clock = clock
    with TestClient(app) as client:
        yield Views(any_database, SqlCaseRepository(any_database), client, clock, tmp_path, sign_in(client, ALICE),
                    sign_in(client, BOB), sign_in(client, CASEWORKER))


def unchanged(v: Views, before: Case) -> None:
    after = v.stored(before.case_id)
    assert (after.version, after.state, after.on_hold, after.events) == (
        before.version, before.state, before.on_hold, before.events)


# --- withdrawal -------------------------------------------------------------------------------------------------------


def test_the_holder_withdraws_an_open_case(v: Views) -> None:
    offer = v.add("alice-offer", ALICE.address, CaseState.OFFER)
    finding = v.add("alice-finding", ALICE.address, CaseState.ILLEGAL)
    url = f"/v1/cases/{offer.case_id}/withdrawal"

    assert v.client.post(url, json={"reason": "x"}).status_code == 401
    for who in (v.bob, v.worker):  # another holder, and a caseworker (who does not withdraw as holder): 404
        answer = v.client.post(url, json={"reason": "not mine to withdraw"}, headers=who)
        assert answer.status_code == 404 and answer.json()["detail"] == "no such case or finding"
    for body in ({"reason": ""}, {}, {"reason": "x" * 2001}, {"why": "forgot"}):
        assert v.client.post(url, json=body, headers=v.alice).status_code == 422
    unchanged(v, offer)

    done = v.client.post(url, json={"reason": "we agreed on a licence directly"}, headers=v.alice)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["open"], body["on_hold"]) == ("withdrawn", False, False)
    last = body["history"][-1]
    assert (last["kind"], last["state"], last["why"]) == ("transition", "withdrawn", "we agreed on a licence directly")
    assert last["who"] == f"holder ({ALICE.address.lower()})"
    stored = v.stored(offer.case_id)
    assert stored.state is CaseState.WITHDRAWN and stored.version == offer.version + 1

    again = v.client.post(url, json={"reason": "twice"}, headers=v.alice)
    assert again.status_code == 409 and "the case ended as withdrawn" in again.json()["detail"]
    unchanged(v, stored)
    early = v.client.post(f"/v1/cases/{finding.case_id}/withdrawal", json={"reason": "r"}, headers=v.alice)
    assert early.status_code == 409 and "illegal -> withdrawn refused: no such transition" in early.json()["detail"]
    unchanged(v, finding)


# --- a caseworker's answer to a case on hold --------------------------------------------------------------------------


def test_a_caseworker_resumes_or_ends_a_case_on_hold(v: Views) -> None:
    held = v.add("held-1", ALICE.address, CaseState.REMINDER, held=True)
    url = f"/v1/cases/{held.case_id}/resumption"
    for who in (v.alice, v.bob):
        answer = v.client.post(url, json={"outcome": "resume", "reason": "x"}, headers=who)
        assert answer.status_code == 403 and answer.json()["detail"] == "only caseworkers may do this"
    for body in ({"outcome": "settled", "reason": "paid"}, {"outcome": "resume", "reason": ""}, {"reason": "r"},
                 {"outcome": "court", "reason": "r"}):
        assert v.client.post(url, json=body, headers=v.worker).status_code == 422
    assert v.client.post("/v1/cases/nope/resumption", json={"outcome": "resume", "reason": "r"},
                         headers=v.worker).status_code == 404
    unchanged(v, held)

    v.clock.advance(timedelta(hours=2))
    resumed = v.client.post(url, json={"outcome": "resume", "reason": "the licence is for another image"},
                            headers=v.worker)
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert (body["state"], body["on_hold"], body["open"]) == ("reminder", False, True)
    assert body["history"][-1] | {"at": None} == {"at": None, "kind": "resumed", "state": "reminder",
                                                  "who": "caseworker", "why": "the licence is for another image"}
    stored = v.stored(held.case_id)
    assert stored.stage_started_at == v.clock.now()  # the stage's deadline runs from the resumption
    for outcome in ("resume", "licence_shown"):  # nothing waits any more
        again = v.client.post(url, json={"outcome": outcome, "reason": "again"}, headers=v.worker)
        assert again.status_code == 409 and "not on hold" in again.json()["detail"]
    unchanged(v, stored)

    for n, (outcome, state) in enumerate((("licence_shown", "licence_shown"), ("rejected", "rejected"),
                                          ("withdrawn", "withdrawn"))):
        case = v.add(f"held-end-{n}", ALICE.address, CaseState.DAMAGES, held=True)
        ended = v.client.post(f"/v1/cases/{case.case_id}/resumption",
                              json={"outcome": outcome, "reason": f"ended: {outcome}"}, headers=v.worker)
        assert ended.status_code == 200, ended.text
        assert (ended.json()["state"], ended.json()["open"], ended.json()["on_hold"]) == (state, False, False)
        assert v.stored(case.case_id).last_event.actor.role is Role.CASEWORKER
        late = v.client.post(f"/v1/cases/{case.case_id}/resumption", json={"outcome": "resume", "reason": "r"},
                             headers=v.worker)
        assert late.status_code == 409
    own = v.add("workers-own", CASEWORKER.address, CaseState.OFFER, held=True)  # a caseworker's own case
    refused = v.client.post(f"/v1/cases/{own.case_id}/resumption", json={"outcome": "resume", "reason": "mine"},
                            headers=v.worker)
    assert refused.status_code == 409 and "of its own" in refused.json()["detail"]
    unchanged(v, own)


# --- messages and notes -----------------------------------------------------------------------------------------------


def test_caseworker_messages_and_holder_notes(v: Views) -> None:
    case = v.add("talk", ALICE.address, CaseState.OFFER)
    early = v.add("talk-early", ALICE.address, CaseState.CHECKED)
    messages, notes = f"/v1/cases/{case.case_id}/messages", f"/v1/cases/{case.case_id}/notes"

    assert v.client.post(messages, json={"text": "hi"}, headers=v.alice).status_code == 403
    assert v.client.post(notes, json={"text": "hi"}, headers=v.bob).status_code == 404
    assert v.client.post(notes, json={"text": "hi"}, headers=v.worker).status_code == 404  # notes are the holder's
    assert v.client.post(messages, json={"text": "hi"}).status_code == 401
    for url, who in ((messages, v.worker), (notes, v.alice)):
        for body in ({"text": ""}, {"text": "x" * 5001}, {}):
            assert v.client.post(url, json=body, headers=who).status_code == 422
    unchanged(v, case)

    sent = v.client.post(messages, json={"text": "We have asked the site for the licence."}, headers=v.worker)
    assert sent.status_code == 200, sent.text
    assert sent.json()["history"][-1] | {"at": None} == {
        "at": None, "kind": "message", "state": "offer", "who": "caseworker",
        "why": "We have asked the site for the licence."}
    noted = v.client.post(notes, json={"text": "They are a former client; their licence ran out."}, headers=v.alice)
    assert noted.status_code == 200, noted.text
    assert noted.json()["state"] == "offer" and noted.json()["on_hold"] is False
    seen = v.client.get(f"/v1/cases/{case.case_id}", headers=v.alice).json()["history"]
    assert [h["kind"] for h in seen[-2:]] == ["message", "note"]
    assert v.client.get(f"/v1/cases/{case.case_id}", headers=v.worker).json()["history"] == seen
    stored = v.stored(case.case_id)
    assert [e.kind for e in stored.events[-2:]] == [EventKind.MESSAGE, EventKind.NOTE]
    assert stored.events[-1].actor == Actor(Role.HOLDER, ALICE.address.lower())
    assert stored.stage_started_at == case.stage_started_at  # the deadline did not move
    shown = [h.why for h in recipient_history(stored)]  # what the clearing portal shows the recipient
    assert "We have asked the site for the licence." in shown
    assert "They are a former client; their licence ran out." not in shown

    for url, who in ((f"/v1/cases/{early.case_id}/messages", v.worker), (f"/v1/cases/{early.case_id}/notes", v.alice)):
        answer = v.client.post(url, json={"text": "too early"}, headers=who)
        assert answer.status_code == 409 and "no claim has been submitted" in answer.json()["detail"]
    unchanged(v, early)
    assert v.client.post(f"/v1/cases/{case.case_id}/withdrawal", json={"reason": "done"},
                         headers=v.alice).status_code == 200
    ended = v.stored(case.case_id)
    answer = v.client.post(messages, json={"text": "after the end"}, headers=v.worker)
    assert answer.status_code == 409 and "the case ended as withdrawn" in answer.json()["detail"]
    unchanged(v, ended)


# --- the recipient's documents ----------------------------------------------------------------------------------------


def test_documents_are_listed_and_served_to_the_holder_and_caseworkers_only(v: Views) -> None:
    case = v.add("docs", ALICE.address, CaseState.OFFER)
    bobs = v.add("bobs-docs", BOB.address, CaseState.OFFER)
    svc = v.service()
    folder = v.data_dir / "case-documents"
    answered = svc.answer(case, AnswerKind.LICENCE, "our licence", PDF)  # as the portal stores it
    svc.answer(answered, AnswerKind.MESSAGE, "and the invoice", PNG, documents_dir=folder)
    svc.answer(bobs, AnswerKind.LICENCE, "bob's licence", PNG + b"bob")
    pdf_name, png_name = f"{hashlib.sha256(PDF).hexdigest()}.pdf", f"{hashlib.sha256(PNG).hexdigest()}.png"
    bobs_name = f"{hashlib.sha256(PNG + b'bob').hexdigest()}.png"
    assert sorted(p.name for p in (folder / case.case_id).iterdir()) == sorted([pdf_name, png_name])  # no temp files
    (folder / case.case_id / "notes.txt").write_text("not a document")
    os.symlink("/etc/hostname", folder / case.case_id / f"{'ab' * 32}.pdf")  # a link is never followed

    listing = f"/v1/cases/{case.case_id}/documents"
    for who in (v.alice, v.worker):
        answer = v.client.get(listing, headers=who)
        assert answer.status_code == 200, answer.text
        assert [(d["name"], d["media_type"], d["size"]) for d in answer.json()] == [
            (pdf_name, "application/pdf", len(PDF)), (png_name, "image/png", len(PNG))]
        assert all(d["answered_at"] is not None and d["sha256"] == d["name"][:64] for d in answer.json())
    assert v.client.get(listing, headers=v.bob).status_code == 404
    assert v.client.get(listing).status_code == 401
    assert v.client.get("/v1/cases/nope/documents", headers=v.worker).status_code == 404

    for who in (v.alice, v.worker):
        got = v.client.get(f"{listing}/{pdf_name}", headers=who)
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["content-disposition"] == f'attachment; filename="{pdf_name}"'
        assert got.headers["x-content-type-options"] == "nosniff"
    assert v.client.get(f"{listing}/{png_name}", headers=v.alice).headers["content-type"] == "image/png"
    assert v.client.get(f"{listing}/{pdf_name}", headers=v.bob).status_code == 404
    assert v.client.get(f"{listing}/{bobs_name}", headers=v.alice).status_code == 404  # bob's, not of this case
    assert v.client.get(f"{listing}/{bobs_name}", headers=v.worker).status_code == 404
    assert v.client.get(f"/v1/cases/{bobs.case_id}/documents/{bobs_name}", headers=v.worker).status_code == 200
    assert v.client.get(f"{listing}/{'ab' * 32}.pdf", headers=v.alice).status_code == 404  # the link
    assert v.client.get(f"{listing}/{'cd' * 32}.pdf", headers=v.alice).status_code == 404
    for bad in ("notes.txt", "..%2F..%2F..%2Fetc%2Fpasswd", f"..%2F{bobs.case_id}%2F{bobs_name}",
                pdf_name.upper(), pdf_name.replace(".pdf", ".exe"), pdf_name + ".pdf", "%2Fetc%2Fpasswd"):
        assert v.client.get(f"{listing}/{bad}", headers=v.alice).status_code in (404, 422), bad
    assert v.client.get(f"{listing}/../../{bobs.case_id}/documents/{bobs_name}", headers=v.alice).status_code == 404

    (folder / case.case_id / png_name).write_bytes(PNG + b"tampered")
    damaged = v.client.get(f"{listing}/{png_name}", headers=v.worker)
    assert damaged.status_code == 500 and PNG not in damaged.content
    assert "does not match its sha256" in damaged.json()["detail"]

    ended = v.add("docs-ended", ALICE.address, CaseState.APPROVED)  # no letter yet: no answer, nothing written
    with pytest.raises(TransitionError):
        svc.answer(ended, AnswerKind.LICENCE, "early", PDF)
    assert not (folder / ended.case_id).exists()
    for data in (PDF + b"stale", PDF):  # an answer on a stale read is not stored: its new document is not kept
        with pytest.raises(ConcurrencyError):
            svc.answer(case, AnswerKind.LICENCE, "again", data)
    assert not (folder / case.case_id / f"{hashlib.sha256(PDF + b'stale').hexdigest()}.pdf").exists()
    assert (folder / case.case_id / pdf_name).read_bytes() == PDF  # the one kept before stays


# --- payouts ----------------------------------------------------------------------------------------------------------


def settle(database: Database, case_id: str, holder: str, amount: int, block: int, tx: str) -> None:
    with database.write() as session:
        session.add(Settlement(
            chain_id=CHAIN, case_id="0x" + chain_case_id(case_id).hex(), certificate_id=format(7, "064x"),
            payer="0x" + "99" * 20, licence_id=format(1, "064x"), holder=holder.lower(),
            holder_amount=format(amount * 7 // 10, "x"), treasury="0x" + "77" * 20,
            platform_amount=format(amount - amount * 7 // 10, "x"), pos=pos(block, 0), block_number=block,
            tx_hash=tx))


def test_payouts_for_the_holder_and_the_caseworkers_overview(v: Views) -> None:
    assert v.client.get("/v1/cases/payouts", headers=v.alice).json()["payouts"] == []  # nothing indexed yet
    with v.database.write() as session:
        session.add(ChainCursor(chain_id=CHAIN, deployment_key="0x" + "00" * 32, start_block=1, indexed_block=12,
                                indexed_hash="0x" + "12" * 32, head_block=12, confirmed_block=10, confirmations=2))
    first = v.add("paid-1", ALICE.address, CaseState.OFFER)
    second = v.add("paid-2", ALICE.address, CaseState.DAMAGES)
    fresh = v.add("paid-unconfirmed", ALICE.address, CaseState.OFFER)
    bobs = v.add("paid-bob", BOB.address, CaseState.REMINDER)
    v.add("unpaid", ALICE.address, CaseState.OFFER)
    tx = {name: "0x" + name * 32 for name in ("a1", "a2", "a3", "b1")}
    settle(v.database, first.case_id, ALICE.address, 40_000, 5, tx["a1"])
    settle(v.database, second.case_id, ALICE.address, 100_000, 8, tx["a2"])
    settle(v.database, fresh.case_id, ALICE.address, 1_000, 12, tx["a3"])  # beyond the confirmed block
    settle(v.database, bobs.case_id, BOB.address, 10_000, 9, tx["b1"])
    moved = transition(v.stored(first.case_id), CaseState.SETTLED, actor=Actor(Role.SYSTEM, "indexer"),
                       at=v.clock.now(), reason="settled on chain")
    v.repo.save(moved, first.version)  # one closed as settled, one paid but not closed yet: both are payouts

    mine = v.client.get("/v1/cases/payouts", headers=v.alice)
    assert mine.status_code == 200, mine.text
    data = mine.json()
    assert [(p["case_id"], p["amount"], p["holder_amount"], p["platform_amount"], p["transaction"])
            for p in data["payouts"]] == [(second.case_id, "100000", "70000", "30000", tx["a2"]),
                                          (first.case_id, "40000", "28000", "12000", tx["a1"])]
    assert (data["count"], data["total_amount"], data["total_holder"], data["total_platform"]) == (
        2, "140000", "98000", "42000")
    assert [p["case_id"] for p in v.client.get("/v1/cases/payouts", headers=v.bob).json()["payouts"]] == [bobs.case_id]
    page = v.client.get("/v1/cases/payouts?limit=1&offset=1", headers=v.alice).json()
    assert [p["case_id"] for p in page["payouts"]] == [first.case_id] and page["count"] == 2

    overview = v.client.get("/v1/cases/payouts/all", headers=v.worker)
    assert overview.status_code == 200, overview.text
    assert [p["case_id"] for p in overview.json()["payouts"]] == [bobs.case_id, second.case_id, first.case_id]
    assert overview.json()["total_amount"] == "150000" and overview.json()["total_platform"] == "45000"
    assert v.client.get("/v1/cases/payouts/all", headers=v.alice).status_code == 403
    assert v.client.get("/v1/cases/payouts").status_code == 401
    for query in ("limit=0", "limit=201", "offset=-1", "limit=x"):
        assert v.client.get(f"/v1/cases/payouts?{query}", headers=v.alice).status_code == 422
        assert v.client.get(f"/v1/cases/payouts/all?{query}", headers=v.worker).status_code == 422

    withdrawn = v.client.post(f"/v1/cases/{second.case_id}/withdrawal", json={"reason": "r"}, headers=v.alice)
    assert withdrawn.status_code == 409 and "settled on chain" in withdrawn.json()["detail"]


# --- the service kept per app -----------------------------------------------------------------------------------------


def test_the_service_is_built_once_per_app_and_clock(v: Views) -> None:
    app = v.client.app
    assert v.client.get("/v1/cases", headers=v.alice).status_code == 200
    first = app.state.cases_service[-1]  # type: ignore[attr-defined]
    assert v.client.get("/v1/cases", headers=v.bob).status_code == 200
    assert app.state.cases_service[-1] is first  # type: ignore[attr-defined]
    assert first.clock is v.clock and first.documents_dir == v.data_dir / "case-documents"
    app.state.cases_clock = ManualClock(v.clock.now())  # type: ignore[attr-defined]
    assert v.client.get("/v1/cases", headers=v.alice).status_code == 200
    assert app.state.cases_service[-1] is not first  # type: ignore[attr-defined]


# --- the scheduler on a real chain ------------------------------------------------------------------------------------

DAY = timedelta(days=1)
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_account(address: str) -> LocalAccount:
    """The key of one of anvil's default accounts (its well-known mnemonic), to sign in as it."""
    Account.enable_unaudited_hdwallet_features()
    for index in range(20):
        account = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        if account.address.lower() == address.lower():
            return account
    raise AssertionError(f"{address} is not one of anvil's default accounts")


def test_a_withdrawn_case_gets_no_further_letter_and_a_resumed_one_runs_from_the_resumption(
    service_world: World, tmp_path: Path,  # noqa: F811 - the imported fixture, by its name
) -> None:
    w = service_world
    url = w.database.engine.url.render_as_string(hide_password=False)
    app = make_app(tmp_path, database_url=url, caseworkers=[CASEWORKER.address])
    app.state.cases_clock = w.clock
    client = TestClient(app)
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    assert [d.to_state for d in svc.scheduler().run_once().applied] == [CaseState.OFFER]
    assert len(w.smtp.inbox.messages) == 1

    alice, worker = sign_in(client, anvil_account(w.alice)), sign_in(client, CASEWORKER)
    held = svc.answer(svc.any_case(case_id), AnswerKind.DISPUTE, "we never used this image")
    w.clock.advance(20 * DAY)
    assert svc.scheduler().run_once().applied == []  # on hold: no reminder
    resumed = client.post(f"/v1/cases/{case_id}/resumption", json={"outcome": "resume", "reason": "it is theirs"},
                          headers=worker)
    assert resumed.status_code == 200, resumed.text
    assert svc.any_case(case_id).version == held.version + 1
    w.clock.advance(13 * DAY)  # the reminder waits 14 days from the resumption, not from the letter
    assert svc.scheduler().run_once().applied == []
    w.clock.advance(DAY)
    assert [d.to_state for d in svc.scheduler().run_once().applied] == [CaseState.REMINDER]
    assert len(w.smtp.inbox.messages) == 2

    answer = client.post(f"/v1/cases/{case_id}/withdrawal", json={"reason": "the site took the image down"},
                         headers=alice)
    assert answer.status_code == 200 and answer.json()["state"] == "withdrawn", answer.text
    withdrawn = svc.any_case(case_id)
    for _ in range(4):
        w.clock.advance(30 * DAY)
        assert svc.scheduler().run_once().applied == []
    assert len(w.smtp.inbox.messages) == 2 and len(svc.letters_of(case_id)) == 2
    assert svc.any_case(case_id).state is CaseState.WITHDRAWN
    assert svc.any_case(case_id).version == withdrawn.version
