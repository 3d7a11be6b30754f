"""Real test images with rights metadata: XMP written by Pillow, IPTC IIM in a Photoshop APP13 segment built here."""

from __future__ import annotations

import io
import struct

from PIL import Image, PngImagePlugin

XMP_TEMPLATE = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" xmlns:cc="http://creativecommons.org/ns#"
 xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
 {attributes}>
{elements}
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def xmp_packet(*, creator: str | None = None, rights: str | None = None, web_statement: str | None = None,
               usage_terms: str | None = None, cc_license: str | None = None, licensor_url: str | None = None,
               credit: str | None = None, marked: bool | None = None) -> bytes:
    attributes, elements = [], []
    if credit is not None:
        attributes.append(f'photoshop:Credit="{credit}"')
    if marked is not None:
        attributes.append(f'xmpRights:Marked="{"True" if marked else "False"}"')
    if creator is not None:
        elements.append(f"<dc:creator><rdf:Seq><rdf:li>{creator}</rdf:li></rdf:Seq></dc:creator>")
    if rights is not None:
        elements.append(f'<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">{rights}</rdf:li>'
                        f'<rdf:li xml:lang="de">{rights}</rdf:li></rdf:Alt></dc:rights>')
    if web_statement is not None:
        elements.append(f"<xmpRights:WebStatement>{web_statement}</xmpRights:WebStatement>")
    if usage_terms is not None:
        elements.append(f'<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="x-default">{usage_terms}</rdf:li>'
                        "</rdf:Alt></xmpRights:UsageTerms>")
    if cc_license is not None:
        elements.append(f'<cc:license rdf:resource="{cc_license}"/>')
    if licensor_url is not None:
        elements.append('<plus:Licensor><rdf:Seq><rdf:li rdf:parseType="Resource"><plus:LicensorName>Agency'
                        f"</plus:LicensorName><plus:LicensorURL>{licensor_url}</plus:LicensorURL></rdf:li>"
                        "</rdf:Seq></plus:Licensor>")
    return XMP_TEMPLATE.format(attributes=" ".join(attributes), elements="\n".join(elements)).encode("utf-8")


def photo(size: tuple[int, int] = (64, 48)) -> Image.Image:
    im = Image.new("RGB", size)
    im.putdata([((x * 4) % 256, (y * 5) % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])])
    return im


def jpeg(xmp: bytes | None = None, iptc: dict[tuple[int, int], str] | None = None) -> bytes:
    buf = io.BytesIO()
    if xmp is not None:
        photo().save(buf, "JPEG", quality=90, xmp=xmp)
    else:
        photo().save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    if iptc:
        data = data[:2] + app13(iptc) + data[2:]
    return data


def png(xmp: bytes) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
    buf = io.BytesIO()
    photo().save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def webp(xmp: bytes) -> bytes:
    buf = io.BytesIO()
    photo().save(buf, "WEBP", xmp=xmp)
    return buf.getvalue()


def app13(records: dict[tuple[int, int], str]) -> bytes:
    """A JPEG APP13 segment: Photoshop image resource 0x0404 holding IPTC IIM datasets."""
    iim = b"".join(b"\x1c" + bytes([rec, ds]) + struct.pack(">H", len(v.encode())) + v.encode()
                   for (rec, ds), v in records.items())
    iim = b"\x1c\x01\x5a\x00\x03\x1b\x25\x47" + iim  # 1:90 coded character set: UTF-8
    if len(iim) % 2:
        iim += b"\x00"
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
