"""`tracemark crawl` against a synthetic web on 127.0.0.1, behind the socket-level network guard.

Four sites under country-code (and one generic) host names, mapped with `--resolve`, in German, French,
Japanese and English, with imprint pages; registered images shown in every way a page can show one, as
crops, mirrors, overlays and smaller copies; unrelated images; robots.txt rules on a site and on an image
host; a redirect chain; redirects and images pointing at private addresses; a huge and a slow page, a huge
image, broken HTML. The crawl runs as a subprocess (`guarded_cli.py`) whose socket module refuses and logs
every non-loopback connect and every DNS lookup: the log must stay empty.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.backend.integration.crawler import synthetic_web as sw
from tests.backend.netguard import read_log
from tracemark.matching import MatchIndex

ROOT = Path(__file__).resolve().parents[4]
GUARDED_CLI = Path(__file__).with_name("guarded_cli.py")

DE, FR, JP, COM, CDN = "shop.example.de", "boutique.example.fr", "shop.example.jp", "photos.example.com", \
    "bilder.example.de"
REFS = {"alpen": 1, "hafen": 2, "kirsche": 3, "lizenz": 4}

# Hosts and URLs a hostile page points the crawler at; none of them may be connected to.
PRIVATE_URLS = [
    "http://10.0.0.1/a.jpg", "http://10.255.0.9:8080/b.jpg", "http://172.16.0.1/c.jpg", "http://172.31.9.9/d.jpg",
    "http://192.168.1.1/e.jpg", "http://192.168.178.1/f.jpg", "http://169.254.169.254/latest/meta-data/",
    "http://169.254.0.1/g.jpg", "http://100.64.0.1/h.jpg", "http://100.127.255.1/i.jpg", "http://0.0.0.0/j.jpg",
    "http://[::]/k.jpg", "http://[::1]/l.jpg", "http://[fd00::1]/m.jpg", "http://[fc00::2]/n.jpg",
    "http://[fe80::1]/o.jpg", "http://[fec0::1]/p.jpg", "http://[::ffff:10.0.0.1]/q.jpg",
    "http://[::ffff:a9fe:a9fe]/r.jpg", "http://[::ffff:192.168.0.1]/s.jpg", "http://[64:ff9b::a00:1]/t.jpg",
    "http://[2002:a9fe:a9fe::1]/u.jpg", "http://[2002:c0a8:101::1]/v.jpg",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/w.jpg", "http://2852039166/x.jpg", "http://0xa9fea9fe/y.jpg",
    "http://0251.0376.0251.0376/z.jpg", "http://10.1/aa.jpg", "http://0x0a000001/ab.jpg", "http://167772161/ac.jpg",
    "http://192.0.2.1/ad.jpg", "http://198.18.0.1/ae.jpg", "http://224.0.0.1/af.jpg", "http://240.0.0.1/ag.jpg",
    "http://intern.example.de/ah.jpg", "http://metadata.example.de/ai.jpg", "http://cgnat.example.de/aj.jpg",
    "http://ula.example.de/ak.jpg", "http://unmapped.example.org/al.jpg", "http://[fe80::1%25eth0]/am.jpg",
    "http://[::ffff:100.64.1.1]/an.jpg", "http://192.88.99.1/ao.jpg",
]
PRIVATE_RESOLVES = ["intern.example.de:80:10.0.0.7", "metadata.example.de:80:169.254.169.254",
                    "cgnat.example.de:80:100.100.1.1", "ula.example.de:80:fd00::5"]


def _html(lang: str, body: str, head: str = "") -> str:
    return f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


@dataclass
class World:
    web: sw.SyntheticWeb
    tmp: Path
    index: Path
    images: dict[str, bytes]


def build_web(web: sw.SyntheticWeb) -> dict[str, bytes]:
    """Fills the synthetic web; returns the image bytes by path (for digests)."""
    orig = {name: sw.scene(seed) for name, seed in REFS.items()}
    imgs = {
        "/img/alpen-crop.jpg": sw.encode(sw.crop(orig["alpen"])),
        "/img/hafen-klein.jpg": sw.encode(sw.smaller(orig["hafen"])),
        "/img/hafen-mirror.jpg": sw.encode(sw.mirror(orig["hafen"])),
        "/img/kirsche-overlay.jpg": sw.encode(sw.overlay(orig["kirsche"])),
        "/img/fremd1.jpg": sw.encode(sw.scene(101)),
        "/img/lizenz-crop.webp": sw.encode(sw.crop(orig["lizenz"]), "WEBP"),
        "/img/alpen-small.jpg": sw.encode(sw.smaller(orig["alpen"])),
        "/img/kirsche-mirror.jpg": sw.encode(sw.mirror(orig["kirsche"])),
        "/img/hafen-crop.jpg": sw.encode(sw.crop(orig["hafen"])),
        "/img/lizenz-overlay.jpg": sw.encode(sw.overlay(orig["lizenz"])),
        "/img/alpen-mirror.jpg": sw.encode(sw.mirror(orig["alpen"])),
        "/img/hafen-overlay.jpg": sw.encode(sw.overlay(orig["hafen"])),
        "/img/fremd2.png": sw.encode(sw.scene(102), "PNG"),
        "/img/private.jpg": sw.encode(sw.crop(orig["kirsche"])),
        "/img/gone-soon.jpg": sw.encode(sw.smaller(orig["kirsche"])),
    }
    imgs["/img/alpen-crop-copy.jpg"] = imgs["/img/alpen-crop.jpg"]  # same bytes, another URL
    for path, data in imgs.items():
        web.image(DE, path, data, "image/webp" if path.endswith(".webp") else "image/jpeg")
    web.image(DE, "/img/not-an-image.jpg", b"<html>this is no image</html>", "image/jpeg")
    bomb = Image.new("1", (12_000, 12_000))  # 144 megapixels in a few kilobytes: refused by the decoder's header check
    web.image(DE, "/img/bombe.png", sw.encode(bomb, "PNG"), "image/png")
    inflated = b'<html><body><img src="/img/aus-der-bombe.jpg">' + b"<p>" * (64 * 1024 * 1024 // 3)
    web.routes[(DE, "/bombe")] = sw.Route(body=gzip.compress(inflated, 9), headers=[("Content-Encoding", "gzip")])
    web.image(DE, "/img/riesig.jpg", b"", endless=True)
    web.redirect(DE, "/img/umgeleitet.jpg", "http://192.168.0.10/x.jpg")
    web.robots(DE, "User-agent: *\nDisallow: /private/\n")
    web.robots(CDN, "User-agent: *\nDisallow: /intern/\n")
    cdn_public = sw.encode(sw.crop(orig["hafen"]).resize((300, 222)))
    web.image(CDN, "/intern/alpen.jpg", sw.encode(orig["alpen"]))
    web.image(CDN, "/public/hafen.jpg", cdn_public)
    imgs["cdn:/public/hafen.jpg"] = cdn_public

    web.page(DE, "/", _html("de", """<h1>Muster Shop</h1><a href="/galerie">Galerie</a> <a href="/umleitung">Neu</a>
        <a href="/kaputt">Alt</a> <a href="/private/geheim.html">Intern</a> <a href="/gross">Gross</a>
        <a href="/langsam">Langsam</a> <a href="/weg-intern">A</a> <a href="/weg-meta">B</a> <a href="/weg-v6">C</a>
        <a href="/ssrf">D</a> <a href="/bombe">E</a> <a href="/impressum">Impressum</a> <a href="http://unrelated.example.net/">extern</a>"""))
    web.page(DE, "/galerie", _html("de", f"""
        <img src="/img/alpen-crop.jpg" alt="Alpen">
        <img src="/img/hafen-klein.jpg" srcset="/img/hafen-klein.jpg 1x, /img/hafen-mirror.jpg 2x">
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="/img/kirsche-overlay.jpg" class="lazy">
        <img src="/img/fremd1.jpg"><img src="/img/gone-soon.jpg">
        <picture><source srcset="/img/lizenz-crop.webp" type="image/webp"><img src="/img/fremd2.png"></picture>
        <img src="{web.url(CDN, '/intern/alpen.jpg')}"><img src="{web.url(CDN, '/public/hafen.jpg')}">
        <img src="/img/not-an-image.jpg"><img src="/img/riesig.jpg"><img src="/img/umgeleitet.jpg">
        <img src="/img/fehlt.jpg"><a href="/img/voll/alpen.jpg">Vollbild</a><img src="/img/bombe.png">"""))
    web.image(DE, "/img/voll/alpen.jpg", sw.encode(orig["alpen"]))
    web.redirect(DE, "/umleitung", "/umleitung2", 301)
    web.redirect(DE, "/umleitung2", web.url(DE, "/umleitung3"), 302)
    web.redirect(DE, "/umleitung3", "/galerie2", 307)
    web.page(DE, "/galerie2", _html("de", """
        <div class="hero"></div><div style="background-image: url('/img/hafen-crop.jpg'); height: 300px"></div>
        <img src="/img/alpen-crop.jpg"><img src="/img/alpen-crop-copy.jpg">""", head="""
        <meta property="og:image" content="/img/alpen-small.jpg">
        <meta name="twitter:image" content="/img/kirsche-mirror.jpg">
        <style>.hero { background-image: url(/img/lizenz-overlay.jpg); }</style>
        <script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": "WebPage",
          "primaryImageOfPage": {"@type": "ImageObject", "contentUrl": "/img/alpen-mirror.jpg"}}]}</script>"""))
    web.page(DE, "/kaputt", '<html lang="de"><body><div><table><tr><td><p>Alt <b><i>kaputt'
             '<img src="/img/hafen-overlay.jpg"></td></span></div></form>< / >&&&<!-- offen')
    web.page(DE, "/private/geheim.html", _html("de", '<img src="/img/private.jpg">'))
    web.page(DE, "/gross", "", endless=True)
    web.page(DE, "/langsam", _html("de", "<p>" + "langsam " * 2000 + "</p>"), drip_s=0.3)
    web.redirect(DE, "/weg-intern", "http://10.0.0.1/admin")
    web.redirect(DE, "/weg-meta", "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    web.redirect(DE, "/weg-v6", "http://[::ffff:a9fe:a9fe]/latest/")
    web.page(DE, "/ssrf", _html("de", "".join(f'<img src="{u}">' for u in PRIVATE_URLS)))
    web.page(DE, "/impressum", _html("de", """<h1>Impressum</h1><p>Muster GmbH<br>Musterweg 1<br>10115 Berlin</p>
        <p>E-Mail: info@muster-gmbh.de</p><p>Telefon: +49 30 1234567</p>"""))

    web.page(FR, "/", _html("fr", '<a href="/photos">Photos</a> <a href="/mentions-legales">Mentions légales</a>'))
    web.page(FR, "/photos", _html("fr", '<img src="/p/port.jpg"><img src="/p/autre.jpg">'))
    web.image(FR, "/p/port.jpg", sw.encode(sw.crop(sw.mirror(orig["hafen"]))))
    web.image(FR, "/p/autre.jpg", sw.encode(sw.scene(103)))
    web.page(FR, "/mentions-legales", _html("fr", """<h1>Mentions légales</h1><p>Éditeur : Boutique Exemple SARL,
        12 rue de la Paix, 75002 Paris, France</p><p>E-mail : contact@boutique-exemple.fr</p>"""))

    web.page(JP, "/", _html("ja", '<a href="/gallery">ギャラリー</a> <a href="/law">特定商取引法に基づく表記</a>'))
    web.page(JP, "/gallery", _html("ja", '<img src="/g/sakura.png">'))
    web.image(JP, "/g/sakura.png", sw.encode(sw.crop(orig["kirsche"]), "PNG"), "image/png")
    web.page(JP, "/law", _html("ja", """<h1>特定商取引法に基づく表記</h1><table>
        <tr><th>販売業者</th><td>株式会社サンプル写真</td></tr>
        <tr><th>所在地</th><td>〒150-0002 東京都渋谷区渋谷2-21-1</td></tr>
        <tr><th>メールアドレス</th><td>info@sample-photo.jp</td></tr></table>"""))

    web.page(COM, "/", _html("en", '<a href="/blog/post">Post</a> <a href="/legal-notice">Legal notice</a>'))
    web.page(COM, "/blog/post", _html("en", '<img src="/uploads/harbour.jpg">'))
    web.image(COM, "/uploads/harbour.jpg", sw.encode(sw.overlay(sw.mirror(orig["hafen"]))))
    web.page(COM, "/legal-notice", _html("en", """<h1>Legal notice</h1><p>This website is operated by Example Photo
        Ltd, 14 Quayside Road, Bristol BS1 4RN, United Kingdom.</p><p>Email: hello@example-photo.co.uk</p>"""))
    return imgs


def run_crawl(world: World, *seeds: str, extra: tuple[str, ...] = (), tag: str = "run") -> dict[str, Any]:
    log = world.tmp / f"netguard-{tag}.log"
    out = world.tmp / f"sightings-{tag}.jsonl"
    port = world.web.port
    args = [sys.executable, str(GUARDED_CLI), "crawl", *seeds, "--depth", "3", "--index", str(world.index),
            "--allow-network", "127.0.0.0/8", "--out", str(out), "--warc-dir", str(world.tmp / "warc"), *extra]
    for host in (DE, FR, JP, COM, CDN):
        args += ["--resolve", f"{host}:{port}:127.0.0.1"]
    for rule in PRIVATE_RESOLVES:
        args += ["--resolve", rule]
    env = dict(os.environ, TM_NETGUARD_LOG=str(log), TRACEMARK_CRAWL_SYSTEM_DNS="false",
               TRACEMARK_CRAWL_DELAY_S="0", TRACEMARK_CRAWL_TIMEOUT_S="3", TRACEMARK_CRAWL_PER_HOST_CONCURRENCY="4",
               TRACEMARK_CRAWL_MAX_PAGE_BYTES=str(1024 * 1024), TRACEMARK_CRAWL_MAX_IMAGE_BYTES=str(2 * 1024 * 1024),
               TRACEMARK_CRAWL_CONTACT_URL="https://tracemark.example/crawler-test",
               TRACEMARK_DATA_DIR=str(world.tmp / "data"))
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    attempts, lookups = read_log(log)
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    refused = int(re.search(r"(\d+) request\(s\) refused", proc.stderr).group(1))  # type: ignore[union-attr]
    return {"rows": rows, "attempts": attempts, "lookups": lookups, "stderr": proc.stderr, "refused": refused}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("crawl")
    web = sw.SyntheticWeb()
    index = tmp / "index"
    with MatchIndex.open(index, create=True) as idx:
        for name, seed in REFS.items():
            idx.add(name, sw.encode(sw.scene(seed)))
    with web.serving():
        images = build_web(web)  # after the server is up: pages link to its port
        yield World(web, tmp, index, images)


@pytest.fixture(scope="module")
def first(world: World) -> dict[str, Any]:
    seeds = [world.web.url(h) for h in (DE, FR, JP, COM)]
    return run_crawl(world, *seeds, tag="first")


def _found(rows: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["id"], r["page_url"].split(":", 2)[2].split("/", 1)[1], r["image_url"].rsplit("/", 2)[-2] + "/"
             + r["image_url"].rsplit("/", 1)[-1]) for r in rows if r["status"] == "online"}


def test_nothing_left_the_machine(first: dict[str, Any]) -> None:
    assert first["attempts"] == []
    assert first["lookups"] == []  # system DNS is off: every name came from --resolve


def test_every_way_of_showing_an_image_and_every_edit_is_found(world: World, first: dict[str, Any]) -> None:
    found = _found(first["rows"])
    expected = {
        ("alpen", "galerie", "img/alpen-crop.jpg"),          # img src, crop
        ("hafen", "galerie", "img/hafen-klein.jpg"),         # img src (smaller)
        ("hafen", "galerie", "img/hafen-mirror.jpg"),        # srcset, mirror
        ("kirsche", "galerie", "img/kirsche-overlay.jpg"),   # lazy data-src, overlay
        ("kirsche", "galerie", "img/gone-soon.jpg"),
        ("lizenz", "galerie", "img/lizenz-crop.webp"),       # picture/source, WebP, crop (a licensed image)
        ("hafen", "galerie", "public/hafen.jpg"),            # on an image host of another domain
        ("alpen", "galerie", "voll/alpen.jpg"),              # linked full size (a lightbox)
        ("alpen", "galerie2", "img/alpen-small.jpg"),        # og:image
        ("kirsche", "galerie2", "img/kirsche-mirror.jpg"),   # twitter:image
        ("hafen", "galerie2", "img/hafen-crop.jpg"),         # style attribute background-image
        ("lizenz", "galerie2", "img/lizenz-overlay.jpg"),    # <style> block background-image
        ("alpen", "galerie2", "img/alpen-mirror.jpg"),       # JSON-LD ImageObject in @graph
        ("alpen", "galerie2", "img/alpen-crop.jpg"),         # the same image URL on a second page
        ("alpen", "galerie2", "img/alpen-crop-copy.jpg"),    # the same bytes under another URL
        ("hafen", "kaputt", "img/hafen-overlay.jpg"),        # broken HTML
        ("hafen", "photos", "p/port.jpg"),
        ("kirsche", "gallery", "g/sakura.png"),
        ("hafen", "blog/post", "uploads/harbour.jpg"),
    }
    assert expected <= found, expected - found
    assert not {f for f in found if "fremd" in f[2] or "autre" in f[2]}, "unrelated images matched"
    assert found == expected, found - expected
    by_path = {r["image_url"].rsplit("/", 1)[-1]: r for r in first["rows"]}
    assert by_path["alpen-crop.jpg"]["edits"]["coverage"] < 0.9
    assert by_path["hafen-mirror.jpg"]["edits"]["mirrored"] is True
    assert "lazy" in by_path["kirsche-overlay.jpg"]["shown_as"]
    assert "json-ld" in by_path["alpen-mirror.jpg"]["shown_as"]
    assert world.web.hits[(DE, "/img/alpen-crop.jpg")] == 1  # shown on two pages, fetched once


def test_sighting_lines_have_the_contract_shape(world: World, first: dict[str, Any]) -> None:
    for row in first["rows"]:
        for key in ("image_url", "page_url", "id", "score", "edits", "first_seen", "last_seen", "country",
                    "operator", "evidence"):
            assert key in row
        assert 0 < row["score"] <= 1 and row["first_seen"] == row["last_seen"] and row["times_seen"] == 1
        evidence = row["evidence"]
        assert evidence["warc"] and evidence["record_id"] and re.fullmatch(r"[0-9a-f]{64}", evidence["sha256"])
        assert evidence["sha256"] == row["image_sha256"]
        assert evidence["page"]["record_id"] != evidence["record_id"]
        assert (world.tmp / "warc" / evidence["warc"]).exists()
    row = next(r for r in first["rows"] if r["image_url"].endswith("/img/alpen-crop.jpg"))
    assert row["evidence"]["sha256"] == hashlib.sha256(world.images["/img/alpen-crop.jpg"]).hexdigest()
    command = [sys.executable, "-c", "from tracemark.cli import main; main()", "evidence", "verify", "--offline"]
    verify = subprocess.run([*command, str(world.tmp / "warc")], capture_output=True, text=True, timeout=300,
                            cwd=ROOT)
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]


def test_countries_and_operators(first: dict[str, Any]) -> None:
    by_host: dict[str, dict[str, Any]] = {}
    for row in first["rows"]:
        by_host.setdefault(row["page_url"].split("/")[2].split(":")[0], row)
    expected = {
        DE: ("DE", "info@muster-gmbh.de", "Muster GmbH"),
        FR: ("FR", "contact@boutique-exemple.fr", "Boutique Exemple SARL"),
        JP: ("JP", "info@sample-photo.jp", "株式会社サンプル写真"),
        COM: ("GB", "hello@example-photo.co.uk", "Example Photo Ltd"),
    }
    for host, (code, email, name) in expected.items():
        row = by_host[host]
        assert row["country"]["code"] == code, row["country"]
        assert row["country"]["reason"]
        assert row["operator"]["email"] == email and row["operator"]["name"] == name
    assert "address" in by_host[COM]["country"]["reason"]  # .com says nothing; the imprint's address decides


def test_robots_txt_is_obeyed(world: World, first: dict[str, Any]) -> None:
    hits = world.web.hits
    assert hits[(DE, "/robots.txt")] == 1 and hits[(CDN, "/robots.txt")] == 1
    assert not [p for (h, p) in hits if h == DE and p.startswith("/private/")]
    assert hits[(DE, "/img/private.jpg")] == 0
    assert not [p for (h, p) in hits if h == CDN and p.startswith("/intern/")]
    assert hits[(CDN, "/public/hafen.jpg")] == 1
    assert all("tracemark" in ua and "+https://tracemark.example/crawler-test" in ua for ua in world.web.user_agents)


def test_private_targets_are_refused_and_never_reached(world: World, first: dict[str, Any]) -> None:
    assert first["refused"] >= 40
    assert first["attempts"] == []
    hosts_seen = {h for (h, _) in world.web.hits}
    assert hosts_seen <= {DE, FR, JP, COM, CDN}, hosts_seen
    assert world.web.hits[(DE, "/weg-intern")] >= 1 and world.web.hits[(DE, "/img/umgeleitet.jpg")] == 1


def test_redirect_chain_huge_slow_and_broken_pages_do_not_stop_the_crawl(world: World, first: dict[str, Any]) -> None:
    hits = world.web.hits
    assert hits[(DE, "/umleitung")] == 1 and hits[(DE, "/umleitung3")] == 1 and hits[(DE, "/galerie2")] == 1
    assert hits[(DE, "/gross")] >= 1 and hits[(DE, "/langsam")] >= 1 and hits[(DE, "/img/riesig.jpg")] >= 1
    assert hits[(FR, "/photos")] == 1 and hits[(JP, "/gallery")] == 1  # the other sites were crawled meanwhile
    # Size limits cut the endless page (1 MiB) and image (2 MiB) off; without them each would stream for a minute.
    assert world.web.sent[(DE, "/gross")] < 32 * 1024 * 1024
    assert world.web.sent[(DE, "/img/riesig.jpg")] < 32 * 1024 * 1024
    assert hits[(DE, "/langsam")] == 3  # timed out, retried twice, given up
    # A gzip bomb (64 MiB of markup in 64 KiB) is not inflated past the page limit, so its image is never seen;
    # a PNG bomb is refused by the decoder before any pixel is decoded.
    assert hits[(DE, "/bombe")] == 1 and hits[(DE, "/img/aus-der-bombe.jpg")] == 0
    assert hits[(DE, "/img/bombe.png")] == 1


def test_only_evidence_of_sightings_is_archived(world: World, first: dict[str, Any]) -> None:
    from warcio.archiveiterator import ArchiveIterator

    archived: set[str] = set()
    for path in (world.tmp / "warc").rglob("*.warc*"):
        with path.open("rb") as fh:
            archived |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)
                         if r.rec_type == "response"}
    shown = {r["page_url"] for r in first["rows"]} | {r["image_url"] for r in first["rows"]}
    assert archived == shown
    assert not [u for u in archived if "fremd" in u or "impressum" in u or u.endswith("/")]
    assert "failed" in first["stderr"]


def test_recrawl_moves_last_seen_and_records_what_is_gone(world: World, first: dict[str, Any]) -> None:
    seeds = [world.web.url(h) for h in (DE, FR, JP, COM)]
    second = run_crawl(world, *seeds, tag="second")
    assert second["attempts"] == []
    before = {(r["id"], r["image_url"], r["page_url"]): r for r in first["rows"]}
    after = {(r["id"], r["image_url"], r["page_url"]): r for r in second["rows"]}
    assert set(after) == set(before)
    for key, row in after.items():
        assert row["first_seen"] == before[key]["first_seen"]
        assert row["last_seen"] > before[key]["last_seen"]
        assert row["times_seen"] == 2 and row["status"] == "online"

    # The French page drops its image, the Japanese image disappears, the English page disappears.
    world.web.page(FR, "/photos", _html("fr", '<img src="/p/autre.jpg">'))
    world.web.remove(JP, "/g/sakura.png")
    world.web.remove(COM, "/blog/post")
    third = run_crawl(world, *seeds, tag="third")
    gone = {r["page_url"].split("/")[2].split(":")[0]: r for r in third["rows"] if r["status"] == "gone"}
    assert gone[FR]["gone_reason"] == "page no longer shows the image"
    assert gone[JP]["gone_reason"] == "image answered 404"
    assert gone[COM]["gone_reason"] == "page answered 404"
    for row in gone.values():
        key = (row["id"], row["image_url"], row["page_url"])
        assert row["last_seen"] == after[key]["last_seen"] and row["gone_at"] > row["last_seen"]
    online = [r for r in third["rows"] if r["status"] == "online"]
    assert len(online) == len(after) - 3 and all(r["times_seen"] == 3 for r in online)
    assert third["attempts"] == []
