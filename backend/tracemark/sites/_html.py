"""HTML to the things the site readers need: a tolerant parse, the visible text as lines, links, JSON-LD.

lxml's HTML parser (libxml2) repairs broken markup the way browsers roughly do: unclosed tags, stray end tags,
missing `<html>`/`<body>`, attributes without quotes. The text is laid out in lines as a reader sees it: a block
element or `<br>` starts a new line, a table row or a definition-list entry becomes one `label: value` line (the
usual layout of a Japanese 会社概要 table), scripts, styles and templates are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import lxml.etree
import lxml.html

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "select", "button"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul",
}
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# libxml2 drops whatever is nested deeper than 256 elements unless told otherwise (`huge_tree`); pages are bounded
# in size by the crawler, and the HTML parser resolves no entities or external resources.
_PARSER = lxml.html.HTMLParser(huge_tree=True, no_network=True)
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def parse(html: str) -> lxml.html.HtmlElement | None:
    """The document tree, or None for a text with no element at all (empty, or not markup)."""
    text = _XML_DECLARATION.sub("", html or "", count=1)  # lxml refuses a str with an encoding declaration
    text = text.replace("\x00", "")
    if not text.strip():
        return None
    try:
        root = lxml.html.document_fromstring(text, parser=_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return None
    return root if isinstance(root, lxml.html.HtmlElement) else None


def clean(text: str) -> str:
    """Text with runs of white space (also no-break and ideographic spaces) made one space, stripped."""
    return _SPACES.sub(" ", text).strip()


def _tag(element: Any) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


class Line(NamedTuple):
    """A line of visible text; `heading` when it is (part of) an `h1`-`h6`."""

    text: str
    heading: bool = False


def lines_of(root: lxml.html.HtmlElement) -> list[Line]:
    """The visible text of the document as non-empty lines (for a pathologically deep document, its plain text
    cut at line breaks)."""
    try:
        return _lines_of(root)
    except RecursionError:
        return [Line(line) for raw in root.text_content().splitlines() if (line := clean(raw))]


def _lines_of(root: lxml.html.HtmlElement) -> list[Line]:
    out: list[Line] = []
    current: list[str] = []
    depth = [0]  # how many headings enclose the walk
    consumed: set[Any] = set()  # `dd` elements already laid out with their `dt`

    def flush() -> None:
        line = clean("".join(current))
        current.clear()
        if line:
            out.append(Line(line, depth[0] > 0))

    def walk(element: Any) -> None:
        tag = _tag(element)
        if tag in _SKIP or not tag:
            if element.tail:
                current.append(element.tail)
            return
        if tag == "tr":
            cells = [clean(cell.text_content()) for cell in element if _tag(cell) in ("th", "td")]
            cells = [c for c in cells if c]
            flush()
            if len(cells) == 2:
                out.append(Line(f"{cells[0]}: {cells[1]}"))
            elif cells:
                # A cell may itself hold several lines (an address): lay each cell out on its own.
                for cell in element:
                    walk(cell)
                    flush()
            if element.tail:
                current.append(element.tail)
            return
        if tag == "dt":
            flush()
            label = clean(element.text_content())
            nxt = element.getnext()
            while nxt is not None and not isinstance(nxt.tag, str):
                nxt = nxt.getnext()
            if label and nxt is not None and _tag(nxt) == "dd":
                value_lines = lines_of_fragment(nxt)
                if value_lines:
                    out.append(Line(f"{label}: {value_lines[0].text}"))
                    out.extend(value_lines[1:])
                    consumed.add(nxt)
                    return
            current.append(element.text_content())
            flush()
            return
        if tag == "dd" and element in consumed:
            if element.tail:
                current.append(element.tail)
            return
        block = tag in _BLOCKS
        if block:
            flush()
        if tag == "br":
            flush()
        if tag == "img" and element.get("alt"):
            current.append(" " + element.get("alt", "") + " ")
        heading = tag in HEADINGS
        depth[0] += heading
        if element.text:
            current.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        depth[0] -= heading
        if element.tail:
            current.append(element.tail)

    walk(root)
    flush()
    return out


def lines_of_fragment(element: lxml.html.HtmlElement) -> list[Line]:
    """The lines of one element's content."""
    wrapper = lxml.html.Element("div")
    copy = lxml.html.fromstring(lxml.html.tostring(element, encoding="unicode"))
    copy.tail = None
    wrapper.append(copy)
    return lines_of(wrapper)


def links(root: lxml.html.HtmlElement) -> Iterator[tuple[str, str, str]]:
    """Every `<a href>` as (href, visible text, title/aria-label) in document order."""
    for anchor in root.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        text = clean(anchor.text_content())
        if not text:
            text = " ".join(clean(img.get("alt", "")) for img in anchor.iter("img")).strip()
        label = clean(" ".join(v for v in (anchor.get("title"), anchor.get("aria-label")) if v))
        yield href.strip(), text, label


MAX_JSON_NESTING = 128
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\[\s\S])*"|[\[\]{}]')


def json_nesting_ok(text: str, limit: int = MAX_JSON_NESTING) -> bool:
    """Whether the arrays and objects of a JSON text nest at most `limit` deep (strings skipped).

    `json.loads` recurses in C once per level: a process whose recursion limit a library raised (py_ecc sets 100000)
    crashes on a page's `[[[[...` instead of raising RecursionError, so nesting is counted before parsing.
    """
    if text.count("[") + text.count("{") <= limit:
        return True
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group(0)
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return False
        elif token in ("]", "}"):
            depth -= 1
    return True


def load_json(text: str) -> Any:
    """A JSON text parsed, or None when it is not JSON or nests deeper than `MAX_JSON_NESTING`."""
    if not json_nesting_ok(text):
        return None
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None


def json_ld(root: lxml.html.HtmlElement) -> list[Any]:
    """The parsed JSON-LD blocks of a page; unreadable ones are skipped (tolerating comments and CDATA)."""
    blocks: list[Any] = []
    for script in root.iter("script"):
        kind = (script.get("type") or "").split(";")[0].strip().lower()
        if kind != "application/ld+json":
            continue
        raw = (script.text or "").strip()
        raw = re.sub(r"^\s*(<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)", "", raw)
        raw = re.sub(r"(-->|//\s*\]\]>|\]\]>)\s*$", "", raw).strip()
        if not json_nesting_ok(raw):
            continue
        try:
            blocks.append(json.loads(raw))
        except (ValueError, RecursionError):
            # A common fault: a trailing comma before } or ].
            try:
                blocks.append(json.loads(re.sub(r",\s*([}\]])", r"\1", raw)))
            except (ValueError, RecursionError):
                continue
    return blocks


def html_lang(root: lxml.html.HtmlElement) -> str | None:
    """The document's `lang` (or `xml:lang`) attribute, if any."""
    value = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang") or root.get("xml:lang")
    return value.strip() if value and value.strip() else None
