"""What a page shows and links to: images (every way a page can show one), links, and its language.

Images are found in:

- `img`: `src`, `srcset`, and the lazy-loading variants (`data-src`, `data-srcset`, `data-lazy-src`,
  `data-lazy-srcset`, `data-original`, `data-lazy`), every `srcset` candidate;
- `picture` / `source`: `srcset` (and lazy variants), `src`;
- `meta`: `og:image` (with `:url` / `:secure_url`), `twitter:image` (with `:src`), `link rel=image_src`;
- CSS: `background` / `background-image` in `style` attributes and `<style>` blocks (`url()` and `image-set()`);
- JSON-LD: `ImageObject` (`contentUrl`, `url`, `thumbnailUrl`), also nested and inside `@graph`, and the
  `image` / `logo` / `thumbnailUrl` properties of any object;
- links (`a`, `area`) to an image file (a lightbox's full size), by the path's extension; a link without one that
  turns out to be an image is handled by the spider.

URLs are resolved against the page (and its `<base href>`), fragments dropped, only http(s) kept, and each
image URL listed once with every way it was shown. Broken HTML is parsed as browsers would parse it (lxml's
HTML parser recovers); a broken JSON-LD block or style is skipped, never fatal. The page's licence data (schema.org,
microdata, `rel=license`, captions) is read from the same parse (`tracemark.crawler.licence`).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from parsel import Selector

from tracemark.crawler.licence import PageLicences, read_licences
from tracemark.crawler.urls import absolute_url
from tracemark.sites._html import load_json

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".heic", ".bmp", ".tif", ".tiff")
LAZY_IMG_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset")
_CSS_BG = re.compile(r"background(?:-image)?\s*:\s*([^;}]*)", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
_CSS_IMAGE_SET_STR = re.compile(r"""image-set\(([^)]*)\)""", re.IGNORECASE)
_CSS_QUOTED = re.compile(r"""["']([^"']+)["']""")
_JSON_IMAGE_KEYS = ("image", "logo", "thumbnailUrl", "contentUrl", "primaryImageOfPage")


@dataclass(slots=True)
class PageImage:
    """An image a page shows: its absolute URL and the ways the page shows it (`img`, `srcset`, `css`, ...)."""

    url: str
    shown_as: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PageContent:
    """What was read from one page."""

    images: list[PageImage]
    links: list[str]
    html_lang: str | None
    base_url: str
    licences: PageLicences = field(default_factory=PageLicences)


def parse_srcset(value: str) -> list[str]:
    """The URLs of a `srcset` attribute (HTML's algorithm: URLs may contain commas; descriptors skipped)."""
    urls: list[str] = []
    pos, n = 0, len(value)
    while pos < n:
        while pos < n and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        if pos >= n:
            break
        start = pos
        while pos < n and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0
            while pos < n:
                c = value[pos]
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth = max(0, depth - 1)
                elif c == "," and depth == 0:
                    pos += 1
                    break
                pos += 1
        if url:
            urls.append(url)
    return urls


def css_image_urls(css: str) -> list[str]:
    """The image URLs of `background` / `background-image` declarations in a piece of CSS."""
    urls: list[str] = []
    for decl in _CSS_BG.finditer(css):
        body = decl.group(1)
        for m in _CSS_URL.finditer(body):
            url = next((g for g in m.groups() if g), "")
            if url:
                urls.append(url.strip())
        for m in _CSS_IMAGE_SET_STR.finditer(body):
            for q in _CSS_QUOTED.finditer(m.group(1)):
                urls.append(q.group(1).strip())
    return urls


def _json_types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {str(k).rsplit("/", 1)[-1] for k in kinds if k}


def _walk_json(node: Any, depth: int = 0) -> Iterator[str]:
    if depth > 40:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk_json(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    if "ImageObject" in _json_types(node):
        for key in ("contentUrl", "url", "thumbnailUrl"):
            value = node.get(key)
            if isinstance(value, str):
                yield value
            elif isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
    for key in _JSON_IMAGE_KEYS:
        value = node.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))
    for value in node.values():
        if isinstance(value, dict | list):
            yield from _walk_json(value, depth + 1)


def jsonld_image_urls(text: str) -> list[str]:
    """The image URLs of one JSON-LD block (nothing when it is not valid JSON)."""
    cleaned = text.strip()
    for junk in ("<!--", "-->", "<![CDATA[", "]]>"):
        cleaned = cleaned.replace(junk, "")
    data = load_json(cleaned)  # None for broken or pathologically deep JSON
    if data is None:
        return []
    return list(dict.fromkeys(_walk_json(data)))


def read_page(html: str, url: str) -> PageContent:
    """Reads the images, links and language of a page (tolerant of broken HTML).

    Args:
        html: The page's text.
        url: The page's final URL (relative references resolve against it or its `<base href>`).

    Returns:
        The page's images (each once, with the ways it is shown), links, `html lang` and licence data.
    """
    sel = Selector(text=html or "<html></html>", type="html")
    base = url
    base_href = sel.xpath("//base/@href").get()
    if base_href:
        base = absolute_url(url, base_href) or url

    found: dict[str, PageImage] = {}

    def add(ref: str | None, how: str) -> None:
        if not ref:
            return
        absolute = absolute_url(base, ref)
        if absolute is None:
            return
        image = found.setdefault(absolute, PageImage(absolute))
        if how not in image.shown_as:
            image.shown_as.append(how)

    for img in sel.xpath("//img"):
        add(img.root.get("src"), "img")
        for ref in parse_srcset(img.root.get("srcset") or ""):
            add(ref, "srcset")
        for attr in LAZY_IMG_ATTRS:
            add(img.root.get(attr), "lazy")
        for attr in LAZY_SRCSET_ATTRS:
            for ref in parse_srcset(img.root.get(attr) or ""):
                add(ref, "lazy")
    for source in sel.xpath("//picture//source | //picture//img"):
        for attr in ("srcset", *LAZY_SRCSET_ATTRS):
            for ref in parse_srcset(source.root.get(attr) or ""):
                add(ref, "picture")
        add(source.root.get("src"), "picture")
    for meta in sel.xpath("//meta"):
        key = (meta.root.get("property") or meta.root.get("name") or "").strip().lower()
        if key in ("og:image", "og:image:url", "og:image:secure_url"):
            add(meta.root.get("content"), "og:image")
        elif key in ("twitter:image", "twitter:image:src"):
            add(meta.root.get("content"), "twitter:image")
    for link in sel.xpath("//link[@rel]"):
        if "image_src" in (link.root.get("rel") or "").lower().split():
            add(link.root.get("href"), "link:image_src")
    for style in sel.xpath("//*[@style]/@style").getall():
        for ref in css_image_urls(style):
            add(ref, "css")
    for block in sel.xpath("//style/text()").getall():
        for ref in css_image_urls(block):
            add(ref, "css")
    for script in sel.xpath("//script[@type]"):
        if (script.root.get("type") or "").strip().lower() != "application/ld+json":
            continue
        for ref in jsonld_image_urls("".join(script.xpath("text()").getall())):
            add(ref, "json-ld")

    links: list[str] = []
    for href in sel.xpath("//a/@href | //area/@href").getall():
        absolute = absolute_url(base, href)
        if absolute is None:
            continue
        if urlsplit(absolute).path.lower().endswith(IMAGE_EXTENSIONS):
            add(absolute, "link")  # a link to an image (a lightbox's full size) shows it
        else:
            links.append(absolute)
    lang = sel.xpath("/html/@lang").get() or sel.xpath("//html/@lang").get()
    try:
        licences = read_licences(sel.root, base)
    except Exception:  # licence data is best effort: a page that yields none still shows its images
        licences = PageLicences()
    return PageContent(
        images=list(found.values()),
        links=list(dict.fromkeys(links)),
        html_lang=lang.strip() if lang and lang.strip() else None,
        base_url=base,
        licences=licences,
    )


SITEMAP_MAX_BYTES = 50 * 1024 * 1024
"""Largest uncompressed sitemap read (the sitemaps.org limit)."""


def read_sitemap(body: bytes, url: str) -> tuple[str, list[str]]:
    """Reads a sitemap or sitemap index (XML, optionally gzipped; sitemaps.org format).

    Args:
        body: The response body.
        url: Where it came from (relative `loc` values resolve against it).

    Returns:
        ("urlset" or "sitemapindex", the http(s) URLs it lists); ("", []) for anything unreadable. Entities are
        never resolved and nothing is fetched while parsing; a gzip body is inflated to at most 50 MB.
    """
    if body[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, SITEMAP_MAX_BYTES)
        except zlib.error:
            return "", []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return "", []
    if root is None:
        return "", []
    kind = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if kind not in ("urlset", "sitemapindex"):
        return "", []
    urls: list[str] = []
    for loc in root.iter("{*}loc"):
        absolute = absolute_url(url, (loc.text or "").strip())
        if absolute is not None:
            urls.append(absolute)
    return kind, list(dict.fromkeys(urls))


IMAGE_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"ftypavif", 4, "image/avif"),
    (b"ftypheic", 4, "image/heic"),
)


def sniff_image_type(body: bytes) -> str | None:
    """The image type the bytes are (by signature, whatever the server claims), or None for anything else."""
    for magic, offset, kind in IMAGE_SIGNATURES:
        if body[offset : offset + len(magic)] == magic:
            if kind == "image/webp" and body[:4] != b"RIFF":
                continue
            return kind
    return None


__all__ = [
    "PageContent",
    "PageImage",
    "css_image_urls",
    "jsonld_image_urls",
    "parse_srcset",
    "read_page",
    "read_sitemap",
    "sniff_image_type",
]
