"""Creator and copyright fields read from EXIF, XMP, IPTC and PNG text; and the content-addressed originals folder."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tracemark.storage import OriginalStore, creator_fields
from tracemark.storage.originals import OriginalCorruptError, OriginalMissingError


def _image() -> Image.Image:
    return Image.new("RGB", (64, 64), (120, 30, 200))


def test_exif_artist_and_copyright() -> None:
    exif = Image.Exif()
    exif[0x013B] = "Jane Doe"
    exif[0x8298] = "(c) 2024 Jane Doe"
    buffer = io.BytesIO()
    _image().save(buffer, "JPEG", exif=exif)
    assert creator_fields(buffer.getvalue()) == {"EXIF:Artist": "Jane Doe", "EXIF:Copyright": "(c) 2024 Jane Doe"}


def test_xmp_creator_and_rights_without_an_xml_parser() -> None:
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description><dc:creator><rdf:Seq>'
           b"<rdf:li>Max M&#252;ller</rdf:li></rdf:Seq></dc:creator><dc:rights><rdf:Alt>"
           b'<rdf:li xml:lang="x-default">(c) Max</rdf:li></rdf:Alt></dc:rights></rdf:Description></rdf:RDF>'
           b"</x:xmpmeta>")
    buffer = io.BytesIO()
    _image().save(buffer, "JPEG", xmp=xmp)
    assert creator_fields(buffer.getvalue()) == {"XMP:dc:creator": "Max Müller", "XMP:dc:rights": "(c) Max"}


def test_iptc_by_line() -> None:
    buffer = io.BytesIO()
    _image().save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    record = b"\x1c\x02\x50" + struct.pack(">H", 8) + b"Ann Smit"
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
    payload = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    assert creator_fields(jpeg[:2] + segment + jpeg[2:]) == {"IPTC:By-line": "Ann Smit"}


def test_png_text() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    buffer = io.BytesIO()
    _image().save(buffer, "PNG", pnginfo=info)
    assert creator_fields(buffer.getvalue()) == {"PNG:Author": "Jane Doe"}


def test_no_fields_and_unreadable_bytes() -> None:
    buffer = io.BytesIO()
    _image().save(buffer, "PNG")
    assert creator_fields(buffer.getvalue()) == {}
    assert creator_fields(b"not an image") == {}


def test_originals_are_content_addressed_and_checked(tmp_path: Path) -> None:
    store = OriginalStore(tmp_path / "o")
    sha = store.put(b"bytes")
    assert store.put(b"bytes") == sha and store.count() == 1
    assert store.get(sha) == b"bytes"
    store.path(sha).write_bytes(b"other")
    with pytest.raises(OriginalCorruptError):
        store.get(sha)
    with pytest.raises(OriginalMissingError):
        store.get("0" * 64)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.path("../../etc/passwd")
