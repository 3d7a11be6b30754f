"""Rights fields read from real JPEG, PNG and WebP files with XMP and IPTC IIM metadata."""

from __future__ import annotations

import io

from PIL import Image

from tracemark.cases.image_rights import MAX_VALUE, ImageRights, image_rights

from .images import jpeg, photo, png, webp, xmp_packet

CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def test_every_xmp_field_from_a_jpeg() -> None:
    rights = image_rights(jpeg(xmp_packet(
        creator="Jane Doe", rights="© 2026 Jane Doe", web_statement="https://tracemark.example/c/7",
        usage_terms="Web use only", cc_license=CC_BY, licensor_url="https://agency.example/licence",
        credit="Jane Doe / Tracemark", marked=True)))
    assert rights == ImageRights(
        licence_urls=(CC_BY,), web_statements=("https://tracemark.example/c/7",), usage_terms=("Web use only",),
        licensor_urls=("https://agency.example/licence",), creators=("Jane Doe",), credits=("Jane Doe / Tracemark",),
        copyright_notices=("© 2026 Jane Doe",), marked=True)


def test_iptc_iim_fields_and_xmp_together() -> None:
    data = jpeg(xmp_packet(creator="Jane Doe"),
                iptc={(2, 80): "Jane Doe", (2, 110): "Tracemark", (2, 115): "Agentur Süd",
                      (2, 116): "© 2026 Jane Doe, alle Rechte vorbehalten"})
    rights = image_rights(data)
    assert rights.creators == ("Jane Doe",)  # the same value once
    assert rights.credits == ("Tracemark", "Agentur Süd")
    assert rights.copyright_notices == ("© 2026 Jane Doe, alle Rechte vorbehalten",)


def test_iptc_only() -> None:
    rights = image_rights(jpeg(iptc={(2, 116): "(c) Studio Nord"}))
    assert rights.copyright_notices == ("(c) Studio Nord",) and rights.licence_urls == ()


def test_png_and_webp_xmp() -> None:
    cc0 = "https://creativecommons.org/publicdomain/zero/1.0/"
    assert image_rights(png(xmp_packet(cc_license=cc0, marked=False))) == ImageRights(licence_urls=(cc0,),
                                                                                     marked=False)
    assert image_rights(webp(xmp_packet(web_statement="https://w.example/terms"))).web_statements == (
        "https://w.example/terms",)


def test_no_metadata_broken_metadata_and_no_image() -> None:
    buf = io.BytesIO()
    photo().save(buf, "JPEG")
    assert image_rights(buf.getvalue()).empty
    assert image_rights(b"not an image at all").empty
    assert image_rights(b"").empty
    broken = jpeg(b"<x:xmpmeta><rdf:RDF><unclosed")
    assert image_rights(broken).empty


def test_entity_expansion_is_not_performed() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/">'
            b"<xmpRights:WebStatement>&b;</xmpRights:WebStatement></rdf:Description></rdf:RDF></x:xmpmeta>")
    assert image_rights(jpeg(bomb)).web_statements == ()


def test_long_values_are_trimmed_and_whitespace_collapsed() -> None:
    rights = image_rights(jpeg(xmp_packet(usage_terms="x" * 5000, creator="  Jane \n  Doe ")))
    assert rights.usage_terms == ("x" * MAX_VALUE,) and rights.creators == ("Jane Doe",)


def test_truncated_file_keeps_what_was_read() -> None:
    data = jpeg(xmp_packet(creator="Jane Doe"))
    rights = image_rights(data[: len(data) // 2])
    assert isinstance(rights, ImageRights)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG"
