"""The licence data a page gives for one of its images: what the licence check weighs before a claim.

Sources, for the image they describe (matched by URL after resolution against the page, or by the element that
shows it) and for the page as a whole:

- **JSON-LD**: a schema.org `ImageObject` (also `Photograph`, nested as the `image` of an `Article`, `WebPage`,
  `Product` ..., inside `@graph`, in arrays) whose `contentUrl`, `url` or `thumbnailUrl` is the image: its
  `license`, `acquireLicensePage`, `creditText` and `copyrightNotice`. A node that names the image as its `image`
  passes its own licence fields on to it. The `license` (and the other fields) of a top-level node that is not an
  image (the `WebPage`, the `Article`) is the page's.
- **Microdata**: an `itemscope` of type `ImageObject` (matched by its `contentUrl` / `url` / `thumbnailUrl`
  properties, or by the images shown inside it) with `itemprop="license"`, `acquireLicensePage`, `creditText`,
  `copyrightNotice`; the same properties of a top-level item of another type are the page's.
- **RDFa-ish links**: `<link rel="license">`, `<a rel="license">` (also `cc:license`, `dcterms:license`, and a
  `property` attribute naming one of them): inside a `<figure>` they are the figure's images', elsewhere the page's.
- **Credit shown with the image**: the `<figcaption>` of the image's `<figure>`. An image's `alt` and `title`
  describe it; they are no credit.

Licence and licence-page values are kept only when they are URLs (absolute http(s), or a path resolved against the
page): a text such as "All rights reserved" names no licence. Everything is bounded (blocks, characters, nodes,
depth, values per field, value length), and broken markup or JSON is skipped, never fatal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import lxml.etree
import lxml.html

from tracemark.cases.licence_check import PageLicenceData
from tracemark.crawler.urls import absolute_url
from tracemark.sites._html import load_json

MAX_JSONLD_BLOCKS = 32
MAX_JSONLD_CHARS = 512 * 1024
MAX_NODES = 20_000  # JSON values and microdata properties visited per page
MAX_DEPTH = 32
MAX_ELEMENTS = 200_000  # HTML elements looked at per page
MAX_VALUES = 20  # per field, per image and for the page
MAX_IMAGES = 5_000  # images with data of their own, per page
MAX_ANCESTORS = 64  # levels looked up for an element's figure or microdata item
MAX_TEXT = 500

IMAGE_TYPES = frozenset({"imageobject", "imageobjectsnapshot", "photograph", "barcode"})
_IMAGE_URL_PROPS = ("contentUrl", "url", "thumbnailUrl")
_LICENCE_PROPS = {"license": "licence", "acquireLicensePage": "acquire", "creditText": "credit",
                  "copyrightNotice": "credit"}
_RDF_LICENCE = frozenset({"license", "cc:license", "dcterms:license", "dc:license", "schema:license",
                          "xhv:license", "http://creativecommons.org/ns#license", "http://purl.org/dc/terms/license",
                          "http://www.w3.org/1999/xhtml/vocab#license", "http://schema.org/license",
                          "https://schema.org/license"})
_LAZY_ATTRS = ("src", "data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
_SRCSET_ATTRS = ("srcset", "data-srcset", "data-lazy-srcset")
_SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_PARSER = lxml.html.HTMLParser(huge_tree=True, no_network=True)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\x00", " ")).strip()[:MAX_TEXT]


def url_key(url: str) -> str:
    """A URL as compared here: scheme and host lower-case, default port and fragment dropped."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _licence_url(base: str, value: str) -> str | None:
    """A licence value as a URL: absolute http(s), protocol-relative, or a path; plain text names no licence."""
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        return None
    lowered = value.lower()
    if not (lowered.startswith(("http://", "https://", "//", "/", "./", "../"))):
        return None
    url = absolute_url(base, value)
    return url_key(url) if url is not None else None


@dataclass
class _Found:
    """Licence data being collected (bounded, without duplicates)."""

    licences: list[str] = field(default_factory=list)
    acquire: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)

    def add(self, kind: str, value: str) -> None:
        bucket = {"licence": self.licences, "acquire": self.acquire, "credit": self.credits}[kind]
        if value and value not in bucket and len(bucket) < MAX_VALUES:
            bucket.append(value)

    def merge(self, other: _Found) -> None:
        for value in other.licences:
            self.add("licence", value)
        for value in other.acquire:
            self.add("acquire", value)
        for value in other.credits:
            self.add("credit", value)

    @property
    def empty(self) -> bool:
        return not (self.licences or self.acquire or self.credits)

    def data(self) -> PageLicenceData:
        return PageLicenceData(tuple(self.licences), tuple(self.acquire), tuple(self.credits))


class PageLicences:
    """The licence data of one page: the page's own, and each image's (by URL, see `for_image`)."""

    def __init__(self) -> None:
        self.page = _Found()
        self._images: dict[str, _Found] = {}
        self._alias: dict[str, str] = {}  # every URL an element shows -> the first of them (srcset variants)

    @property
    def empty(self) -> bool:
        """True when the page gives no licence data at all."""
        return self.page.empty and not any(not f.empty for f in self._images.values())

    def _group(self, url: str) -> str:
        key = url_key(url)
        return self._alias.get(key, key)

    def alias(self, urls: Iterable[str]) -> None:
        """Records that one element shows these URLs (an `img` with its `srcset`): they share their data."""
        keys = [url_key(u) for u in urls]
        if len(keys) < 2:
            return
        head = self._alias.get(keys[0], keys[0])
        for key in keys[1:]:
            if len(self._alias) >= MAX_IMAGES * 4:
                return
            self._alias.setdefault(key, head)

    def add(self, url: str, kind: str, value: str) -> None:
        """Adds a value for the image at `url`."""
        group = self._group(url)
        found = self._images.get(group)
        if found is None:
            if len(self._images) >= MAX_IMAGES:
                return
            found = self._images[group] = _Found()
        found.add(kind, value)

    def for_image(self, url: str) -> PageLicenceData:
        """The licence data of the image at `url`: its own first, then the page's."""
        own = self._images.get(self._group(url))
        if own is None:
            return self.page.data()
        merged = _Found()
        merged.merge(own)
        merged.merge(self.page)
        return merged.data()


# ---- JSON-LD ------------------------------------------------------------------------------------------------------


def _local(name: Any) -> str:
    text = str(name)
    return text.rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("@type", node.get("type"))
    kinds = kind if isinstance(kind, list) else [kind]
    return {_local(k).lower() for k in kinds[:MAX_VALUES] if isinstance(k, str) and k}


def _props(node: dict[str, Any], name: str) -> list[Any]:
    """The values of a property (also written `schema:name` or as an IRI), arrays flattened one level."""
    out: list[Any] = []
    for key, value in node.items():
        if key == name or (isinstance(key, str) and ("/" in key or ":" in key) and _local(key) == name):
            out.extend(value[:MAX_VALUES] if isinstance(value, list) else [value])
    return out


def _json_urls(values: list[Any]) -> Iterator[str]:
    """URL strings of property values: a string, or an object's `@id` / `url` / `contentUrl`."""
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for key in ("@id", "url", "contentUrl"):
                inner = value.get(key)
                if isinstance(inner, str):
                    yield inner
                    break


def _json_texts(values: list[Any]) -> Iterator[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            inner = value.get("@value", value.get("name", value.get("text")))
            if isinstance(inner, str):
                yield inner


def _node_licence(node: dict[str, Any], base: str) -> _Found:
    found = _Found()
    for prop, kind in _LICENCE_PROPS.items():
        values = _props(node, prop)
        if not values:
            continue
        if kind == "credit":
            for text in _json_texts(values):
                found.add(kind, _clean(text))
        else:
            for ref in _json_urls(values):
                url = _licence_url(base, ref)
                if url is not None:
                    found.add(kind, url)
    return found


def _image_urls_of(node: dict[str, Any], base: str) -> list[str]:
    urls = []
    for prop in _IMAGE_URL_PROPS:
        for ref in _json_urls(_props(node, prop)):
            if isinstance(ref, str) and (url := absolute_url(base, ref)) is not None:
                urls.append(url)
    return urls


def _attach(out: PageLicences, urls: Iterable[str], found: _Found) -> None:
    for url in urls:
        for value in found.licences:
            out.add(url, "licence", value)
        for value in found.acquire:
            out.add(url, "acquire", value)
        for value in found.credits:
            out.add(url, "credit", value)


def _read_jsonld(data: Any, base: str, out: PageLicences, budget: list[int]) -> None:
    """Walks one JSON-LD document (iteratively, bounded by depth and by the page's node budget)."""
    # (value, depth, top level)
    stack: list[tuple[Any, int, bool]] = [(data, 0, True)]
    while stack:
        value, depth, top = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            return
        if depth > MAX_DEPTH:
            continue  # this branch is too deep; its siblings still count
        if isinstance(value, list):
            for item in reversed(value[:MAX_NODES]):
                stack.append((item, depth + 1, top))
            continue
        if not isinstance(value, dict):
            continue
        licence = _node_licence(value, base)
        if _types(value) & IMAGE_TYPES:
            _attach(out, _image_urls_of(value, base), licence)
        else:
            if top:
                out.page.merge(licence)
            if not licence.empty:  # a node passes its licence on to the images it names
                for image in _props(value, "image"):
                    if isinstance(image, str):
                        if (url := absolute_url(base, image)) is not None:
                            _attach(out, [url], licence)
                    elif isinstance(image, dict):
                        _attach(out, _image_urls_of(image, base), licence)
        for key, child in value.items():
            budget[0] -= 1
            if budget[0] < 0:
                return
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, top and key == "@graph"))


def _jsonld_blocks(root: Any) -> Iterator[str]:
    count = 0
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        count += 1
        if count > MAX_JSONLD_BLOCKS:
            return
        text = script.text or ""
        if len(text) > MAX_JSONLD_CHARS:
            continue
        yield text


def _parse_json(text: str) -> Any:
    cleaned = text.strip()
    for junk in ("<!--", "-->", "<![CDATA[", "]]>"):
        cleaned = cleaned.replace(junk, "")
    return load_json(cleaned)


# ---- HTML: elements, microdata, links, captions -----------------------------------------------------------------


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def _srcset(value: str) -> list[str]:
    from tracemark.crawler.extract import parse_srcset

    return parse_srcset(value)


def _shown_urls(element: Any, base: str) -> list[str]:
    """The image URLs an `img` / `source` element shows (src, srcset and lazy-loading variants)."""
    refs = [element.get(a) or "" for a in _LAZY_ATTRS]
    for attr in _SRCSET_ATTRS:
        refs += _srcset(element.get(attr) or "")
    urls = [u for r in refs if r and (u := absolute_url(base, r)) is not None]
    return list(dict.fromkeys(urls))


def _images_inside(element: Any, base: str, limit: int = 200) -> list[str]:
    """Image URLs shown inside an element (and by itself): `img` and `picture source` elements, and links to an
    image file (a lightbox's full size)."""
    from tracemark.crawler.extract import IMAGE_EXTENSIONS

    urls: list[str] = []
    for child in element.iter("img", "source", "a"):
        if _tag(child) == "a":
            url = absolute_url(base, child.get("href") or "")
            if url is not None and urlsplit(url).path.lower().endswith(IMAGE_EXTENSIONS):
                urls.append(url)
        else:
            urls += _shown_urls(child, base)
        if len(urls) >= limit:
            break
    return list(dict.fromkeys(urls))[:limit]


def _ancestor(element: Any, wanted: Any) -> Any:
    """The nearest ancestor for which `wanted(ancestor)` holds, looking at most `MAX_ANCESTORS` levels up."""
    for level, ancestor in enumerate(element.iterancestors()):
        if level >= MAX_ANCESTORS:
            return None
        if wanted(ancestor):
            return ancestor
    return None


def _figure_of(element: Any) -> Any:
    return _ancestor(element, lambda a: _tag(a) == "figure")


class _FigureImages:
    """The images of each figure, read once per figure."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seen: dict[Any, list[str]] = {}

    def __call__(self, figure: Any) -> list[str]:
        urls = self.seen.get(figure)
        if urls is None:
            urls = self.seen[figure] = _images_inside(figure, self.base)
        return urls


def _item_value(element: Any, base: str, url: bool) -> str | None:
    if url:
        attrs = ("content",) if _tag(element) == "meta" else ("href", "src", "content", "resource", "data")
        for attr in attrs:
            ref = element.get(attr)
            if ref:
                return _licence_url(base, ref)
        return None
    content = element.get("content")
    if content is not None:
        return _clean(content)
    return _clean(element.text_content())


def _microdata(root: Any, base: str, out: PageLicences, budget: list[int]) -> None:
    """Licence properties of microdata items: an ImageObject's for its images, a top-level item's for the page."""
    items: dict[Any, tuple[set[str], bool]] = {}  # element -> (types, top level)
    props: list[tuple[Any, str, Any]] = []  # (owner item element, property, element)
    for element in root.iter():
        budget[0] -= 1
        if budget[0] < 0:
            break
        if not isinstance(element.tag, str):
            continue
        if element.get("itemscope") is not None and len(items) < MAX_NODES:
            kinds = {_local(t).lower() for t in (element.get("itemtype") or "").split()[:MAX_VALUES]}
            items[element] = (kinds, element.get("itemprop") is None)
        names = (element.get("itemprop") or "").split()
        if not names:
            continue
        owner = _ancestor(element, lambda a: a.get("itemscope") is not None)
        if owner is None:
            continue
        for name in names[:MAX_VALUES]:
            props.append((owner, _local(name), element))
    found: dict[Any, _Found] = {}
    image_urls: dict[Any, list[str]] = {}
    for owner, name, element in props:
        kind = _LICENCE_PROPS.get(name)
        if kind is not None:
            value = _item_value(element, base, url=kind != "credit")
            if value:
                found.setdefault(owner, _Found()).add(kind, value)
        elif name in _IMAGE_URL_PROPS or name == "image":
            ref = next((element.get(a) for a in ("src", "href", "content") if element.get(a)), None)
            if ref and (url := absolute_url(base, ref)) is not None:
                image_urls.setdefault(owner, []).append(url)
    for element, (kinds, top) in items.items():
        licence = found.get(element)
        if licence is None:
            continue
        if kinds & IMAGE_TYPES:
            _attach(out, image_urls.get(element, []) + _images_inside(element, base), licence)
        else:
            if top:
                out.page.merge(licence)
            _attach(out, image_urls.get(element, []), licence)


def _rel_licences(root: Any, base: str, out: PageLicences, figures: _FigureImages) -> None:
    """`rel="license"` links (and `property="license"`): a figure's images', else the page's."""
    count = 0
    for element in root.iter("a", "link", "area", "meta", "span", "div"):
        rel = {t.lower() for t in (element.get("rel") or "").split()}
        prop = {t.lower() for t in (element.get("property") or "").split()}
        if not ((rel | prop) & _RDF_LICENCE):
            continue
        count += 1
        if count > MAX_NODES:
            return
        ref = element.get("href") or element.get("resource") or element.get("content") or ""
        url = _licence_url(base, ref)
        if url is None:
            continue
        figure = _figure_of(element)
        if figure is not None and (images := figures(figure)):
            for image in images:
                out.add(image, "licence", url)
        else:
            out.page.add("licence", url)


def _captions(root: Any, out: PageLicences, figures: _FigureImages) -> None:
    """The `figcaption` of each figure, as the credit of the images the figure shows."""
    for count, caption in enumerate(root.iter("figcaption")):
        if count >= MAX_IMAGES:
            return
        figure = _figure_of(caption)
        if figure is None:
            continue
        try:
            text = _clean(caption.text_content()[: MAX_TEXT * 8])
        except (RecursionError, ValueError):
            continue
        if not text:
            continue
        for image in figures(figure):
            out.add(image, "credit", text)


def _aliases(root: Any, base: str, out: PageLicences) -> None:
    """Each `img` (and each `picture`) shows one image in several URLs: they share their licence data."""
    for count, element in enumerate(root.iter("img", "picture")):
        if count >= MAX_IMAGES:
            return
        out.alias(_images_inside(element, base, limit=50) if _tag(element) == "picture"
                  else _shown_urls(element, base))


def read_licences(root: Any, base: str) -> PageLicences:
    """The licence data of a parsed page.

    Args:
        root: The page's lxml root element (as `lxml.html` or parsel parse it).
        base: The URL references resolve against (the page's URL or its `<base href>`).

    Returns:
        The page's licence data; empty for a page without any (or one that cannot be read).
    """
    out = PageLicences()
    if root is None:
        return out
    budget = [MAX_NODES]
    element_budget = [MAX_ELEMENTS]
    figures = _FigureImages(base)
    def json_ld() -> None:
        for block in _jsonld_blocks(root):
            data = _parse_json(block)
            if data is not None:
                _read_jsonld(data, base, out, budget)

    steps: tuple[tuple[str, Any], ...] = (
        ("aliases", lambda: _aliases(root, base, out)),
        ("json-ld", json_ld),
        ("microdata", lambda: _microdata(root, base, out, element_budget)),
        ("rel", lambda: _rel_licences(root, base, out, figures)),
        ("captions", lambda: _captions(root, out, figures)),
    )
    for _name, step in steps:
        try:
            step()
        except (RecursionError, ValueError, TypeError, lxml.etree.LxmlError):
            continue  # one broken source does not cost the others
    return out


def page_licences(html: str, url: str) -> PageLicences:
    """The licence data of a page given as text (parsed here; `<base href>` honoured).

    Args:
        html: The page (broken markup is fine).
        url: The page's URL.

    Returns:
        The page's licence data.
    """
    text = _XML_DECLARATION.sub("", html or "", count=1).replace("\x00", "")
    if not text.strip():
        return PageLicences()
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return PageLicences()
    base = url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = absolute_url(url, href) or url
            break
    return read_licences(root, base)


__all__ = ["PageLicences", "page_licences", "read_licences", "url_key"]
