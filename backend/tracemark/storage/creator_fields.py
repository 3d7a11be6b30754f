"""The creator and copyright fields an image carries: EXIF, XMP, IPTC and PNG text.

Only the fields that name a person or a rights holder are read: EXIF `Artist`, `Copyright` and `XPAuthor`; XMP
`dc:creator`, `dc:rights`, `photoshop:Credit` and `xmpRights:Owner`; IPTC By-line (2:80), Credit (2:110) and
Copyright Notice (2:116); PNG text `Author` and `Copyright`. XMP is read with patterns, never with an XML parser
(no entity expansion). Values are trimmed to `MAX_VALUE` characters. Call only on an accepted upload.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from PIL import Image, IptcImagePlugin

MAX_VALUE = 200

_EXIF_TAGS = {0x013B: "EXIF:Artist", 0x8298: "EXIF:Copyright", 0x9C9D: "EXIF:XPAuthor"}
_IPTC_TAGS = {(2, 80): "IPTC:By-line", (2, 110): "IPTC:Credit", (2, 116): "IPTC:CopyrightNotice"}
_XMP_PROPERTIES = {"dc:creator": "XMP:dc:creator", "dc:rights": "XMP:dc:rights",
                   "photoshop:Credit": "XMP:photoshop:Credit", "xmpRights:Owner": "XMP:xmpRights:Owner"}
_PNG_TEXT = {"Author": "PNG:Author", "Copyright": "PNG:Copyright"}
_TAG = re.compile(r"<[^>]{0,2000}>")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        if value.endswith(b"\x00\x00") or (len(value) > 1 and value[1:2] == b"\x00"):
            value = value.decode("utf-16-le", errors="replace")
        else:
            value = value.decode("utf-8", errors="replace")
    if isinstance(value, list | tuple):
        value = "; ".join(_text(v) for v in value)
    text = " ".join(str(value).replace("\x00", " ").split())
    return text[:MAX_VALUE]


def _xmp_fields(packet: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop, name in _XMP_PROPERTIES.items():
        element = re.search(rf"<{re.escape(prop)}\b[^>]{{0,2000}}>(.{{0,20000}}?)</{re.escape(prop)}>", packet, re.S)
        values: list[str] = []
        if element:
            items = re.findall(r"<rdf:li\b[^>]{0,2000}>(.{0,4000}?)</rdf:li>", element.group(1), re.S)
            values = items or [element.group(1)]
        else:
            attribute = re.search(rf"\b{re.escape(prop)}=\"([^\"]{{0,4000}})\"", packet)
            if attribute:
                values = [attribute.group(1)]
        text = _text("; ".join(html.unescape(_TAG.sub(" ", v)) for v in values))
        if text:
            out[name] = text
    return out


def creator_fields(data: bytes) -> dict[str, str]:
    """The creator and copyright fields of an image, by name (e.g. `{"EXIF:Artist": "Jane Doe"}`); unreadable
    metadata is treated as absent."""
    fields: dict[str, str] = {}
    try:
        with Image.open(io.BytesIO(data)) as im:
            try:
                exif: Any = im.getexif()
            except Exception:  # a malformed EXIF block: nothing to compare
                exif = {}
            for tag, name in _EXIF_TAGS.items():
                if exif.get(tag):
                    fields[name] = _text(exif.get(tag))
            xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            if xmp:
                fields |= _xmp_fields(xmp.decode("utf-8", errors="replace") if isinstance(xmp, bytes) else str(xmp))
            if im.format == "JPEG":
                try:
                    iptc = IptcImagePlugin.getiptcinfo(im) or {}
                except Exception:
                    iptc = {}
                for iptc_key, name in _IPTC_TAGS.items():
                    if iptc.get(iptc_key):
                        fields[name] = _text(iptc[iptc_key])
            if im.format == "PNG":
                for key, name in _PNG_TEXT.items():
                    if im.info.get(key):
                        fields[name] = _text(im.info[key])
    except Exception:  # the upload was accepted already; metadata we cannot read is no evidence either way
        return {k: v for k, v in fields.items() if v}
    return {k: v for k, v in fields.items() if v}
