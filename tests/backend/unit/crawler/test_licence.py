"""Licence data a page gives for one of its images: JSON-LD, microdata, rel=license, captions; hostile pages."""

from __future__ import annotations

import json
import random
import time

import pytest

from tracemark.cases.licence_check import PageLicenceData
from tracemark.crawler import licence as lic
from tracemark.crawler.extract import read_page
from tracemark.crawler.licence import page_licences

PAGE = "https://news.example.de/artikel/1"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
STOCK = "https://stock.example.com/licence/standard"
BUY = "https://stock.example.com/buy/123"


def ld(*blocks: object, body: str = "", head: str = "") -> str:
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(b)}</script>' for b in blocks)
    return f"<!doctype html><html><head>{head}{scripts}</head><body>{body}</body></html>"


def data(html: str, image: str, url: str = PAGE) -> PageLicenceData:
    return page_licences(html, url).for_image(image)


# ---- JSON-LD ------------------------------------------------------------------------------------------------------


def test_an_image_object_gives_its_licence_to_its_own_image_only() -> None:
    html = ld({"@context": "https://schema.org", "@type": "ImageObject", "contentUrl": "/img/a.jpg",
               "license": CC_BY, "acquireLicensePage": BUY, "creditText": "Foto: Jane Doe",
               "copyrightNotice": "© 2026 Jane Doe"},
              body='<img src="/img/a.jpg"><img src="/img/b.jpg">')
    assert data(html, "https://news.example.de/img/a.jpg") == PageLicenceData(
        (CC_BY,), (BUY,), ("Foto: Jane Doe", "© 2026 Jane Doe"))
    assert data(html, "https://news.example.de/img/b.jpg") == PageLicenceData()


@pytest.mark.parametrize("prop", ["contentUrl", "url", "thumbnailUrl"])
def test_an_image_object_is_matched_by_each_of_its_urls(prop: str) -> None:
    html = ld({"@type": "ImageObject", prop: "https://cdn.example.de/x.jpg", "license": STOCK})
    assert data(html, "https://cdn.example.de/x.jpg").licence_urls == (STOCK,)
    assert data(html, "https://cdn.example.de/y.jpg").licence_urls == ()


def test_graph_page_licence_and_nested_image_objects() -> None:
    html = ld({"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "@id": PAGE, "license": CC_BY_SA,
         "primaryImageOfPage": {"@id": PAGE + "#primaryimage"}},
        {"@type": "ImageObject", "@id": PAGE + "#primaryimage", "url": "https://news.example.de/hero.jpg",
         "contentUrl": "https://news.example.de/hero.jpg", "license": STOCK, "creditText": "dpa"},
        {"@type": "NewsArticle", "headline": "x", "image": [
            {"@type": "ImageObject", "contentUrl": "/body.jpg", "acquireLicensePage": BUY}]},
    ]})
    hero = data(html, "https://news.example.de/hero.jpg")
    assert hero.licence_urls == (STOCK, CC_BY_SA) and hero.credit_text == ("dpa",)
    body = data(html, "https://news.example.de/body.jpg")
    assert body.licence_urls == (CC_BY_SA,) and body.acquire_licence_pages == (BUY,)
    assert data(html, "https://news.example.de/other.jpg") == PageLicenceData((CC_BY_SA,))


def test_an_article_passes_its_licence_to_the_images_it_names() -> None:
    html = ld({"@type": "WebPage", "mainEntity": {
        "@type": "Article", "license": STOCK, "image": ["https://news.example.de/a.jpg",
                                                       {"@type": "ImageObject", "url": "/b.jpg"}]}})
    assert data(html, "https://news.example.de/a.jpg").licence_urls == (STOCK,)
    assert data(html, "https://news.example.de/b.jpg").licence_urls == (STOCK,)
    assert data(html, "https://news.example.de/c.jpg") == PageLicenceData()  # a nested article is not the page


def test_array_roots_prefixed_keys_iri_types_and_object_values() -> None:
    html = ld([{"@type": "http://schema.org/ImageObject", "schema:contentUrl": "/a.jpg",
                "http://schema.org/license": {"@id": CC_BY}},
               {"@type": ["Photograph", "CreativeWork"], "url": "/b.jpg",
                "license": [{"@type": "CreativeWork", "url": STOCK}, CC_BY],
                "creditText": {"@value": "Agentur X"}}])
    assert data(html, "https://news.example.de/a.jpg").licence_urls == (CC_BY,)
    b = data(html, "https://news.example.de/b.jpg")
    assert b.licence_urls == (STOCK, CC_BY) and b.credit_text == ("Agentur X",)


def test_urls_resolve_against_base_href_and_compare_normalised() -> None:
    html = ld({"@type": "ImageObject", "contentUrl": "pics/a.jpg", "license": "/lizenz"},
              head='<base href="https://Static.Example.de:443/media/">')
    got = data(html, "https://static.example.de/media/pics/a.jpg#x")
    assert got.licence_urls == ("https://static.example.de/lizenz",)  # normalised
    assert page_licences(html, PAGE).for_image("HTTPS://STATIC.EXAMPLE.DE/media/pics/a.jpg").licence_urls


def test_srcset_variants_of_one_img_share_the_image_objects_data() -> None:
    html = ld({"@type": "ImageObject", "contentUrl": "/a-800.jpg", "license": STOCK},
              body='<img src="/a-400.jpg" srcset="/a-800.jpg 2x, /a-1600.jpg 4x">'
                   '<picture><source srcset="/p.webp"><img src="/p.jpg"></picture>')
    for variant in ("/a-400.jpg", "/a-800.jpg", "/a-1600.jpg"):
        assert data(html, "https://news.example.de" + variant).licence_urls == (STOCK,)
    assert data(html, "https://news.example.de/p.jpg") == PageLicenceData()


def test_text_that_is_no_url_names_no_licence() -> None:
    html = ld({"@type": "ImageObject", "contentUrl": "/a.jpg",
               "license": ["All rights reserved", "CC-BY-4.0", "javascript:alert(1)", "data:text/plain,x",
                           "mailto:x@example.de", 42, None, {"name": "Standard"}, "ftp://x.example/l"]})
    assert data(html, "https://news.example.de/a.jpg") == PageLicenceData()


# ---- microdata, rel=license, captions --------------------------------------------------------------------------------


def test_microdata_image_object_with_licence_properties() -> None:
    html = f"""<html><body>
      <figure itemscope itemtype="https://schema.org/ImageObject">
        <img itemprop="contentUrl" src="/a.jpg" alt="Jane Doe on a mountain" title="© Jane Doe">
        <link itemprop="license" href="{CC_BY}">
        <a itemprop="acquireLicensePage" href="/kaufen">Lizenz kaufen</a>
        <span itemprop="creditText">Foto: Jane Doe</span>
        <meta itemprop="copyrightNotice" content="© Jane Doe 2026">
      </figure>
      <div itemscope itemtype="https://schema.org/ImageObject">
        <meta itemprop="contentUrl" content="https://cdn.example.de/b.jpg">
        <meta itemprop="license" content="{STOCK}">
      </div>
      <img src="/c.jpg"></body></html>"""
    a = data(html, "https://news.example.de/a.jpg")
    assert a.licence_urls == (CC_BY,) and a.acquire_licence_pages == ("https://news.example.de/kaufen",)
    assert a.credit_text == ("Foto: Jane Doe", "© Jane Doe 2026")  # alt and title are no credit
    assert data(html, "https://cdn.example.de/b.jpg").licence_urls == (STOCK,)
    assert data(html, "https://news.example.de/c.jpg") == PageLicenceData()


def test_microdata_top_level_item_licence_is_the_pages() -> None:
    html = f"""<html><body><article itemscope itemtype="http://schema.org/Article">
      <meta itemprop="license" content="{CC_BY_SA}"><img src="/a.jpg">
      <div itemprop="publisher" itemscope itemtype="http://schema.org/Organization">
        <link itemprop="license" href="https://publisher.example/l"></div>
    </article></body></html>"""
    assert data(html, "https://news.example.de/a.jpg").licence_urls == (CC_BY_SA,)


def test_rel_license_in_head_is_the_pages_in_a_figure_the_figures() -> None:
    html = f"""<html><head><link rel="license" href="{CC_BY_SA}"></head><body>
      <figure><img src="/a.jpg"><figcaption>Foto: Jane Doe / <a rel="license" href="{CC_BY}">CC BY 4.0</a>
      </figcaption></figure>
      <figure><picture><source srcset="/b.webp"><img src="/b.jpg"></picture><figcaption>  Bild:
        Max   Muster </figcaption></figure>
      <img src="/c.jpg" alt="Photo by Someone" title="credit: Someone">
      <p><a rel="nofollow license" href="/lizenzen">Lizenzen</a></p></body></html>"""
    a = data(html, "https://news.example.de/a.jpg")
    assert a.licence_urls == (CC_BY, CC_BY_SA, "https://news.example.de/lizenzen")
    assert a.credit_text == ("Foto: Jane Doe / CC BY 4.0",)
    for b in ("/b.jpg", "/b.webp"):
        got = data(html, "https://news.example.de" + b)
        assert got.credit_text == ("Bild: Max Muster",) and CC_BY not in got.licence_urls
    c = data(html, "https://news.example.de/c.jpg")
    assert c.credit_text == () and c.licence_urls == (CC_BY_SA, "https://news.example.de/lizenzen")


def test_a_lightbox_link_in_a_figure_gets_the_caption() -> None:
    html = ('<html><body><figure><a href="/full/a.jpg"><img src="/thumb/a.jpg"></a>'
            "<figcaption>Foto: Jane Doe</figcaption></figure><a href='/full/b.jpg'>b</a></body></html>")
    for path in ("/full/a.jpg", "/thumb/a.jpg"):
        assert data(html, "https://news.example.de" + path).credit_text == ("Foto: Jane Doe",)
    assert data(html, "https://news.example.de/full/b.jpg") == PageLicenceData()


def test_rdfa_property_license() -> None:
    html = f'<html><body><figure><img src="/a.jpg"><span property="cc:license" resource="{CC_BY}"></span>' \
           "</figure></body></html>"
    assert data(html, "https://news.example.de/a.jpg").licence_urls == (CC_BY,)


def test_read_page_carries_the_licence_data() -> None:
    html = ld({"@type": "ImageObject", "contentUrl": "/a.jpg", "license": STOCK}, body='<img src="/a.jpg">')
    content = read_page(html, PAGE)
    assert [i.url for i in content.images] == ["https://news.example.de/a.jpg"]
    assert content.licences.for_image("https://news.example.de/a.jpg").licence_urls == (STOCK,)
    assert read_page("<html><body><img src='/a.jpg'></body></html>", PAGE).licences.empty


# ---- bounds and hostile input ------------------------------------------------------------------------------------


def test_values_are_bounded() -> None:
    many = [f"https://l.example/{i}" for i in range(500)]
    html = ld({"@type": "ImageObject", "contentUrl": "/a.jpg", "license": many,
               "creditText": "x" * 100_000, "acquireLicensePage": "https://l.example/" + "a" * 5000})
    got = data(html, "https://news.example.de/a.jpg")
    assert len(got.licence_urls) == lic.MAX_VALUES
    assert got.credit_text == ("x" * lic.MAX_TEXT,)
    assert got.acquire_licence_pages == ()  # a URL longer than MAX_URL is no URL


def test_many_images_and_values_stay_bounded() -> None:
    nodes = [{"@type": "ImageObject", "contentUrl": f"/i{i}.jpg", "license": "/l"} for i in range(6000)]
    html = ld({"@graph": nodes})
    assert len(html) < lic.MAX_JSONLD_CHARS
    found = page_licences(html, PAGE)
    assert found.for_image("https://news.example.de/i0.jpg").licence_urls == ("https://news.example.de/l",)
    assert len(found._images) <= lic.MAX_IMAGES


@pytest.mark.parametrize("block", [
    "{", "{\"@type\": \"ImageObject\", \"license\": }", "[" * 100_000 + "]" * 100_000, "null", "42", "\"text\"",
    "{\"@type\": 7, \"license\": [[[[[]]]]]}", "NaN", "{\"@graph\": {\"@graph\": {\"@graph\": 1}}}",
    "<!-- {\"@type\": \"ImageObject\"} -->", "\x00\x01\x02", "{\"a\": " * 5000 + "1" + "}" * 5000,
])
def test_malformed_json_ld_is_skipped(block: str) -> None:
    html = (f'<html><head><script type="application/ld+json">{block}</script>'
            f'<script type="application/ld+json">{json.dumps({"@type": "WebPage", "license": CC_BY})}</script>'
            '</head><body><img src="/a.jpg"></body></html>')
    assert data(html, "https://news.example.de/a.jpg").licence_urls == (CC_BY,)  # the good block still counts


def test_deep_nesting_in_json_and_html_is_bounded() -> None:
    deep: object = {"@type": "ImageObject", "contentUrl": "/deep.jpg", "license": STOCK}
    for _ in range(100):
        deep = {"@type": "Thing", "hasPart": deep}
    deep = [deep, {"@type": "ImageObject", "contentUrl": "/shallow.jpg", "license": STOCK}]
    html = ld(deep, body="<div>" * 1500 + '<figure><img src="/a.jpg"><figcaption>Foto: X</figcaption></figure>'
              + "</div>" * 1500 + "<span>" * 50_000)
    started = time.monotonic()
    found = page_licences(html, PAGE)
    assert time.monotonic() - started < 10
    assert found.for_image("https://news.example.de/deep.jpg") == PageLicenceData()  # beyond MAX_DEPTH
    assert found.for_image("https://news.example.de/shallow.jpg").licence_urls == (STOCK,)  # its sibling counts
    assert found.for_image("https://news.example.de/a.jpg").credit_text == ("Foto: X",)


def test_huge_arrays_and_many_blocks_finish_quickly() -> None:
    huge = {"@type": "WebPage", "license": CC_BY, "hasPart": [{"@type": "Thing", "n": i} for i in range(60_000)]}
    blocks = [{"@type": "ImageObject", "contentUrl": f"/b{i}.jpg", "license": STOCK} for i in range(100)]
    html = ld(huge, *blocks, body="<figure><figcaption>c</figcaption>" + '<img src="/x.jpg">' * 5000 + "</figure>"
              + "<figure><img src='/y.jpg'><figcaption>y</figcaption></figure>" * 3000)
    started = time.monotonic()
    found = page_licences(html, PAGE)
    assert time.monotonic() - started < 15
    assert found.for_image("https://news.example.de/b0.jpg").licence_urls[:1] == (STOCK,)
    assert found.for_image("https://news.example.de/b99.jpg").licence_urls == ()  # past MAX_JSONLD_BLOCKS
    assert found.for_image("https://news.example.de/y.jpg").credit_text == ("y",)


def test_oversized_block_is_skipped() -> None:
    big = {"@type": "ImageObject", "contentUrl": "/a.jpg", "license": STOCK, "pad": "x" * lic.MAX_JSONLD_CHARS}
    assert data(ld(big), "https://news.example.de/a.jpg") == PageLicenceData()


def test_random_broken_markup_never_raises() -> None:
    rng = random.Random(7)
    pieces = ["<figure>", "</figure>", "<figcaption>", "Foto: A", "</figcaption>", "<img src='/a.jpg'>",
              "<img srcset='/a.jpg 1x,, /b.jpg 2x'>", "<picture>", "<source srcset=''>", "</picture>",
              "<script type='application/ld+json'>", "</script>", '{"@type":"ImageObject","contentUrl":"/a.jpg",',
              '"license":', f'"{CC_BY}"', "}", "[", "]", "<a rel='license' href='", "'>", "</a>",
              "<div itemscope itemtype='https://schema.org/ImageObject'>", "<meta itemprop='license' content='",
              "<link itemprop='contentUrl' href='/a.jpg'>", "</div>", "<base href='", "javascript:", "http://[::1",
              "<!--", "-->", "\x00", "&#0;", "\ud7ff", "<", ">", "'", '"', " ", "\n"]
    for _ in range(400):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 80)))
        found = page_licences(html, PAGE)
        got = found.for_image("https://news.example.de/a.jpg")
        assert isinstance(got, PageLicenceData)
        assert all(u.startswith(("http://", "https://")) for u in got.licence_urls + got.acquire_licence_pages)
        read_page(html, PAGE)


def test_empty_and_non_html_pages() -> None:
    for text in ("", "   ", "\x00", "plain text", "<?xml version='1.0' encoding='utf-8'?><rss/>"):
        assert page_licences(text, PAGE).empty


def test_pathological_json_nesting_is_refused_before_parsing() -> None:
    """json.loads recurses in C per level; with the recursion limit a library raised (py_ecc: 100000) it would crash
    the crawler on `[[[[...`. Every JSON-LD reader counts the nesting first."""
    import sys

    from tracemark.crawler.extract import jsonld_image_urls
    from tracemark.sites import _html
    from tracemark.sites.operator import extract_operator

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, 100_000))
    try:
        bomb = "[" * 300_000 + "]" * 300_000
        assert not _html.json_nesting_ok(bomb) and _html.load_json(bomb) is None
        assert _html.json_nesting_ok('{"a": "' + "[" * 500 + '"}')  # brackets inside a string do not nest
        assert jsonld_image_urls(bomb) == []
        page = f'<html><head><script type="application/ld+json">{bomb}</script></head><body>' \
               '<h1>Impressum</h1><p>Muster GmbH, Musterweg 1, 10115 Berlin</p></body></html>'
        assert page_licences(page, PAGE).empty
        operator = extract_operator(page, "https://shop.example.de/impressum")
        assert operator is not None and operator.name == "Muster GmbH"
    finally:
        sys.setrecursionlimit(before)
