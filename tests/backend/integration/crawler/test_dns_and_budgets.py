"""DNS answers that change between check and connect, names that resolve to private addresses, budgets.

System DNS is on here, but the crawl runs behind the test network guard, whose test DNS answers from a table
(and records every lookup): `rebind.example.com` first answers 127.0.0.1 (allowed for the test) and then a
private address; the crawler must ask once, pin the first answer, and connect only there.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.integration.crawler.test_crawl import GUARDED_CLI, ROOT, _html
from tests.backend.netguard import read_log
from tracemark.matching import MatchIndex


def _crawl(tmp: Path, seeds: list[str], dns: dict[str, list[list[str]]], *extra: str) -> dict[str, Any]:
    index = tmp / "index"
    if not index.exists():
        with MatchIndex.open(index, create=True) as idx:
            idx.add("alpen", sw.encode(sw.scene(1)))
    log = tmp / "netguard.log"
    log.unlink(missing_ok=True)
    out = tmp / "out.jsonl"
    env = dict(os.environ, TM_NETGUARD_LOG=str(log), TM_TEST_DNS=json.dumps(dns), TRACEMARK_CRAWL_SYSTEM_DNS="true",
               TRACEMARK_CRAWL_DELAY_S="0", TRACEMARK_CRAWL_TIMEOUT_S="5", TRACEMARK_DATA_DIR=str(tmp / "data"))
    proc = subprocess.run([sys.executable, str(GUARDED_CLI), "crawl", *seeds, "--depth", "2", "--index", str(index),
                           "--allow-network", "127.0.0.0/8", "--out", str(out), "--warc-dir", str(tmp / "warc"),
                           *extra], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    attempts, lookups = read_log(log)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {"rows": rows, "attempts": attempts, "lookups": lookups, "stderr": proc.stderr}


def test_rebinding_dns_answer_gains_nothing(tmp_path: Path) -> None:
    web = sw.SyntheticWeb()
    host, evil = "rebind.example.com", "evil.example.com"
    with web.serving():
        web.robots(host, "User-agent: *\nAllow: /\n")
        web.page(host, "/", _html("en", "".join(f'<a href="/p{i}">p{i}</a>' for i in range(8))))
        for i in range(8):
            web.page(host, f"/p{i}", _html("en", f'<img src="/i{i}.jpg"><img src="http://{evil}:{web.port}/x.jpg">'))
            web.image(host, f"/i{i}.jpg", sw.encode(sw.crop(sw.scene(1)) if i == 3 else sw.scene(200 + i)))
        dns = {host: [["127.0.0.1"], ["10.0.0.5"], ["169.254.169.254"]], evil: [["10.0.0.5"]]}
        result = _crawl(tmp_path, [web.url(host)], dns)
    assert result["attempts"] == []
    assert result["lookups"].count(host) == 1  # resolved once, pinned; the rebinding answers were never asked
    assert result["lookups"].count(evil) == 1
    assert all(web.hits[(host, f"/p{i}")] == 1 and web.hits[(host, f"/i{i}.jpg")] == 1 for i in range(8))
    assert {h for h, _ in web.hits} == {host}
    assert [(r["id"], r["image_url"].rsplit("/", 1)[-1]) for r in result["rows"]] == [("alpen", "i3.jpg")]
    assert "1 request(s) refused" in result["stderr"]


def test_page_budget_and_allowed_domains(tmp_path: Path) -> None:
    web = sw.SyntheticWeb()
    host, other = "big.example.com", "elsewhere.example.net"
    with web.serving():
        web.page(host, "/", _html("en", "".join(f'<a href="/p{i}">p</a>' for i in range(20))
                                  + f'<a href="http://{other}:{web.port}/">other site</a>'))
        for i in range(20):
            web.page(host, f"/p{i}", _html("en", "<p>page</p>"))
        web.page(other, "/", _html("en", "<p>not in scope</p>"))
        result = _crawl(tmp_path, [web.url(host)], {host: [["127.0.0.1"]], other: [["127.0.0.1"]]},
                        "--max-pages", "5")
    pages = [p for (h, p) in web.hits if h == host and p != "/robots.txt"]
    assert len(pages) == 5, pages
    assert not [p for (h, p) in web.hits if h == other]
    assert result["attempts"] == [] and other not in result["lookups"]


def test_sitemap_seeds_and_crawl_delay(tmp_path: Path) -> None:
    """Pages listed only in a (gzipped) sitemap index are crawled; robots.txt's Crawl-delay spaces requests."""
    import gzip

    web = sw.SyntheticWeb()
    host = "maps.example.com"
    with web.serving():
        web.robots(host, "User-agent: *\nCrawl-delay: 0.5\n\nUser-agent: tracemark\nCrawl-delay: 1\nAllow: /\n")
        index = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>'
                 f'{web.url(host, "/sitemap-pages.xml")}</loc></sitemap></sitemapindex>')
        web.image(host, "/sitemap.xml.gz", gzip.compress(index.encode()), "application/gzip")
        pages = "".join(f"<url><loc>/orphan{i}</loc></url>" for i in range(3))
        web.page(host, "/sitemap-pages.xml", f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{pages}'
                 "</urlset>", content_type="application/xml")
        for i in range(3):
            web.page(host, f"/orphan{i}", _html("en", f'<img src="/o{i}.jpg">'))
            web.image(host, f"/o{i}.jpg", sw.encode(sw.crop(sw.scene(1)) if i == 1 else sw.scene(300 + i)))
        result = _crawl(tmp_path, [], {host: [["127.0.0.1"]]}, "--sitemap", web.url(host, "/sitemap.xml.gz"))
    assert result["attempts"] == []
    assert [(r["id"], r["page_url"].rsplit("/", 1)[-1]) for r in result["rows"]] == [("alpen", "orphan1")]
    times = sorted(t for t, h, p in web.times if h == host and p != "/robots.txt")
    assert len(times) == 2 + 3 + 3  # two sitemaps, three pages, three images
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.9, gaps  # our group's Crawl-delay (1 s), not the generic one


def test_https_goes_through_the_same_guard(tmp_path: Path) -> None:
    """TLS connections are made by the same pinned resolver (SNI keeps the host name); redirects too."""
    web = sw.SyntheticWeb()
    host = "secure.example.de"
    with web.serving(tls_dir=tmp_path):
        assert web.url(host).startswith("https://")
        web.robots(host, "User-agent: *\nAllow: /\n")
        web.page(host, "/", _html("de", '<img src="/bild.jpg"><a href="/raus">raus</a>'))
        web.image(host, "/bild.jpg", sw.encode(sw.mirror(sw.scene(1))))
        web.redirect(host, "/raus", "https://169.254.169.254/latest/meta-data/")
        result = _crawl(tmp_path, [web.url(host)], {}, "--resolve", f"{host}:{web.port}:127.0.0.1")
    assert result["attempts"] == [] and result["lookups"] == []
    assert [(r["id"], r["image_url"]) for r in result["rows"]] == [("alpen", web.url(host, "/bild.jpg"))]
    assert result["rows"][0]["evidence"]["page"]["record_id"]
    assert "1 request(s) refused" in result["stderr"]


def test_depth_byte_budget_and_redirect_limit(tmp_path: Path) -> None:
    web = sw.SyntheticWeb()
    deep, heavy = "deep.example.com", "heavy.example.com"
    with web.serving():
        # deep: a chain of pages and a redirect chain of seven hops
        web.page(deep, "/", _html("en", '<a href="/c1">1</a> <a href="/r0">loop</a>'))
        for i in range(1, 6):
            web.page(deep, f"/c{i}", _html("en", f'<a href="/c{i + 1}">next</a>'))
        for i in range(7):
            web.redirect(deep, f"/r{i}", f"/r{i + 1}")
        web.page(deep, "/r7", _html("en", "end of the redirects"))
        # heavy: pages of 10 kB under a 25 kB byte budget
        web.page(heavy, "/", _html("en", "".join(f'<a href="/h{i}">h</a>' for i in range(10)) + "x" * 10_000))
        for i in range(10):
            web.page(heavy, f"/h{i}", _html("en", "y" * 10_000))
        result = _crawl(tmp_path, [web.url(deep), web.url(heavy)], {deep: [["127.0.0.1"]], heavy: [["127.0.0.1"]]},
                        "--max-bytes", str(25_000))
    assert result["attempts"] == []
    pages = {p for (h, p) in web.hits if h == deep}
    assert {"/c1", "/c2"} <= pages and "/c3" not in pages  # --depth 2: seed, then two links deep
    assert {f"/r{i}" for i in range(6)} <= pages and "/r6" not in pages  # the first request and five redirects
    heavy_pages = [p for (h, p) in web.hits if h == heavy and p.startswith("/h")]
    assert 1 <= len(heavy_pages) <= 2, heavy_pages  # the byte budget stops the host after about 25 kB
