"""Licence data from the crawl to the licence check, with real parts: `tracemark crawl` (behind the test network
guard) against a synthetic web on 127.0.0.1, its JSON lines stored as `tracemark crawl --record` stores them, a real
anvil with the indexer, and the cases service, on SQLite and PostgreSQL.

The synthetic web: a page whose JSON-LD names a stock agency's licence for one image (and not for the other image
on it), a page whose JSON-LD names Creative Commons for its image, a page whose image carries XMP / IPTC rights
written with Pillow, a page with no licence data, and a site whose imprint publishes the wallet of an on-chain
licensee. Also the store's rules for the captured data (latest capture wins, nothing captured keeps what was).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from tests.backend.chainops import CPY, DevChain
from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.integration.indexer.support import new_indexer
from tests.backend.netguard import read_log
from tests.backend.unit.cases.images import app13, xmp_packet
from tracemark.cases.clock import ManualClock
from tracemark.cases.image_rights import ImageRights
from tracemark.cases.licence_check import CheckOutcome, PageLicenceData, Source
from tracemark.cases.workflow import CaseState, TransitionError
from tracemark.matching import MatchIndex
from tracemark.services.cases import CasesService, ClaimedUse, Verdict
from tracemark.storage.originals import OriginalStore
from tracemark.store import Database
from tracemark.store.registration_models import RegistrationRecord
from tracemark.store.sighting_models import SightingRecord
from tracemark.store.sighting_repository import licence_data_of, record_crawl_line, record_sighting, save_site

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
GUARDED_CLI = ROOT / "tests" / "backend" / "integration" / "crawler" / "guarded_cli.py"
AGENCY, SHOP = "bildagentur.example.de", "lizenznehmer.example.de"
STOCK = "https://stock.example.com/licence/standard"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
WEB_STATEMENT = "https://rechte.example.org/bild/4711"
SEEDS = {"stock": 31, "plain": 32, "cc": 33, "xmp": 34, "none": 35, "wallet": 36}
DAY = timedelta(days=1)


def _html(body: str, head: str = "") -> str:
    return f'<!doctype html><html lang="de"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def _ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _with_rights(seed: int) -> bytes:
    out = io.BytesIO()
    sw.crop(sw.scene(seed)).save(out, "JPEG", quality=88, xmp=xmp_packet(
        web_statement=WEB_STATEMENT, creator="Erika Fotografin", rights="© 2026 Erika Fotografin"))
    data = out.getvalue()
    return data[:2] + app13({(2, 80): "Erika Fotografin", (2, 116): "© 2026 Erika Fotografin"}) + data[2:]


def build_web(web: sw.SyntheticWeb, licensee: str) -> None:
    img = {name: sw.encode(sw.crop(sw.scene(seed))) for name, seed in SEEDS.items()}
    img["xmp"] = _with_rights(SEEDS["xmp"])
    for name, data in img.items():
        web.image(AGENCY if name != "wallet" else SHOP, f"/img/{name}.jpg", data)
    web.page(AGENCY, "/", _html('<a href="/stock">Stock</a> <a href="/cc">CC</a> <a href="/xmp">XMP</a> '
                                '<a href="/ohne">Ohne</a>'))
    web.page(AGENCY, "/stock", _html(
        '<img src="/img/stock.jpg" alt="Hafen"><img src="/img/plain.jpg" alt="Berge">',
        _ld({"@context": "https://schema.org", "@graph": [
            {"@type": "WebPage", "name": "Galerie"},
            {"@type": "Article", "image": {"@type": "ImageObject", "contentUrl": "/img/stock.jpg",
                                           "license": STOCK, "creditText": "Bildagentur Beispiel"}}]})))
    web.page(AGENCY, "/cc", _html(
        '<figure><img src="/img/cc.jpg"><figcaption>Foto: Erika Fotografin, CC BY 4.0</figcaption></figure>',
        _ld({"@context": "https://schema.org", "@type": "ImageObject",
             "contentUrl": web.url(AGENCY, "/img/cc.jpg"), "license": CC_BY})))
    web.page(AGENCY, "/xmp", _html('<img src="/img/xmp.jpg">'))
    web.page(AGENCY, "/ohne", _html('<p>Kein Hinweis.</p><img src="/img/none.jpg" alt="© Niemand" title="Lizenz">'))
    web.page(SHOP, "/", _html('<img src="/img/wallet.jpg"> <a href="/impressum">Impressum</a>'))
    web.page(SHOP, "/impressum", _html(
        "<h1>Impressum</h1><p>Lizenz Nehmer GmbH<br>Lindenallee 7<br>50667 Köln</p>"
        f"<p>E-Mail: recht@lizenznehmer.example</p><p>Unsere Lizenz-Wallet: {licensee}</p>"))


def crawl(web: sw.SyntheticWeb, index: Path, tmp: Path) -> list[dict[str, Any]]:
    log, out = tmp / "netguard.log", tmp / "sightings.jsonl"
    args = [sys.executable, str(GUARDED_CLI), "crawl", web.url(AGENCY), web.url(SHOP), "--depth", "2", "--index",
            str(index), "--allow-network", "127.0.0.0/8", "--out", str(out), "--warc-dir", str(tmp / "warc"),
            "--quiet"]
    for host in (AGENCY, SHOP):
        args += ["--resolve", f"{host}:{web.port}:127.0.0.1"]
    env = dict(os.environ, TM_NETGUARD_LOG=str(log), TRACEMARK_CRAWL_SYSTEM_DNS="false", TRACEMARK_CRAWL_DELAY_S="0",
               TRACEMARK_CRAWL_TIMEOUT_S="5", TRACEMARK_CRAWL_CONTACT_URL="https://tracemark.example/crawler-test",
               TRACEMARK_DATA_DIR=str(tmp / "data"))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    attempts, lookups = read_log(log)
    assert attempts == [] and lookups == []  # nothing left the machine
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


@dataclass
class World:
    chain: DevChain
    database: Database
    clock: ManualClock
    alice: str
    licensee: str
    tokens: dict[str, int]
    lines: dict[str, dict[str, Any]]  # crawl line by image name
    sightings: dict[str, int]

    def service(self) -> CasesService:
        return CasesService(self.database, 31337, self.clock)


@pytest.fixture
def world(dev_chain: DevChain, any_database: Database, tmp_path: Path) -> Iterator[World]:
    chain = dev_chain
    alice, licensee = chain.users[0], chain.users[2]
    tokens = {name: chain.register(alice) for name in SEEDS}
    hashes = chain.flush()
    chain.mine()
    for name in ("wallet", "none"):
        chain.set_offer(tokens[name], alice, kind=1, price=10 * CPY, duration=365 * 86_400)
    chain.fund(licensee)
    hashes += chain.flush()
    chain.mine()
    chain.buy(tokens["wallet"], licensee)  # the operator of SHOP holds a licence, bought with its wallet
    hashes += chain.flush()
    chain.mine(4)
    assert chain.receipts_ok(hashes) == len(hashes)

    index = tmp_path / "index"
    with MatchIndex.open(index, create=True) as idx:
        for name, seed in SEEDS.items():
            idx.add(f"{tokens[name]:064x}", sw.encode(sw.scene(seed)))
    web = sw.SyntheticWeb()
    with web.serving():
        build_web(web, Web3.to_checksum_address(licensee))
        rows = crawl(web, index, tmp_path)
    by_token = {f"{t:064x}": name for name, t in tokens.items()}
    lines = {by_token[r["id"]]: r for r in rows}
    assert set(lines) == set(SEEDS), sorted(lines)
    sightings: dict[str, int] = {}
    with any_database.write() as session:  # as `tracemark crawl --record` stores them
        for name, line in lines.items():
            sightings[name] = record_crawl_line(session, line).id
    new_indexer(any_database, chain, confirmations=2).catch_up()
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0) + DAY)
    yield World(chain, any_database, clock, alice, licensee, tokens, lines, sightings)


def _checked(world: World, name: str) -> Any:
    svc = world.service()
    case = svc.review_finding(world.sightings[name], world.alice, Verdict.ILLEGAL, "looks unlicensed")
    return svc.check_licence(case.case_id, world.alice)


def test_captured_licence_data_decides_the_licence_check(world: World) -> None:
    lines = world.lines
    # What the crawl captured, per image: the stock licence only for its own image, not for the other on the page.
    assert lines["stock"]["page_licence"] == {"licence_urls": [STOCK], "acquire_licence_pages": [],
                                              "credit_text": ["Bildagentur Beispiel"]}
    assert lines["plain"]["page_licence"] == PageLicenceData().as_dict()
    assert lines["cc"]["page_licence"]["licence_urls"] == [CC_BY]
    assert lines["cc"]["page_licence"]["credit_text"] == ["Foto: Erika Fotografin, CC BY 4.0"]
    assert lines["xmp"]["image_rights"]["web_statements"] == [WEB_STATEMENT]
    assert lines["xmp"]["image_rights"]["creators"] == ["Erika Fotografin"]
    assert lines["none"]["page_licence"] == PageLicenceData().as_dict()  # alt and title are no credit
    assert ImageRights.from_dict(lines["none"]["image_rights"]).empty
    assert lines["wallet"]["operator"]["wallets"] == [Web3.to_checksum_address(world.licensee)]

    svc = world.service()
    stock = _checked(world, "stock")  # a licence we cannot confirm: no claim
    assert stock.state is CaseState.LICENSED and stock.latest_check is not None
    assert [o.source for o in stock.latest_check.decisive] == [Source.PAGE]
    assert STOCK in stock.latest_check.decisive[0].detail
    with pytest.raises(TransitionError):
        svc.submit_claim(stock.case_id, world.alice, ClaimedUse())

    xmp = _checked(world, "xmp")  # the image's own rights statement
    assert xmp.state is CaseState.LICENSED and xmp.latest_check is not None
    assert [o.source for o in xmp.latest_check.decisive] == [Source.IMAGE]
    assert WEB_STATEMENT in xmp.latest_check.decisive[0].detail

    wallet = _checked(world, "wallet")  # the operator's published wallet holds an on-chain licence
    assert wallet.state is CaseState.LICENSED and wallet.latest_check is not None
    assert [o.source for o in wallet.latest_check.decisive] == [Source.ON_CHAIN]
    assert world.licensee.lower() in wallet.latest_check.decisive[0].detail.lower()

    # Creative Commons the holder never granted is recorded, and is no licence (the domain's rule).
    cc = _checked(world, "cc")
    assert cc.state is CaseState.CHECKED and cc.latest_check is not None
    assert cc.latest_check.outcome is CheckOutcome.CLEAR
    assert any(o.source is Source.PAGE and "by/4.0" in o.detail for o in cc.latest_check.observations)

    # The other image of the stock page, and the page without licence data: the claim goes ahead.
    assert _checked(world, "plain").state is CaseState.CHECKED
    none = _checked(world, "none")
    assert none.state is CaseState.CHECKED and none.latest_check is not None
    assert none.latest_check.outcome is CheckOutcome.CLEAR
    claimed = svc.submit_claim(none.case_id, world.alice, ClaimedUse())
    assert claimed.state is CaseState.CLAIM_SUBMITTED


def test_explicit_page_and_image_data_override_the_stored(world: World) -> None:
    svc = world.service()
    case = svc.review_finding(world.sightings["stock"], world.alice, Verdict.ILLEGAL, "copied")
    assert svc.run_licence_check(case).outcome is CheckOutcome.LICENSED  # stored by default
    cleared = svc.run_licence_check(case, page=PageLicenceData(), image=ImageRights())
    assert cleared.outcome is CheckOutcome.CLEAR
    other = svc.review_finding(world.sightings["none"], world.alice, Verdict.ILLEGAL, "copied")
    given = svc.check_licence(other.case_id, world.alice, page=PageLicenceData(acquire_licence_pages=(STOCK,)))
    assert given.state is CaseState.LICENSED


# ---- the store's rules for captured licence data (no chain) ----------------------------------------------------

CERT = "cd" * 32
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _record(database: Database, at: datetime, page: PageLicenceData | None, image: ImageRights | None) -> int:
    with database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=at)
        return record_sighting(session, site=site, certificate_id=CERT, page_url="https://shop.example.de/p",
                               image_url="https://shop.example.de/a.jpg", score=0.9, match_report={"score": 0.9},
                               seen_at=at, page_licence=page, image_rights=image).id


def _stored(database: Database, sighting_id: int) -> tuple[PageLicenceData | None, ImageRights | None]:
    with database.read() as session:
        row = session.get(SightingRecord, sighting_id)
        assert row is not None
        return licence_data_of(row)


def test_latest_capture_wins_and_nothing_captured_loses_nothing(any_database: Database) -> None:
    first = PageLicenceData((STOCK,), (), ("Agentur",))
    rights = ImageRights(web_statements=(WEB_STATEMENT,), marked=True)
    sid = _record(any_database, T0, first, rights)
    assert _stored(any_database, sid) == (first, rights)
    assert _record(any_database, T0 + DAY, None, None) == sid  # a crawl that captured nothing keeps what was
    assert _stored(any_database, sid) == (first, rights)
    later = PageLicenceData()
    _record(any_database, T0 + 2 * DAY, later, ImageRights())  # the page dropped its licence: latest wins
    assert _stored(any_database, sid) == (later, ImageRights())
    _record(any_database, T0 + 3 * DAY - timedelta(days=5), first, rights)  # an older capture arriving late
    assert _stored(any_database, sid) == (later, ImageRights())


def test_an_older_capture_fills_what_was_never_stored(any_database: Database) -> None:
    sid = _record(any_database, T0 + DAY, None, None)
    assert _stored(any_database, sid) == (None, None)
    old = PageLicenceData((CC_BY,))
    _record(any_database, T0, old, None)
    assert _stored(any_database, sid) == (old, None)


def test_crawl_lines_with_junk_licence_data(any_database: Database) -> None:
    line: dict[str, Any] = {
        "id": CERT, "image_url": "https://shop.example.de/b.jpg", "page_url": "https://shop.example.de/q",
        "score": 0.8, "first_seen": "2026-11-02T10:00:00.000Z", "last_seen": "2026-11-02T10:00:00.000Z",
        "page_licence": {"licence_urls": [STOCK, 7, None, {"x": 1}], "credit_text": "not a list", "extra": [1]},
        "image_rights": ["not", "a", "mapping"],
    }
    with any_database.write() as session:
        sid = record_crawl_line(session, line).id
    assert _stored(any_database, sid) == (PageLicenceData((STOCK,)), None)
    with any_database.write() as session:  # a row written by something else: unreadable JSON reads as not captured
        row = session.get(SightingRecord, sid)
        assert row is not None
        row.page_licence, row.image_rights = "{not json", json.dumps({"creators": ["Jane"], "marked": "yes"})
    assert _stored(any_database, sid) == (None, ImageRights(creators=("Jane",)))


# ---- what the registration tells the check: the holder's own statements, its credit, the licences it granted -------

def _register(world: World, name: str, original: bytes, originals: OriginalStore, licence_terms: dict[str, Any],
              creator: str = "Erika Fotografin") -> None:
    """A minted registration of the certificate `name`, as the registration service leaves it."""
    sha256 = originals.put(original)
    now = world.clock.now()
    with world.database.write() as session:
        session.add(RegistrationRecord(
            id=f"reg{name}", owner=world.alice.lower(), sha256=sha256, active_sha256=sha256, chain_id=31337,
            title=name, creator_name=creator, declaration="I made it", declaration_signature="0x",
            declared=json.dumps({"royalty_bps": 0, "captured_at": None, "licence_terms": licence_terms}),
            status="minted", audit_report="{}", audit_digest="0" * 64, audit_outcome="pass",
            certificate_id=f"{world.tokens[name]:064x}", created_at=now, updated_at=now))


def test_the_holders_own_rights_statement_is_no_licence(world: World, tmp_path: Path) -> None:
    originals = OriginalStore(tmp_path / "originals")
    _register(world, "xmp", _with_rights(SEEDS["xmp"] + 100), originals, {})  # its original carries the statement
    svc = CasesService(world.database, 31337, world.clock, originals=originals)
    case = svc.review_finding(world.sightings["xmp"], world.alice, Verdict.ILLEGAL, "copied with its metadata")
    checked = svc.check_licence(case.case_id, world.alice)
    assert checked.state is CaseState.CHECKED and checked.latest_check is not None
    assert checked.latest_check.outcome is CheckOutcome.CLEAR  # the copy kept the holder's statement: no licence
    assert svc.submit_claim(case.case_id, world.alice, ClaimedUse()).state is CaseState.CLAIM_SUBMITTED
    # Without the original (not kept here) the statement cannot be told apart from a licensor's: no claim.
    bare = CasesService(world.database, 31337, world.clock)
    assert bare.run_licence_check(checked).outcome is CheckOutcome.LICENSED


def test_a_creative_commons_licence_the_holder_declared_is_honoured_with_its_credit(world: World,
                                                                                   tmp_path: Path) -> None:
    originals = OriginalStore(tmp_path / "originals")
    _register(world, "cc", sw.encode(sw.scene(SEEDS["cc"])), originals, {"licence": CC_BY, "note": "credit me"})
    svc = CasesService(world.database, 31337, world.clock, originals=originals)
    case = svc.review_finding(world.sightings["cc"], world.alice, Verdict.ILLEGAL, "copied")
    checked = svc.check_licence(case.case_id, world.alice)  # the page credits Erika Fotografin under CC BY 4.0
    assert checked.latest_check is not None and checked.latest_check.outcome is not CheckOutcome.CLEAR
    assert any(o.source is Source.CREATIVE_COMMONS for o in checked.latest_check.decisive)
    with pytest.raises(TransitionError):
        svc.submit_claim(case.case_id, world.alice, ClaimedUse())
    # The same licence without the credit the holder asks for is no licence.
    _register(world, "plain", sw.encode(sw.scene(SEEDS["plain"])), originals, {"licence": CC_BY},
              creator="Someone Else")
    other = svc.review_finding(world.sightings["plain"], world.alice, Verdict.ILLEGAL, "copied")
    uncredited = svc.run_licence_check(other, page=PageLicenceData(licence_urls=(CC_BY,)))
    assert uncredited.outcome is CheckOutcome.CLEAR
