"""The crawl session carries the licence data with each sighting: what the page gives for that image, and the
rights fields of the image's bytes (XMP / IPTC written into real JPEGs); through the ledger and its JSON lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.unit.cases.images import app13, xmp_packet
from tracemark.cases.image_rights import ImageRights
from tracemark.cases.licence_check import PageLicenceData
from tracemark.crawler.extract import read_page
from tracemark.crawler.plan import CrawlPlan
from tracemark.crawler.session import Capture, CrawlSession
from tracemark.crawler.sightings import Sighting, SightingLedger
from tracemark.evidence.warc import EvidenceWriter
from tracemark.matching import Match, MatchIndex

SITE = "https://shop.example.de"
STOCK = "https://stock.example.com/licence/standard"
WEB_STATEMENT = "https://agency.example/rights/123"


class IndexMatcher:
    def __init__(self, index: MatchIndex) -> None:
        self.index = index

    def search(self, source: bytes) -> list[Match]:
        return self.index.search(source)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    idx = MatchIndex.open(tmp_path_factory.mktemp("index"), create=True)
    idx.add("alpen", sw.encode(sw.scene(1)))
    idx.add("hafen", sw.encode(sw.scene(2)))
    return idx


def with_rights(seed: int) -> bytes:
    out = io.BytesIO()
    sw.crop(sw.scene(seed)).save(out, "JPEG", quality=88,
                                 xmp=xmp_packet(web_statement=WEB_STATEMENT, creator="Jane Doe"))
    data = out.getvalue()
    return data[:2] + app13({(2, 116): "© 2026 Jane Doe"}) + data[2:]


def capture(url: str, body: bytes, kind: str) -> Capture:
    return Capture(url, "GET", {"User-Agent": "tracemark"}, 200, [("Content-Type", kind)], body, "127.0.0.1")


def crawl(tmp: Path, index: MatchIndex, pages: dict[str, str], images: dict[str, bytes]) -> list[Sighting]:
    ledger = SightingLedger(tmp / "state.sqlite")
    with EvidenceWriter(tmp / "warc") as writer:
        session = CrawlSession(CrawlPlan(seeds=[SITE + "/"]), IndexMatcher(index), writer, ledger)
        for page_url, html in pages.items():
            content = read_page(html, page_url)
            session.page_fetched(capture(page_url, html.encode(), "text/html"), "de",
                                 [i.url for i in content.images], content.licences)
            new = [i.url for i in content.images if session.attach(i.url, page_url, i.shown_as)]
            session.page_done(page_url)
            for url in new:
                session.image_matched(url, capture(url, images[url], "image/jpeg"), index.search(images[url]))
        out = session.finish()
    ledger.close()
    return out


def test_each_sighting_carries_its_own_page_licence_and_image_rights(tmp_path: Path, index: MatchIndex) -> None:
    images = {f"{SITE}/img/alpen.jpg": sw.encode(sw.crop(sw.scene(1))), f"{SITE}/img/hafen.jpg": with_rights(2)}
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "ImageObject", "contentUrl": "/img/alpen.jpg", "license": STOCK, "creditText": "Agentur X"}]}
    pages = {
        f"{SITE}/a": f'<html><head><script type="application/ld+json">{json.dumps(graph)}</script></head><body>'
                     '<img src="/img/alpen.jpg"><figure><img src="/img/hafen.jpg" alt="Foto: Jemand">'
                     "<figcaption>Foto: Jane Doe</figcaption></figure></body></html>",
        f"{SITE}/b": '<html><body><img src="/img/alpen.jpg"></body></html>',
    }
    found = {(s.page_url.rsplit("/", 1)[-1], s.image_url.rsplit("/", 1)[-1]): s for s in crawl(
        tmp_path, index, pages, images)}
    assert set(found) == {("a", "alpen.jpg"), ("a", "hafen.jpg"), ("b", "alpen.jpg")}
    assert PageLicenceData.from_dict(found["a", "alpen.jpg"].page_licence) == PageLicenceData(
        (STOCK,), (), ("Agentur X",))
    assert PageLicenceData.from_dict(found["a", "hafen.jpg"].page_licence) == PageLicenceData(
        credit_text=("Foto: Jane Doe",))  # the caption, never the alt text
    assert found["b", "alpen.jpg"].page_licence == PageLicenceData().as_dict()  # read, and nothing there
    rights = ImageRights.from_dict(found["a", "hafen.jpg"].image_rights)
    assert rights.web_statements == (WEB_STATEMENT,) and rights.creators == ("Jane Doe",)
    assert rights.copyright_notices == ("© 2026 Jane Doe",)
    assert ImageRights.from_dict(found["a", "alpen.jpg"].image_rights).empty
    line = json.loads(found["a", "hafen.jpg"].to_json_line())  # the crawl output carries both
    assert line["image_rights"]["web_statements"] == [WEB_STATEMENT]
    assert line["page_licence"]["credit_text"] == ["Foto: Jane Doe"]

    # A recrawl after the page dropped its licence: the latest capture is what the sighting carries.
    pages[f"{SITE}/a"] = '<html><body><img src="/img/alpen.jpg"><img src="/img/hafen.jpg"></body></html>'
    again = {(s.page_url.rsplit("/", 1)[-1], s.image_url.rsplit("/", 1)[-1]): s for s in crawl(
        tmp_path, index, pages, images)}
    assert again["a", "alpen.jpg"].times_seen == 2
    assert again["a", "alpen.jpg"].page_licence == PageLicenceData().as_dict()


def test_stored_forms_round_trip_and_junk_is_dropped() -> None:
    page = PageLicenceData((STOCK,), ("https://buy.example/1",), ("Foto: Jane",))
    assert PageLicenceData.from_dict(json.loads(json.dumps(page.as_dict()))) == page
    rights = ImageRights(licence_urls=("https://creativecommons.org/licenses/by/4.0/",), creators=("Jane",),
                         marked=True)
    assert ImageRights.from_dict(json.loads(json.dumps(rights.as_dict()))) == rights
    for junk in (None, 7, "x", [], {"licence_urls": "https://not-a-list.example"},
                 {"licence_urls": [1, None, {"a": 1}, ["x"]], "credit_text": [""] * 10}):
        assert PageLicenceData.from_dict(junk) == PageLicenceData()
        assert ImageRights.from_dict(junk) == ImageRights()
    bounded = PageLicenceData.from_dict({"licence_urls": [f"https://l.example/{i}" for i in range(10_000)],
                                         "credit_text": ["y" * 100_000]})
    assert len(bounded.licence_urls) == 50 and len(bounded.credit_text[0]) == 2048
    assert ImageRights.from_dict({"marked": "true", "creators": ["  Jane   Doe  "]}) == ImageRights(
        creators=("Jane Doe",))
