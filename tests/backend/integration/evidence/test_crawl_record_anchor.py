"""`tracemark crawl` for the registry: the sightings reach the database (where the findings, the audit and the cases
read them) and, with `--anchor`, the evidence batch is anchored on-chain and verifies against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from tests.backend.chainops import DevChain
from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.integration.crawler.test_crawl import GUARDED_CLI, ROOT, _html
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.netguard import read_log
from tracemark.matching import MatchIndex
from tracemark.store import Database
from tracemark.store.sighting_models import SightingRecord, SiteRecord

HOST = "laden.example.de"
CERTIFICATE = "ab" * 32  # the registry names its references by certificate id (the content hash)


def _crawl(tmp: Path, url: str, port: int, *extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GUARDED_CLI), "crawl", url, "--depth", "1", "--resolve", f"{HOST}:{port}:127.0.0.1",
         "--allow-network", "127.0.0.0/8", "--out", str(tmp / "out.jsonl"), "--warc-dir", str(tmp / "warc"),
         "--quiet", *extra],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT, check=False,
    )


def _web() -> sw.SyntheticWeb:
    web = sw.SyntheticWeb()
    web.robots(HOST, "User-agent: *\nAllow: /\n")
    web.page(HOST, "/", _html("de", '<a href="/bilder">Bilder</a> <a href="/impressum">Impressum</a>'))
    web.page(HOST, "/bilder", _html("de", '<img src="/img/kopie.jpg"><img src="/img/fremd.jpg">'))
    web.page(HOST, "/impressum", _html("de", "<h1>Impressum</h1><p>Laden GmbH, Hauptstr. 5, 80331 München</p>"
                                             "<p>E-Mail: kontakt@laden.example.de</p>"))
    web.image(HOST, "/img/kopie.jpg", sw.encode(sw.crop(sw.scene(7))))
    web.image(HOST, "/img/fremd.jpg", sw.encode(sw.scene(301)))
    return web


def test_a_registry_crawl_stores_its_sightings_and_anchors_its_evidence(
    tmp_path: Path, chain: DevChain, deployed_state: DeployedState
) -> None:
    data = tmp_path / "data"
    with MatchIndex.open(data / "registry-index", create=True) as index:
        index.add(CERTIFICATE, sw.encode(sw.scene(7)))
    log = tmp_path / "netguard.log"
    env = dict(os.environ, TM_NETGUARD_LOG=str(log), TRACEMARK_DATA_DIR=str(data), TRACEMARK_RPC_URL=chain.url,
               TRACEMARK_DEPLOYMENTS_DIR=str(deployed_state.deployments_dir), TRACEMARK_CRAWL_DELAY_S="0",
               TRACEMARK_CRAWL_SYSTEM_DNS="false")
    web = _web()
    with web.serving():
        done = _crawl(tmp_path, web.url(HOST), web.port, "--anchor", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    attempts, _ = read_log(log)
    assert attempts == []
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [CERTIFICATE]
    assert "anchored evidence batch" in done.stderr

    database = Database(f"sqlite:///{data / 'tracemark.db'}")
    try:
        with database.read() as session:
            sightings = session.scalars(select(SightingRecord)).all()
            sites = session.scalars(select(SiteRecord)).all()
            found = [(s.certificate_id, s.image_url.rsplit("/", 1)[-1]) for s in sightings]
            assert found == [(CERTIFICATE, "kopie.jpg")]
            assert [(s.host, s.country_code) for s in sites] == [(HOST, "DE")]
    finally:
        database.dispose()

    verified = subprocess.run([str(ROOT / ".venv" / "bin" / "tracemark"), "evidence", "verify", str(tmp_path / "warc"),
                               "--rpc", chain.url], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
                              check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "anchor" in verified.stdout.lower()


def test_a_crawl_against_a_given_index_stores_nothing_unless_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    index_dir = tmp_path / "index"
    with MatchIndex.open(index_dir, create=True) as index:
        index.add("probe", sw.encode(sw.scene(7)))
    env = dict(os.environ, TM_NETGUARD_LOG=str(tmp_path / "netguard.log"), TRACEMARK_DATA_DIR=str(data),
               TRACEMARK_CRAWL_DELAY_S="0",
               TRACEMARK_CRAWL_SYSTEM_DNS="false")
    web = _web()
    with web.serving():
        done = _crawl(tmp_path, web.url(HOST), web.port, "--index", str(index_dir), env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert not (data / "tracemark.db").exists()
        recorded = _crawl(tmp_path, web.url(HOST), web.port, "--index", str(index_dir), "--record", env=env)
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    database = Database(f"sqlite:///{data / 'tracemark.db'}")
    try:
        with database.read() as session:
            rows = session.scalars(select(SightingRecord)).all()
            assert [(r.certificate_id, r.times_seen) for r in rows] == [(None, 1)]
    finally:
        database.dispose()
