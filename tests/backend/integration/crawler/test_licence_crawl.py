"""`tracemark crawl --record` captures licence data: a real crawl (behind the test network guard) of a synthetic web
on 127.0.0.1 stores, with each sighting, what the page gives for that image and the rights its bytes carry, and the
operator's wallet from the imprint; a recrawl after the page dropped its licence replaces the capture."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.netguard import read_log
from tests.backend.unit.cases.images import app13, xmp_packet
from tracemark.cases.licence_check import PageLicenceData
from tracemark.matching import MatchIndex
from tracemark.store import Database
from tracemark.store.sighting_models import SightingRecord, SiteRecord
from tracemark.store.sighting_repository import licence_data_of

ROOT = Path(__file__).resolve().parents[4]
GUARDED_CLI = Path(__file__).with_name("guarded_cli.py")
HOST = "fotos.example.at"
LICENCE_PAGE = "https://stock.example.com/licence/editorial"
AGENCY_URL = "https://agency.example.org/licensing"
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # an EIP-55 test vector


def _html(body: str, head: str = "") -> str:
    return f'<!doctype html><html lang="de"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


def _tagged(seed: int) -> bytes:
    out = io.BytesIO()
    sw.smaller(sw.scene(seed)).save(out, "JPEG", quality=88, xmp=xmp_packet(licensor_url=AGENCY_URL,
                                                                            credit="Agentur Süd"))
    data = out.getvalue()
    return data[:2] + app13({(2, 110): "Agentur Süd"}) + data[2:]


def _crawl(web: sw.SyntheticWeb, index: Path, tmp: Path, tag: str, db_url: str) -> list[dict[str, object]]:
    log, out = tmp / f"netguard-{tag}.log", tmp / f"sightings-{tag}.jsonl"
    args = [sys.executable, str(GUARDED_CLI), "crawl", web.url(HOST), "--depth", "1", "--index", str(index),
            "--allow-network", "127.0.0.0/8", "--out", str(out), "--warc-dir", str(tmp / "warc"), "--record",
            "--quiet", "--resolve", f"{HOST}:{web.port}:127.0.0.1"]
    env = dict(os.environ, TM_NETGUARD_LOG=str(log), TRACEMARK_CRAWL_SYSTEM_DNS="false", TRACEMARK_CRAWL_DELAY_S="0",
               TRACEMARK_CRAWL_TIMEOUT_S="5", TRACEMARK_CRAWL_CONTACT_URL="https://tracemark.example/crawler-test",
               TRACEMARK_DATA_DIR=str(tmp / "data"), TRACEMARK_DATABASE_URL=db_url)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert read_log(log) == ([], [])  # nothing left the machine, no DNS lookup
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def test_crawl_records_page_licence_image_rights_and_wallets(tmp_path: Path) -> None:
    index = tmp_path / "index"
    with MatchIndex.open(index, create=True) as idx:
        idx.add("a" * 64, sw.encode(sw.scene(41)))
        idx.add("b" * 64, sw.encode(sw.scene(42)))
    web = sw.SyntheticWeb()
    microdata = (f'<div itemscope itemtype="https://schema.org/ImageObject"><img itemprop="contentUrl" '
                 f'src="/bild/a.jpg" alt="Foto: Falsch"><a itemprop="acquireLicensePage" href="{LICENCE_PAGE}">'
                 'Lizenz</a><span itemprop="creditText">Foto: Anna Beispiel</span></div>')
    db_url = f"sqlite:///{tmp_path / 'tracemark.db'}"
    with web.serving():
        web.image(HOST, "/bild/a.jpg", sw.encode(sw.crop(sw.scene(41))))
        web.image(HOST, "/bild/b.jpg", _tagged(42))
        web.page(HOST, "/", _html(microdata + '<img src="/bild/b.jpg"> <a href="/impressum">Impressum</a>'))
        web.page(HOST, "/impressum", _html(
            "<h1>Impressum</h1><p>Foto Beispiel GmbH<br>Marktgasse 3<br>1010 Wien</p>"
            f"<p>E-Mail: office@foto-beispiel.at</p><p>Ethereum: {WALLET.lower()}</p>"))
        first = _crawl(web, index, tmp_path, "first", db_url)
        assert {r["id"] for r in first} == {"a" * 64, "b" * 64}

        database = Database(db_url)
        try:
            with database.read() as session:
                rows = {r.certificate_id: r for r in session.scalars(select(SightingRecord))}
                a, b = licence_data_of(rows["a" * 64]), licence_data_of(rows["b" * 64])
                site = session.scalar(select(SiteRecord).where(SiteRecord.host == HOST))
                assert site is not None and site.operator is not None
                assert json.loads(site.operator)["wallets"] == [WALLET]  # stored checksummed
            assert a[0] == PageLicenceData((), (LICENCE_PAGE,), ("Foto: Anna Beispiel",))
            assert a[1] is not None and a[1].empty
            assert b[0] == PageLicenceData()
            assert b[1] is not None and b[1].licensor_urls == (AGENCY_URL,) and "Agentur Süd" in b[1].credits

            # The page drops the licence page: the recrawl's capture replaces the stored one.
            web.page(HOST, "/", _html('<img src="/bild/a.jpg"><img src="/bild/b.jpg"> <a href="/impressum">I</a>'))
            _crawl(web, index, tmp_path, "second", db_url)
            with database.read() as session:
                row = session.scalar(select(SightingRecord).where(SightingRecord.certificate_id == "a" * 64))
                assert row is not None and row.times_seen == 2
                assert licence_data_of(row)[0] == PageLicenceData()
        finally:
            database.dispose()
