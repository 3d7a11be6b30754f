"""The clearing portal over HTTP on a real anvil with the indexer: a case's link opens its page in the recipient's
language with the amount and its working; the payer gets a signed quote with its typed data and the contract call,
pays it from its own account, the indexer confirms and the case closes as settled, split 70/30 exactly. Another case's
link opens only that case; guessed and malformed links get the same 404; the pages allow no script; requests are
rate-limited."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.chainops import CPY
from tests.backend.integration.cases.test_service import World
from tests.backend.integration.cases.test_service import world as service_world  # noqa: F401 - the fixture
from tests.backend.integration.cases.test_settlement import approved_case, balance, pay, settling_service
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.registration.support import make_app
from tests.backend.unit.cases.support import new_case
from tracemark.cases.workflow import CaseState
from tracemark.chain.eip712 import SettlementQuote
from tracemark.services.cases import CasesService, Verdict
from tracemark.store.sighting_models import SightingEvidence

pytestmark = pytest.mark.integration


@pytest.fixture
def w(service_world: World) -> World:  # noqa: F811 - the imported fixture, by its name
    """The cases' world of test_service: a deployed anvil, indexed, with sightings, an SMTP server, a database."""
    return service_world


def portal(w: World, deployed_state: DeployedState, tmp_path: Path, **values: object) -> TestClient:
    url = w.database.engine.url.render_as_string(hide_password=False)
    app = make_app(tmp_path, rpc_url=w.chain.url, deployments_dir=deployed_state.deployments_dir, database_url=url,
                   **values)
    app.state.cases_clock = w.clock  # the scheduler's time, moved by the tests
    return TestClient(app)


def path_of(link: str) -> str:
    return link.removeprefix("https://tracemark.example/portal")


def pre(page: str, ident: str) -> object:
    found = re.search(rf'<pre id="{ident}">(.*?)</pre>', page, re.S)
    assert found is not None, page
    return json.loads(html.unescape(found.group(1)))


def test_the_portal_from_link_to_settled(w: World, deployed_state: DeployedState, tmp_path: Path) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    svc.scheduler().run_once()
    assert svc.any_case(case_id).state is CaseState.OFFER
    letter = w.smtp.inbox.messages[0].message.get_content()
    links = re.findall(r"https://tracemark\.example/portal/c/[A-Za-z0-9_-]{43}\b", letter)
    assert len(links) == 1 and case_id not in letter.split("/c/")[1][:43], letter
    link = links[0]
    assert svc.letters_of(case_id)[0].body.count(link) == 1  # the kept letter carries the same link
    other = svc.review_finding(w.sightings["later"], w.alice, Verdict.ILLEGAL, "copied")
    other_link = svc.issue_portal_link(other.case_id)
    client = portal(w, deployed_state, tmp_path)
    with w.database.write() as session:
        session.add(SightingEvidence(sighting_id=w.sightings["claimed"], kind="image", warc="crawl-1.warc.gz",
                                     record_id="<urn:uuid:0b0e0c4e-1d2a-4c7e-9a55-6c1f0e2b7a11>", sha256="ab" * 32,
                                     seen_at=w.clock.now()))

    page = client.get(path_of(link))
    assert page.status_code == 200, page.text
    assert "Abgleichsbericht" in page.text and "Übereinstimmungswert: 0,93" in page.text
    assert "&lt;urn:uuid:0b0e0c4e-1d2a-4c7e-9a55-6c1f0e2b7a11&gt;" in page.text and "sha256:" + "ab" * 32 in page.text
    assert "tracemark evidence verify" in page.text and "Prüfen Sie die Beweise selbst mit:" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe" not in csp and "http" not in csp and "*" not in csp  # nothing inline, nothing external
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    text = page.text
    assert '<html lang="de">' in text and "Ihr Fall zu shop.example.de" in text
    assert "Zu zahlender Betrag: 40,00 CPY" in text and "So wird der Betrag berechnet" in text
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/portal/pay.js" defer>']  # ours, no inline
    assert "http://" not in text.split("<body>")[0]
    assert case_id not in text and other.case_id not in text  # the page names no case id
    other_page = client.get(path_of(other_link))
    assert other_page.status_code == 200 and "/later" in other_page.text and "/claimed" not in other_page.text
    assert "Zu zahlender Betrag" not in other_page.text  # not payable: an illegal finding, no letter yet

    token = path_of(link).removeprefix("/c/")
    refused = [client.get(f"/c/{guess}") for guess in (
        token[:-1] + ("A" if token[-1] != "A" else "B"), "A" * 43, case_id, "x", token + "A")]
    assert {r.status_code for r in refused} == {404}
    assert len({r.content for r in refused}) == 1 and "Muster" not in refused[0].text
    assert client.post(f"/c/{'A' * 43}/quote", data={"payer": w.chain.users[3]}).content == refused[0].content

    bad = client.post(f"{path_of(link)}/quote", data={"payer": "not an address"})
    assert bad.status_code == 422 and "Keine Wallet-Adresse." in bad.text
    payer = w.chain.users[3]
    w.chain.fund(payer)
    hashes = w.chain.flush()
    w.chain.mine()
    assert w.chain.receipts_ok(hashes) == len(hashes)
    answer = client.post(f"{path_of(link)}/quote", data={"payer": payer})
    assert answer.status_code == 200, answer.text
    typed = pre(answer.text, "typed-data")
    call = pre(answer.text, "call")
    assert isinstance(typed, dict) and isinstance(call, dict)
    assert typed["primaryType"] == "SettlementQuote" and typed["domain"]["verifyingContract"] == w.chain.market.address
    assert call["function"] == "settleClaim" and call["contract"] == w.chain.market.address
    message, signature = call["args"]
    assert message == typed["message"] and message["amount"] == 40 * CPY and message["holderShareBps"] == 7000
    quote = SettlementQuote(caseId=bytes.fromhex(message["caseId"][2:]), certificateId=message["certificateId"],
                            payer=message["payer"], amount=message["amount"], holderShareBps=message["holderShareBps"],
                            kind=message["kind"], licenceDuration=message["licenceDuration"],
                            deadline=message["deadline"])
    holder0, treasury0 = balance(w, w.alice), balance(w, w.chain.treasury)
    assert pay(w, payer, quote, bytes.fromhex(signature[2:])) == 1
    assert svc.close_settled() == [case_id]
    assert balance(w, w.alice) - holder0 == 28 * CPY and balance(w, w.chain.treasury) - treasury0 == 12 * CPY
    after = client.get(path_of(link))
    assert after.status_code == 200 and "In diesem Fall ist derzeit nichts zu zahlen." in after.text
    assert "settled" in after.text
    assert client.post(f"{path_of(link)}/quote", data={"payer": payer}).status_code == 409


@pytest.mark.parametrize(("country", "lang", "title"), [
    ("DE", "de", "Ihr Fall zu"), ("FR", "fr", "Votre dossier concernant"), ("JP", "ja", "に関する案件"),
    ("US", "en", "Your case about"), (None, "en", "Your case about"),
])
def test_pages_in_the_recipients_language(w: World, deployed_state: DeployedState, tmp_path: Path,
                                          country: str | None, lang: str, title: str) -> None:
    svc = CasesService(w.database, 31337, w.clock, portal_url="https://tracemark.example/portal")
    svc.cases.save(new_case(f"case-{lang}-{country}", country=country), 0)
    link = svc.issue_portal_link(f"case-{lang}-{country}")
    page = portal(w, deployed_state, tmp_path).get(path_of(link))
    assert page.status_code == 200 and f'<html lang="{lang}">' in page.text and title in page.text


def test_the_portal_is_rate_limited(w: World, deployed_state: DeployedState, tmp_path: Path) -> None:
    client = portal(w, deployed_state, tmp_path, portal_per_minute=3)
    answers = [client.get(f"/c/{'A' * 43}").status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]


def test_the_recipient_disputes_and_the_deadlines_hold(w: World, deployed_state: DeployedState,
                                                      tmp_path: Path) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    link = svc.issue_portal_link(case_id)
    client = portal(w, deployed_state, tmp_path)
    early = client.post(f"{path_of(link)}/answer", data={"kind": "dispute", "statement": "not before a letter"})
    assert early.status_code == 409
    svc.scheduler().run_once()
    before = svc.any_case(case_id)
    page = client.get(path_of(link)).text
    assert 'action="/c/' in page and "Ich bestreite die Forderung" in page
    for data in ({"kind": "dispute", "statement": "   "}, {"kind": "dispute", "statement": "x" * 5001},
                 {"kind": "bogus", "statement": "hello"}, {"kind": "dispute"}):
        refused = client.post(f"{path_of(link)}/answer", data=data)
        assert refused.status_code == 422, data
    assert svc.any_case(case_id).version == before.version
    assert client.post(f"/c/{'A' * 43}/answer", data={"kind": "dispute", "statement": "x"}).status_code == 404
    answer = client.post(f"{path_of(link)}/answer",
                         data={"kind": "dispute", "statement": "We bought this <b>image</b> from the agency."})
    assert answer.status_code == 200 and "Vielen Dank" in answer.text
    stored = svc.any_case(case_id)
    assert stored.on_hold and stored.state is CaseState.OFFER
    assert stored.events[-1].reason == "dispute: We bought this <b>image</b> from the agency."
    shown = client.get(path_of(link)).text
    assert "&lt;b&gt;image&lt;/b&gt;" in shown and "<b>image</b>" not in shown  # escaped in the history
    w.clock.advance(timedelta(days=60))
    assert svc.scheduler().run_once().applied == []  # on hold: no reminder while a caseworker looks at it


def test_the_recipient_shows_a_licence_document(w: World, deployed_state: DeployedState, tmp_path: Path) -> None:
    svc = settling_service(w)
    case_id = approved_case(w, svc)
    svc.scheduler().run_once()
    link = svc.issue_portal_link(case_id)
    client = portal(w, deployed_state, tmp_path)
    url = f"{path_of(link)}/answer"
    before = svc.any_case(case_id).version
    for name, body, media in (("licence.exe", b"MZ\x90\x00 not a document", "application/pdf"),
                              ("big.pdf", b"%PDF-1.7\n" + b"0" * (5 * 1024 * 1024), "application/pdf"),
                              ("fake.pdf", b"<html>not a pdf</html>", "application/pdf")):
        refused = client.post(url, data={"kind": "licence", "statement": "our licence"},
                              files={"document": (name, body, media)})
        assert refused.status_code in (413, 422), name
    assert svc.any_case(case_id).version == before
    pdf = b"%PDF-1.4\n% a licence from the agency\n%%EOF\n"
    shown = client.post(url, data={"kind": "licence", "statement": "Licensed through PhotoAgency, invoice 17"},
                        files={"document": ("licence.pdf", pdf, "application/pdf")})
    assert shown.status_code == 200, shown.text
    digest = hashlib.sha256(pdf).hexdigest()
    assert (tmp_path / "case-documents" / case_id / f"{digest}.pdf").read_bytes() == pdf
    stored = svc.any_case(case_id)
    assert stored.on_hold and stored.events[-1].reason == (
        f"licence: Licensed through PhotoAgency, invoice 17 [document application/pdf, {len(pdf)} bytes, "
        f"sha256 {digest}]")
