"""The checks an upload passes before it is accepted as an original; nothing is stored until all have passed.

In order, each refusal with a 4xx status and a reason a person can read:

1. Size: not empty, at most `max_bytes` (413).
2. Format, by the file's own bytes (its magic number), from an allow-list; the declared content type, if any other
   than `application/octet-stream`, must name the same format (415).
3. Structure, walked without decoding: JPEG segments up to the end-of-image marker, PNG chunks up to IEND, WebP
   RIFF chunks. Truncated files, data after the end of the image (a ZIP, an HTML page or a second image appended:
   the classic polyglot), animations, and more metadata than `max_metadata_bytes` are refused (422); so is
   active content (HTML, script, PHP, SVG, PDF) hidden in metadata segments.
4. Dimensions from the header: at most `max_pixels` and `max_side` (422), before any pixel is decoded.
5. The whole image is decoded by the matching engine's safe decoder (`tracemark.matching.load_image`: checksums,
   decompression-bomb guard, EXIF orientation), which also requires the image to be large enough to fingerprint.

Originals are kept byte for byte (their SHA-256 is the certificate's id); they are served only to their holder,
with `X-Content-Type-Options: nosniff`, as an attachment, under a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from tracemark.matching import MatchingError, Photo, load_image

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_NEUTRAL_TYPES = {"", "application/octet-stream"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"}
_WEBP_METADATA = {b"EXIF", b"XMP ", b"ICCP"}
_ACTIVE_CONTENT = re.compile(
    rb"<script|<html|<\?php|<svg[\s>]|<!doctype|<iframe|<object|<embed|<body|%pdf-|javascript:", re.IGNORECASE
)
DECODE_SIDE = 2048
"""Working size of the full decode (the matching engine fingerprints at this size or below)."""

_decode_slots = threading.BoundedSemaphore(2)  # decoding is the memory-hungry step: at most two at a time


class UploadRejectedError(Exception):
    """An upload that is not accepted: `status` is the HTTP status (413, 415 or 422), the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be."""

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 60_000_000
    max_side: int = 20_000
    max_metadata_bytes: int = 1024 * 1024
    formats: frozenset[str] = frozenset(MEDIA_TYPES)


@dataclass(frozen=True)
class AcceptedImage:
    """An upload that passed every check."""

    data: bytes
    sha256: str
    format: str
    media_type: str
    width: int  # after EXIF orientation
    height: int
    photo: Photo  # decoded, at most DECODE_SIDE on the long side


def _refuse(status: int, message: str) -> UploadRejectedError:
    return UploadRejectedError(status, message)


def sniff_format(data: bytes) -> str | None:
    """The format the bytes themselves announce (JPEG, PNG, WEBP, or another well-known one), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(_PNG_MAGIC):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:2] == b"BM":
        return "BMP"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif", b"ftypmif1"):
        return "HEIF"
    return None


# --- structure walks --------------------------------------------------------------------------------------------


def _walk_jpeg(data: bytes) -> tuple[int, list[bytes]]:
    """Walks the segments of a JPEG; returns the offset after its end-of-image marker and its metadata segments."""
    n, i = len(data), 2
    metadata: list[bytes] = []
    while i < n:
        if data[i] != 0xFF:
            raise _refuse(422, f"corrupt JPEG: no segment marker at byte {i}")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker == 0xD9:
            return i, metadata
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue
        if i + 2 > n:
            break
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2:
            raise _refuse(422, f"corrupt JPEG: segment of length {length} at byte {i}")
        if i + length > n:
            break
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            metadata.append(data[i + 2 : i + length])
        i += length
        if marker == 0xDA:  # entropy-coded data follows, up to the next marker that is not a restart or a stuffed 0
            j = i
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= n:
                    raise _refuse(422, "truncated JPEG: the image data ends without an end-of-image marker")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    j += 1
                    continue
                break
            i = j
    raise _refuse(422, "truncated JPEG: the file ends inside a segment or before its end-of-image marker")


def _inflate_bounded(data: bytes, limit: int, what: str) -> bytes:
    """Inflates zlib data, refusing it once it expands past `limit` bytes (a compressed-text bomb)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise _refuse(422, f"corrupt PNG: the compressed {what} is damaged") from exc
    if len(out) > limit:
        raise _refuse(422, f"the image's compressed {what} expands to more than the metadata limit of {limit} bytes")
    return out


def _png_text_payload(kind: bytes, body: bytes, limit: int) -> bytes:
    """The readable payload of a PNG metadata chunk, inflated when the chunk is compressed."""
    if kind in (b"zTXt", b"iCCP"):
        _, _, rest = body.partition(b"\x00")
        return _inflate_bounded(rest[1:], limit, kind.decode())
    if kind == b"iTXt":
        _, _, rest = body.partition(b"\x00")
        if rest[:1] == b"\x01":
            _, _, text = rest[2:].partition(b"\x00")[2].partition(b"\x00")
            return _inflate_bounded(text, limit, "iTXt")
    return body


def _check_png_pixels(data: bytes) -> None:
    """Inflates the pixel data of a PNG whose dimensions were accepted, and checks that it is whole and exactly
    as long as the header says (Pillow can decode damaged data without a word)."""
    n, i = len(data), 8
    width, height, depth, colour, interlace = struct.unpack(">IIBB2xB", data[16:29])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or interlace not in (0, 1):
        raise _refuse(422, "corrupt PNG: unknown colour type or interlace method")
    inflater = zlib.decompressobj()
    produced = 0
    try:
        while i + 12 <= n:
            length = int.from_bytes(data[i : i + 4], "big")
            if data[i + 4 : i + 8] == b"IDAT":
                chunk = data[i + 8 : i + 8 + length]
                while chunk:
                    produced += len(inflater.decompress(chunk, 1 << 22))
                    chunk = inflater.unconsumed_tail
            i += 12 + length
        produced += len(inflater.flush())
    except zlib.error as exc:
        raise _refuse(422, "corrupt PNG: the compressed pixel data is damaged") from exc
    if not inflater.eof or inflater.unused_data:
        raise _refuse(422, "corrupt PNG: the compressed pixel data is incomplete or followed by garbage")
    if interlace == 0:
        expected = height * (1 + (width * channels * depth + 7) // 8)
        if produced != expected:
            raise _refuse(422, f"corrupt PNG: {produced} bytes of pixel data where the header implies {expected}")


def _walk_png(data: bytes) -> tuple[int, list[bytes]]:
    """Walks the chunks of a PNG; returns the offset after IEND and its metadata chunks."""
    n, i = len(data), 8
    metadata: list[bytes] = []
    first = True
    while i + 12 <= n:
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        if length > 2**31 - 1 or not kind.isalpha():
            raise _refuse(422, f"corrupt PNG: bad chunk at byte {i}")
        if first and kind != b"IHDR":
            raise _refuse(422, "corrupt PNG: the first chunk is not IHDR")
        first = False
        if i + 12 + length > n:
            break
        if kind in (b"acTL", b"fcTL", b"fdAT"):
            raise _refuse(422, "animated PNGs are not accepted as originals; upload a single still image")
        if kind in _PNG_METADATA:
            metadata.append(kind + data[i + 8 : i + 8 + length])
        i += 12 + length
        if kind == b"IEND":
            return i, metadata
    raise _refuse(422, "truncated PNG: the file ends before its IEND chunk")


def _walk_webp(data: bytes) -> tuple[int, list[bytes]]:
    """Walks the RIFF chunks of a WebP; returns the offset after the RIFF container and its metadata chunks."""
    n = len(data)
    end = 8 + int.from_bytes(data[4:8], "little")
    if end > n:
        raise _refuse(422, "truncated WebP: the file is shorter than its RIFF header says")
    metadata: list[bytes] = []
    i = 12
    while i + 8 <= end:
        kind = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        if i + 8 + size > end:
            raise _refuse(422, "truncated WebP: a chunk runs past the end of the file")
        if kind in (b"ANIM", b"ANMF") or (kind == b"VP8X" and size >= 1 and data[i + 8] & 0x02):
            raise _refuse(422, "animated WebPs are not accepted as originals; upload a single still image")
        if kind in _WEBP_METADATA:
            metadata.append(data[i + 8 : i + 8 + size])
        i += 8 + size + (size & 1)
    if i < end:
        raise _refuse(422, "corrupt WebP: a partial chunk at the end of the file")
    return end, metadata


_WALKS = {"JPEG": _walk_jpeg, "PNG": _walk_png, "WEBP": _walk_webp}


def _check_structure(data: bytes, fmt: str, limits: UploadLimits) -> None:
    end, metadata = _WALKS[fmt](data)
    trailing = data[end:]
    if trailing.strip(b"\x00"):
        raise _refuse(
            422, f"{len(trailing)} bytes of other data follow the end of the image (another file or a second image "
            "appended to it); upload the plain image file",
        )
    if fmt == "PNG":  # compressed text counts (and is scanned) as it expands
        metadata = [_png_text_payload(m[:4], m[4:], limits.max_metadata_bytes) for m in metadata]
    size = sum(len(m) for m in metadata)
    if size > limits.max_metadata_bytes:
        raise _refuse(422, f"the image carries {size} bytes of metadata, more than the limit of "
                      f"{limits.max_metadata_bytes}")
    for segment in metadata:
        found = _ACTIVE_CONTENT.search(segment)
        if found:
            raise _refuse(422, f"the image's metadata carries active content ({found.group(0)[:12].decode('latin-1')!r}"
                          "...); images with embedded web content are not accepted")


# --- the whole check ------------------------------------------------------------------------------------------


def _normalised_type(declared: str | None) -> str:
    value = (declared or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(value, value)


def validate_upload(data: bytes, declared_type: str | None, limits: UploadLimits) -> AcceptedImage:
    """Runs every check on an upload and decodes the whole image.

    Args:
        data: The uploaded bytes.
        declared_type: The content type the client declared for the file part, if any.
        limits: What an upload may be.

    Returns:
        The accepted image, with its digest, format, dimensions and decoded pixels.

    Raises:
        UploadRejectedError: with the status and reason, for every upload that is not accepted.
    """
    if not data:
        raise _refuse(422, "the file is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise _refuse(413, f"the file has {len(data)} bytes, more than the limit of {limits.max_bytes}")
    accepted = ", ".join(sorted(limits.formats))
    fmt = sniff_format(data)
    if fmt is None:
        raise _refuse(415, f"the file is not an image in an accepted format ({accepted})")
    if fmt not in limits.formats:
        raise _refuse(415, f"{fmt} images are not accepted as originals (accepted: {accepted})")
    declared = _normalised_type(declared_type)
    if declared not in _NEUTRAL_TYPES and declared != MEDIA_TYPES[fmt]:
        raise _refuse(415, f"the declared content type {declared!r} does not match the file, which is {fmt}")
    _check_structure(data, fmt, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height, opened = probe.width, probe.height, probe.format
                frames = getattr(probe, "n_frames", 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(422, f"the image is too large to decode (decompression bomb refused): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise _refuse(422, f"the {fmt} header cannot be read: it is malformed") from exc
    except Exception as exc:  # Pillow raises many error types for malformed headers
        raise _refuse(422, f"the {fmt} header cannot be read: {str(exc) or type(exc).__name__}") from exc
    if opened != fmt:
        raise _refuse(422, f"the file starts like {fmt} but decodes as {opened}")
    if frames > 1:
        raise _refuse(422, "images with several frames are not accepted as originals")
    if width * height > limits.max_pixels:
        raise _refuse(422, f"the image has {width}x{height} = {width * height} pixels, more than the limit of "
                      f"{limits.max_pixels}")
    if max(width, height) > limits.max_side:
        raise _refuse(422, f"the image is {width}x{height} pixels; the longest side may be {limits.max_side}")
    if fmt == "PNG":
        _check_png_pixels(data)
    with _decode_slots:
        try:
            photo = load_image(data, max_side=DECODE_SIDE, max_pixels=limits.max_pixels)
        except MatchingError as exc:
            raise _refuse(422, f"the image cannot be accepted: {exc}") from exc
        except Exception as exc:  # never a 5xx for a bad file
            raise _refuse(422, f"the image cannot be decoded: {str(exc) or type(exc).__name__}") from exc
    return AcceptedImage(data=data, sha256=hashlib.sha256(data).hexdigest(), format=fmt,
                         media_type=MEDIA_TYPES[fmt], width=photo.width, height=photo.height, photo=photo)
