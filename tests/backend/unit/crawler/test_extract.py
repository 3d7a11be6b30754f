"""Image discovery, links and language of a page; image sniffing; robots.txt semantics; the sighting ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracemark.crawler.extract import css_image_urls, jsonld_image_urls, parse_srcset, read_page, sniff_image_type
from tracemark.crawler.plan import CrawlPlan
from tracemark.crawler.robots import MAX_TTL_S, RobotsRules, RobotsState
from tracemark.crawler.sightings import Sighting, SightingLedger

PAGE = "https://shop.example.de/produkte/kamera.html"

EVERY_WAY = """<!doctype html><html lang="de-DE"><head>
<base href="https://shop.example.de/produkte/">
<meta property="og:image" content="/og.jpg"><meta name="twitter:image" content="https://cdn.example.net/tw.jpg">
<link rel="image_src" href="link.jpg">
<style>.hero { background-image: url("/css/hero.jpg"); } .x{background: #fff url(css/bg.png) no-repeat}
.y { background-image: image-set("set1.jpg" 1x, "set2.jpg" 2x); } .z { color: red; }</style>
<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [
  {"@type": "Product", "name": "Kamera", "image": {"@type": "ImageObject", "contentUrl": "/ld/product.jpg"}},
  {"@type": "ImageObject", "url": "/ld/graph.jpg", "thumbnailUrl": "/ld/thumb.jpg"}]}</script>
<script type="application/ld+json">{ broken json </script>
</head><body>
<img src="a.jpg" srcset="b.jpg 1x, c,d.jpg 2x,   e.jpg 300w">
<img data-src="lazy1.jpg" src="data:image/gif;base64,R0lGOD"><img data-srcset="lazy2.jpg 1x, lazy3.jpg 2x">
<img data-lazy-src="lazy4.jpg"><img data-original="lazy5.jpg">
<picture><source srcset="pic.webp" type="image/webp"><source data-srcset="pic2.avif"><img src="pic.jpg"></picture>
<div style="background-image:url('inline.jpg')">x</div><div style='background: url(inline2.png)'>y</div>
<a href="seite2.html#top">next</a><a href="mailto:x@y.de">mail</a><a href="javascript:void(0)">js</a>
<a href="//other.example.com/p">other</a><img src="a.jpg#again"><a href="/voll/gross.JPG">Vollbild</a>
"""


def test_every_way_a_page_shows_an_image() -> None:
    content = read_page(EVERY_WAY, PAGE)
    base = "https://shop.example.de/produkte/"
    by_url = {i.url: i.shown_as for i in content.images}
    expected = {
        "https://shop.example.de/og.jpg": "og:image",
        "https://cdn.example.net/tw.jpg": "twitter:image",
        base + "link.jpg": "link:image_src",
        "https://shop.example.de/css/hero.jpg": "css",
        base + "css/bg.png": "css",
        base + "set1.jpg": "css",
        base + "set2.jpg": "css",
        "https://shop.example.de/ld/product.jpg": "json-ld",
        "https://shop.example.de/ld/graph.jpg": "json-ld",
        "https://shop.example.de/ld/thumb.jpg": "json-ld",
        base + "a.jpg": "img",
        base + "b.jpg": "srcset",
        base + "c,d.jpg": "srcset",
        base + "e.jpg": "srcset",
        base + "lazy1.jpg": "lazy",
        base + "lazy2.jpg": "lazy",
        base + "lazy3.jpg": "lazy",
        base + "lazy4.jpg": "lazy",
        base + "lazy5.jpg": "lazy",
        base + "pic.webp": "picture",
        base + "pic2.avif": "picture",
        base + "pic.jpg": "picture",
        base + "inline.jpg": "css",
        base + "inline2.png": "css",
        "https://shop.example.de/voll/gross.JPG": "link",
    }
    for url, how in expected.items():
        assert url in by_url, url
        assert how in by_url[url], (url, by_url[url])
    assert set(by_url) == set(expected)  # data: URIs and duplicates (a.jpg#again) are not listed again
    assert content.links == [base + "seite2.html", "https://other.example.com/p"]
    assert content.html_lang == "de-DE"


@pytest.mark.parametrize("broken", [
    "", "<html", "<<<>>>", "<img src=", "<img src='x.jpg'<img src=y.jpg>", "\x00\x01\x02binary",
    "<html><body><table><tr><td><img src=a.jpg></table></div></span></p>", "<!-- unterminated",
    "<script type='application/ld+json'>[[[[[[[[</script>", "<style>background: url(</style>", "&#xD800;" * 50,
    "<svg><image href='s.png'/></svg><img src=\"q.jpg\" srcset=\",,,  ,\">",
])
def test_broken_html_never_raises(broken: str) -> None:
    content = read_page(broken, PAGE)
    assert isinstance(content.images, list) and isinstance(content.links, list)


def test_broken_html_still_yields_what_it_can() -> None:
    content = read_page("<html lang=fr><body><div><img src=photo.jpg><p>unclosed <img src='two.jpg'>", PAGE)
    assert [i.url for i in content.images] == [
        "https://shop.example.de/produkte/photo.jpg", "https://shop.example.de/produkte/two.jpg"
    ]
    assert content.html_lang == "fr"


def test_srcset_follows_the_html_algorithm() -> None:
    assert parse_srcset("a.jpg 1x, b.jpg 2x") == ["a.jpg", "b.jpg"]
    assert parse_srcset("a,b.jpg 100w,c.jpg") == ["a,b.jpg", "c.jpg"]
    assert parse_srcset("x.jpg, y.jpg") == ["x.jpg", "y.jpg"]
    assert parse_srcset("  ") == []


def test_css_and_jsonld_helpers() -> None:
    assert css_image_urls("a{background:url( 'x.png' )} b{border-image:url(no.png)}") == ["x.png"]
    nested = {"@type": "WebPage", "mainEntity": {"@type": "Article", "image": [
        "https://e.x/1.jpg", {"@type": ["ImageObject"], "contentUrl": "https://e.x/2.jpg"}]}}
    assert jsonld_image_urls(json.dumps(nested)) == ["https://e.x/1.jpg", "https://e.x/2.jpg"]
    assert jsonld_image_urls("<!-- " + json.dumps([{"@type": "ImageObject", "url": "u.jpg"}]) + " -->") == ["u.jpg"]
    assert jsonld_image_urls("{not json") == []
    deep: dict[str, object] = {"image": "deep.jpg"}
    for _ in range(500):
        deep = {"child": deep}
    assert jsonld_image_urls(json.dumps(deep)) == []  # bounded depth, no recursion error


def test_sniffing_trusts_bytes_not_headers() -> None:
    assert sniff_image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniff_image_type(b"\x89PNG\r\n\x1a\nrest") == "image/png"
    assert sniff_image_type(b"RIFF1234WEBPVP8 ") == "image/webp"
    assert sniff_image_type(b"GIF89a...") == "image/gif"
    assert sniff_image_type(b"<html>not an image</html>") is None
    assert sniff_image_type(b"XXXX1234WEBP") is None
    assert sniff_image_type(b"") is None


def test_robots_follows_rfc_9309() -> None:
    ua = "tracemark/0.1 (+https://tracemark.example/crawler)"
    rules = RobotsRules.from_response(200, b"User-agent: *\nDisallow: /private/\n\nUser-agent: tracemark\n"
                                           b"Disallow: /no-tracemark/\nAllow: /\n")
    assert rules.state is RobotsState.RULES
    assert rules.allowed("https://s.example/no-tracemark/x", ua) is False
    assert rules.allowed("https://s.example/private/x", ua) is True  # our group replaces the * group
    generic = RobotsRules.from_response(200, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 3\n")
    assert not generic.allowed("https://s.example/private/a.jpg", ua)
    assert generic.allowed("https://s.example/public/a.jpg", ua)
    assert generic.crawl_delay(ua) == 3.0
    for status in (400, 401, 403, 404, 410, 428):
        assert RobotsRules.from_response(status, b"").allowed("https://s.example/any", ua)
    for status in (429, 500, 502, 503, 599, None):
        assert not RobotsRules.from_response(status, b"").allowed("https://s.example/any", ua)
    big = b"User-agent: *\n" + b"Allow: /x\n" * 60_000 + b"Disallow: /late/\n"
    assert RobotsRules.from_response(200, big).allowed("https://s.example/late/a", ua)  # parsed up to 500 KiB
    cached = RobotsRules.from_response(200, b"", now=0.0)
    assert cached.fresh(3600, now=10.0) and not cached.fresh(3600, now=3601.0)
    assert not cached.fresh(10 * MAX_TTL_S, now=MAX_TTL_S + 1)  # never longer than 24 h


def test_plan_scope() -> None:
    plan = CrawlPlan(seeds=["http://Shop.Example.DE:8080/", "https://blog.example.fr/x"])
    assert plan.allowed_domains == ["blog.example.fr", "shop.example.de"]
    assert plan.in_scope("http://shop.example.de:9/a") and plan.in_scope("http://img.shop.example.de/")
    assert not plan.in_scope("http://evilshop.example.de/") and not plan.in_scope("http://example.de/")
    assert "tracemark" in plan.user_agent and "+https://" in plan.user_agent


def _sighting(when: str) -> Sighting:
    return Sighting(id="ref", image_url="https://s.example/i.jpg", page_url="https://s.example/p", score=0.9,
                    first_seen=when, last_seen=when)


def test_ledger_moves_last_seen_and_records_gone(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    ledger = SightingLedger(path)
    first = ledger.seen(_sighting("2026-01-01T00:00:00.000Z"))
    assert (first.first_seen, first.last_seen, first.times_seen) == ("2026-01-01T00:00:00.000Z",) * 2 + (1,)
    ledger.close()
    ledger = SightingLedger(path)  # a later crawl
    again = ledger.seen(_sighting("2026-02-01T00:00:00.000Z"))
    assert again.first_seen == "2026-01-01T00:00:00.000Z" and again.last_seen == "2026-02-01T00:00:00.000Z"
    assert again.times_seen == 2
    gone = ledger.gone(again.key, "2026-03-01T00:00:00.000Z", "page answered 404")
    assert gone is not None and gone.status == "gone" and gone.last_seen == "2026-02-01T00:00:00.000Z"
    assert ledger.gone(again.key, "2026-03-02T00:00:00.000Z", "again") is None
    back = ledger.seen(_sighting("2026-04-01T00:00:00.000Z"))
    assert back.status == "online" and back.gone_at is None and back.times_seen == 3
    assert json.loads(back.to_json_line())["first_seen"] == "2026-01-01T00:00:00.000Z"
    ledger.close()


def test_sitemaps_are_read_safely() -> None:
    import gzip

    from tracemark.crawler.extract import read_sitemap

    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc>https://s.example/a</loc></url><url><loc> /b </loc></url>"
              b"<url><loc>ftp://s.example/no</loc></url><url><loc>https://s.example/a</loc></url></urlset>")
    assert read_sitemap(urlset, "https://s.example/sitemap.xml") == (
        "urlset", ["https://s.example/a", "https://s.example/b"])
    index = b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>/s1.xml.gz</loc>' \
            b"</sitemap></sitemapindex>"
    assert read_sitemap(gzip.compress(index), "https://s.example/x") == ("sitemapindex", ["https://s.example/s1.xml.gz"])
    xxe = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b"<urlset><url><loc>https://s.example/&e;</loc></url></urlset>")
    kind, urls = read_sitemap(xxe, "https://s.example/")
    assert kind == "urlset" and not any("root" in u for u in urls)
    assert read_sitemap(b"<html>no</html>", "https://s.example/") == ("", [])
    assert read_sitemap(b"\x1f\x8bbroken", "https://s.example/") == ("", [])
    assert read_sitemap(b"", "https://s.example/") == ("", [])
