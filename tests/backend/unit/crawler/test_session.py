"""The crawl session without Scrapy: pages wait for their images, evidence only for sightings, recrawls, gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.backend.integration.crawler import synthetic_web as sw
from tracemark.crawler.plan import CrawlPlan
from tracemark.crawler.session import Capture, CrawlSession
from tracemark.crawler.sightings import SightingLedger
from tracemark.evidence.warc import EvidenceWriter
from tracemark.matching import Match, MatchIndex

SITE = "https://shop.example.de"


class IndexMatcher:
    def __init__(self, index: MatchIndex) -> None:
        self.index = index

    def search(self, source: bytes) -> list[Match]:
        return self.index.search(source)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> MatchIndex:
    idx = MatchIndex.open(tmp_path_factory.mktemp("index"), create=True)
    idx.add("alpen", sw.encode(sw.scene(1)))
    return idx


def page(url: str, html: str = "<html></html>", status: int = 200) -> Capture:
    return Capture(url, "GET", {"User-Agent": "tracemark"}, status, [("Content-Type", "text/html")], html.encode(),
                   "127.0.0.1")


def image(url: str, data: bytes) -> Capture:
    return Capture(url, "GET", {"User-Agent": "tracemark"}, 200, [("Content-Type", "image/jpeg")], data, "127.0.0.1")


def archived(folder: Path) -> list[str]:
    uris: list[str] = []
    for path in sorted(folder.rglob("*.warc*")):
        with path.open("rb") as fh:
            uris += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                     if r.rec_type == "response"]
    return uris


def crawl_once(tmp: Path, index: MatchIndex, pages: dict[str, list[str]], images: dict[str, bytes],
               statuses: dict[str, int] | None = None) -> list:  # type: ignore[type-arg]
    ledger = SightingLedger(tmp / "state.sqlite")
    with EvidenceWriter(tmp / "warc") as writer:
        session = CrawlSession(CrawlPlan(seeds=[SITE + "/"]), IndexMatcher(index), writer, ledger)
        for page_url, shown in pages.items():
            status = (statuses or {}).get(page_url, 200)
            if status != 200:
                session.page_failed(page_url, status)
                continue
            session.page_fetched(page(page_url), "de", shown)
            new = [u for u in shown if session.attach(u, page_url, ["img"])]
            session.page_done(page_url)
            for url in new:
                if (statuses or {}).get(url, 200) != 200:
                    session.image_failed(url, statuses[url])  # type: ignore[index]
                else:
                    session.image_matched(url, image(url, images[url]), index.search(images[url]))
        out = session.finish()
    ledger.close()
    return out


def test_evidence_only_for_sightings_and_recrawl(tmp_path: Path, index: MatchIndex) -> None:
    copy, other = sw.encode(sw.crop(sw.scene(1))), sw.encode(sw.scene(77))
    images = {f"{SITE}/a.jpg": copy, f"{SITE}/b.jpg": other, f"{SITE}/a-again.jpg": copy}
    pages = {f"{SITE}/one": [f"{SITE}/a.jpg", f"{SITE}/b.jpg"], f"{SITE}/two": [f"{SITE}/a.jpg"],
             f"{SITE}/three": [f"{SITE}/b.jpg", f"{SITE}/a-again.jpg"], f"{SITE}/four": [f"{SITE}/b.jpg"]}
    first = crawl_once(tmp_path, index, pages, images)
    keys = sorted((s.page_url.rsplit("/", 1)[-1], s.image_url.rsplit("/", 1)[-1]) for s in first)
    assert keys == [("one", "a.jpg"), ("three", "a-again.jpg"), ("two", "a.jpg")]
    assert all(s.id == "alpen" and s.evidence and s.evidence["page"]["record_id"] for s in first)
    uris = archived(tmp_path / "warc")
    assert sorted(uris) == sorted([f"{SITE}/one", f"{SITE}/a.jpg", f"{SITE}/two", f"{SITE}/three",
                                   f"{SITE}/a-again.jpg"])  # never /four, never b.jpg

    second = crawl_once(tmp_path, index, pages, images)
    assert {s.key for s in second} == {s.key for s in first}
    before = {s.key: s for s in first}
    for s in second:
        assert s.first_seen == before[s.key].first_seen and s.last_seen > before[s.key].last_seen
        assert s.times_seen == 2

    gone_pages = {f"{SITE}/one": [f"{SITE}/b.jpg"], f"{SITE}/two": [f"{SITE}/a.jpg"],
                  f"{SITE}/three": [f"{SITE}/b.jpg", f"{SITE}/a-again.jpg"]}
    third = crawl_once(tmp_path, index, gone_pages, images,
                       statuses={f"{SITE}/two": 410, f"{SITE}/a-again.jpg": 404})
    reasons = {s.page_url.rsplit("/", 1)[-1]: s.gone_reason for s in third if s.status == "gone"}
    assert reasons == {"one": "page no longer shows the image", "two": "page answered 410",
                       "three": "image answered 404"}
