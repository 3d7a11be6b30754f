"""Hostile uploads: files an attacker (or a broken client) sends instead of a photograph. Each comes with the
content type it is declared as; none may be accepted, and none may cause a server error."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from functools import cache

import numpy as np
import skimage.data
from PIL import Image, PngImagePlugin

Hostile = tuple[str, bytes, str]  # (case name, bytes, declared content type)


def photo() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@cache
def good_jpeg() -> bytes:
    return encode(photo(), "JPEG", quality=90)


@cache
def good_png() -> bytes:
    return encode(Image.fromarray(skimage.data.coffee()), "PNG")


@cache
def good_webp() -> bytes:
    return encode(Image.fromarray(skimage.data.chelsea()), "WEBP", quality=80)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_chunk_before_iend(png: bytes, chunk: bytes) -> bytes:
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk + png[end:]


def png_header(width: int, height: int, idat: bytes, color_type: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@cache
def png_bomb() -> bytes:
    """A real decompression bomb: 20,000 x 20,000 grey pixels (400 MB) in well under a megabyte."""
    width = height = 20_000
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    parts = [compressor.compress(row * 500) for _ in range(height // 500)]
    parts.append(compressor.flush())
    return png_header(width, height, b"".join(parts))


def jpeg_with_segment(jpeg: bytes, marker: int, payload: bytes, copies: int = 1) -> bytes:
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment * copies + jpeg[2:]


def app0(jpeg: bytes) -> int:
    return int.from_bytes(jpeg[4:6], "big")


def jpeg_with_dimensions(jpeg: bytes, width: int, height: int) -> bytes:
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def webp_with_canvas(webp: bytes, width: int, height: int) -> bytes:
    flags = bytes([0, 0, 0, 0])
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    vp8x = b"VP8X" + struct.pack("<I", 10) + flags + canvas
    body = b"WEBP" + vp8x + webp[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ztxt_bomb(png: bytes) -> bytes:
    text = zlib.compress(b"A" * 200_000_000, 9)
    return png_with_chunk_before_iend(png, png_chunk(b"zTXt", b"Comment\x00\x00" + text))


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def png_bad_idat(png: bytes) -> bytes:
    """Flips a byte inside the compressed pixels and fixes the chunk's CRC, so only decoding finds the damage."""
    start = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[start : start + 4])[0]
    data = bytearray(png[start + 8 : start + 8 + length])
    for k in range(20, len(data), max(1, len(data) // 50)):
        data[k] ^= 0x55
    return png[:start] + png_chunk(b"IDAT", bytes(data)) + png[start + 12 + length :]


def animated(fmt: str) -> bytes:
    frames = [photo(), photo().rotate(90)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def png_text(key: str, value: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return encode(Image.fromarray(skimage.data.coffee()), "PNG", pnginfo=info)


def random_bytes(n: int, seed: int, prefix: bytes = b"") -> bytes:
    return prefix + np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


ZIP = (b"PK\x03\x04\x14\x00\x00\x00\x00\x00" + b"\x00" * 16 + b"\x05\x00\x00\x00a.txthello"
       + b"PK\x05\x06" + b"\x00" * 18)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def hostile_uploads() -> list[Hostile]:
    jpeg, png, webp = good_jpeg(), good_png(), good_webp()
    cases: list[tuple[str, Callable[[], bytes], str]] = [
        ("empty", lambda: b"", "image/jpeg"),
        ("one byte", lambda: b"\xff", "image/jpeg"),
        ("plain text", lambda: b"hello, this is not an image", "image/jpeg"),
        ("html page", lambda: HTML, "image/png"),
        ("svg with script", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
         "image/svg+xml"),
        ("gif", lambda: encode(photo(), "GIF"), "image/gif"),
        ("bmp", lambda: encode(photo(), "BMP"), "image/bmp"),
        ("tiff", lambda: encode(photo(), "TIFF"), "image/tiff"),
        ("pdf", lambda: b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF", "application/pdf"),
        ("zip", lambda: ZIP, "application/zip"),
        ("heic header", lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200, "image/heic"),
        ("random bytes", lambda: random_bytes(10_000, 1), "image/jpeg"),
        ("random bytes after jpeg magic", lambda: random_bytes(10_000, 2, b"\xff\xd8\xff\xe0"), "image/jpeg"),
        ("random bytes after png magic", lambda: random_bytes(10_000, 3, b"\x89PNG\r\n\x1a\n"), "image/png"),
        ("jpeg magic only", lambda: b"\xff\xd8\xff", "image/jpeg"),
        ("png signature only", lambda: b"\x89PNG\r\n\x1a\n", "image/png"),
        ("jpeg truncated to a header", lambda: jpeg[:600], "image/jpeg"),
        ("jpeg truncated at half", lambda: jpeg[: len(jpeg) // 2], "image/jpeg"),
        ("jpeg truncated at 90%", lambda: jpeg[: len(jpeg) * 9 // 10], "image/jpeg"),
        ("jpeg without end marker", lambda: jpeg[:-2], "image/jpeg"),
        ("jpeg with garbage between segments", lambda: jpeg[:4 + app0(jpeg)] + b"\x12\x34" + jpeg[4 + app0(jpeg):],
         "image/jpeg"),
        ("jpeg with a zero-length segment", lambda: jpeg[:2] + b"\xff\xe1\x00\x00" + jpeg[2:], "image/jpeg"),
        ("png truncated at half", lambda: png[: len(png) // 2], "image/png"),
        ("png without IEND", lambda: png[:-12], "image/png"),
        ("png with a bad IDAT checksum", lambda: flip(png, png.index(b"IDAT") + 40), "image/png"),
        ("png with damaged pixels", lambda: png_bad_idat(png), "image/png"),
        ("png not starting with IHDR", lambda: png[:8] + png_chunk(b"tEXt", b"a\x00b") + png[8:], "image/png"),
        ("png of zero width", lambda: png_header(0, 100, zlib.compress(b"\x00" * 101)), "image/png"),
        ("png of 1x1", lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "image/png"),
        ("jpeg of 8x8", lambda: encode(Image.new("RGB", (8, 8), "red"), "JPEG"), "image/jpeg"),
        ("jpeg too thin", lambda: encode(photo().resize((2000, 40)), "JPEG"), "image/jpeg"),
        ("webp truncated", lambda: webp[: len(webp) // 2], "image/webp"),
        ("webp with a wrong RIFF size", lambda: webp[:4] + struct.pack("<I", 40) + webp[8:], "image/webp"),
        ("png decompression bomb (20000x20000)", png_bomb, "image/png"),
        ("png header of 100000x100000", lambda: png_header(100_000, 100_000, zlib.compress(b"\x00" * 1000)),
         "image/png"),
        ("jpeg header of 65000x65000", lambda: jpeg_with_dimensions(jpeg, 65_000, 65_000), "image/jpeg"),
        ("jpeg wider than the longest side", lambda: jpeg_with_dimensions(jpeg, 30_000, 1_000), "image/jpeg"),
        ("webp canvas of 16384x16384", lambda: webp_with_canvas(webp, 16_384, 16_384), "image/webp"),
        ("png with a zTXt bomb", lambda: ztxt_bomb(png), "image/png"),
        ("jpeg with 1.2 MB of EXIF", lambda: jpeg_with_segment(jpeg, 0xE1, b"Exif\x00\x00" + b"\x00" * 60_000, 20),
         "image/jpeg"),
        ("png with a 2 MB text chunk", lambda: png_with_chunk_before_iend(
            png, png_chunk(b"tEXt", b"Comment\x00" + b"x" * 2_000_000)), "image/png"),
        ("jpeg followed by a zip (polyglot)", lambda: jpeg + ZIP, "image/jpeg"),
        ("jpeg followed by html (polyglot)", lambda: jpeg + HTML, "image/jpeg"),
        ("jpeg followed by a second jpeg", lambda: jpeg + jpeg, "image/jpeg"),
        ("png followed by html (polyglot)", lambda: png + HTML, "image/png"),
        ("png followed by a zip (polyglot)", lambda: png + ZIP, "image/png"),
        ("webp followed by html (polyglot)", lambda: webp + HTML, "image/webp"),
        ("jpeg with script in a comment", lambda: jpeg_with_segment(jpeg, 0xFE, b"<script>alert(1)</script>"),
         "image/jpeg"),
        ("jpeg with a pdf in a comment", lambda: jpeg_with_segment(jpeg, 0xFE, b"%PDF-1.4 1 0 obj"), "image/jpeg"),
        ("jpeg with svg in XMP", lambda: jpeg_with_segment(
            jpeg, 0xE1, b"http://ns.adobe.com/xap/1.0/\x00<svg onload=alert(1)>"), "image/jpeg"),
        ("png with html in a text chunk", lambda: png_text("Comment", "<html><body>hi</body></html>"), "image/png"),
        ("jpeg declared as png", lambda: jpeg, "image/png"),
        ("png declared as jpeg", lambda: png, "image/jpeg"),
        ("jpeg declared as html", lambda: jpeg, "text/html"),
        ("jpeg declared as svg", lambda: jpeg, "image/svg+xml"),
        ("webp declared as jpeg", lambda: webp, "image/jpeg"),
        ("animated png", lambda: animated("PNG"), "image/png"),
        ("animated webp", lambda: animated("WEBP"), "image/webp"),
    ]
    return [(name, make(), declared) for name, make, declared in cases]
