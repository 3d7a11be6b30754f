"""Rights and licence fields an image carries, read from its bytes: XMP (also the IPTC Extension and PLUS fields,
which live in XMP) and IPTC IIM.

Read through Pillow: `Image.getxmp()` (parsed with defusedxml, so no entity expansion) and
`IptcImagePlugin.getiptcinfo`. Pillow drops XML namespaces, so properties are matched by their local name
(`WebStatement`, `license`, `LicensorURL`, ...); a stray property of another schema with the same name is read too,
which can only make the licence check more careful. Unreadable metadata is treated as absent; values are trimmed to
`MAX_VALUE` characters and at most `MAX_VALUES` per field are kept.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image, IptcImagePlugin

MAX_VALUE = 500
MAX_VALUES = 20
_MAX_DEPTH = 24

# Local XMP property names per field of ImageRights.
_XMP_FIELDS: dict[str, tuple[str, ...]] = {
    "licence_urls": ("license",),  # cc:license
    "web_statements": ("WebStatement",),  # xmpRights:WebStatement
    "usage_terms": ("UsageTerms",),  # xmpRights:UsageTerms
    "licensor_urls": ("LicensorURL",),  # plus:Licensor / plus:LicensorURL
    "creators": ("creator",),  # dc:creator
    "credits": ("Credit", "attributionName", "CreditLine"),  # photoshop:Credit, cc:attributionName, plus:CreditLine
    "copyright_notices": ("rights", "CopyrightNotice"),  # dc:rights
}
_FIELDS = ("licence_urls", "web_statements", "usage_terms", "licensor_urls", "creators", "credits",
           "copyright_notices")
_IPTC_FIELDS: dict[str, tuple[tuple[int, int], ...]] = {
    "creators": ((2, 80),),  # By-line
    "credits": ((2, 110), (2, 115)),  # Credit, Source
    "copyright_notices": ((2, 116),),  # Copyright Notice
}


@dataclass(frozen=True)
class ImageRights:
    """The rights fields of one image; each a tuple of the values found (XMP first, then IPTC IIM)."""

    licence_urls: tuple[str, ...] = ()
    web_statements: tuple[str, ...] = ()
    usage_terms: tuple[str, ...] = ()
    licensor_urls: tuple[str, ...] = ()
    creators: tuple[str, ...] = ()
    credits: tuple[str, ...] = ()
    copyright_notices: tuple[str, ...] = ()
    marked: bool | None = None  # xmpRights:Marked: True = rights-managed, False = public domain, None = unknown

    @property
    def empty(self) -> bool:
        """True when the image carries none of these fields."""
        return self == ImageRights()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage: each field as a list of strings, `marked` as true, false or null."""
        out: dict[str, Any] = {name: list(getattr(self, name)) for name in _FIELDS}
        out["marked"] = self.marked
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ImageRights:
        """The rights `as_dict` wrote (or anything else: what is not a list of strings is ignored, values are
        cleaned and trimmed as when read from an image)."""
        if not isinstance(data, dict):
            return cls()
        found: dict[str, list[str]] = {}
        for name in _FIELDS:
            value = data.get(name)
            if isinstance(value, list | tuple):
                _add(found, name, [v for v in value[: MAX_VALUES * 4] if isinstance(v, str)])
        marked = data.get("marked")
        return cls(**{name: tuple(values) for name, values in found.items()},
                   marked=marked if isinstance(marked, bool) else None)


def _clean(value: str) -> str:
    return " ".join(value.replace("\x00", " ").split())[:MAX_VALUE]


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The text values of an XMP property as Pillow presents it: a string, a resource, a language alternative,
    or an rdf:Seq / Bag / Alt of them."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, depth + 1)
    elif isinstance(value, dict):
        if isinstance(value.get("resource"), str):
            yield value["resource"]
        elif isinstance(value.get("text"), str):
            yield value["text"]
        for container in ("Seq", "Bag", "Alt"):
            if container in value:
                yield from _strings(value[container], depth + 1)
        if "li" in value:
            yield from _strings(value["li"], depth + 1)


def _properties(node: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (local name, value) pair at any depth of Pillow's XMP dictionary."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key), value
            yield from _properties(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _properties(item, depth + 1)


def _iptc_text(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item) for item in items]


def _add(found: dict[str, list[str]], name: str, values: Iterator[str] | list[str]) -> None:
    bucket = found.setdefault(name, [])
    for raw in values:
        text = _clean(raw)
        if text and text not in bucket and len(bucket) < MAX_VALUES:
            bucket.append(text)


def image_rights(data: bytes) -> ImageRights:
    """Reads the rights and licence fields of an image (JPEG, PNG, WebP, TIFF: whatever Pillow opens).

    Args:
        data: the image file's bytes.

    Returns:
        The fields found; an empty `ImageRights` for an image without them or one that cannot be read.
    """
    found: dict[str, list[str]] = {}
    marked: bool | None = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            try:
                xmp: dict[str, Any] = im.getxmp()
            except Exception:  # malformed XMP is no evidence either way
                xmp = {}
            for key, value in _properties(xmp):
                for name, keys in _XMP_FIELDS.items():
                    if key in keys:
                        _add(found, name, _strings(value))
                if key == "Marked" and isinstance(value, str):
                    marked = value.strip().lower() == "true"
            if im.format in ("JPEG", "TIFF"):
                try:
                    iptc = IptcImagePlugin.getiptcinfo(im) or {}
                except Exception:
                    iptc = {}
                for name, tags in _IPTC_FIELDS.items():
                    for tag in tags:
                        if tag in iptc:
                            _add(found, name, _iptc_text(iptc[tag]))
    except Exception:  # not an image Pillow can open: nothing to read
        return ImageRights()
    return ImageRights(**{name: tuple(values) for name, values in found.items()}, marked=marked)
