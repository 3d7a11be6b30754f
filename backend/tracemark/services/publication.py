"""Publishing a certificate's public part: the fingerprints, a preview and the metadata document, pinned to IPFS.

What a registration puts on IPFS is what anyone later checks an image against, so every value here can be
recomputed from the image alone (`image_fingerprints`), and every pin is checked:

1. The original is hashed (SHA-256: the token id) and decoded (EXIF orientation applied, as the matching engine
   decodes it); its fingerprints are computed with their algorithm versions in their names: the matching engine's
   global 256-bit DCT hash (`dct256.v<matching FINGERPRINT_VERSION>`, also the 32-byte `fingerprint` the
   contract's `Registration` carries) and the ISCC Content-Code Image (ISO 24138, PyPI `iscc-core`, normalised
   the way the ISCC SDK normalises images, so an auditor can cross-check it with the ISCC tools).
2. A preview is made from the decoded pixels: a JPEG at most `PREVIEW_SIDE` pixels on the long side and at most
   `MAX_PREVIEW_BYTES`, without the original's metadata, and never byte-identical to the original.
3. Preview and metadata are pinned, each as one raw block (CIDv1, raw, sha2-256); the CID each store answers is
   compared with `raw_cid` computed here, and the block is read back, before anything is returned. The metadata's
   CID is then exactly what the certificate contract derives from the digest it stores.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import iscc_core  # type: ignore[import-untyped]
from PIL import Image, ImageChops, ImageOps
from web3 import Web3

from tracemark.domain.metadata import CertificateMetadata
from tracemark.domain.registration import AuditReport
from tracemark.ipfs import MAX_BLOCK_SIZE, ContentStore, IntegrityError, cid_from_digest, raw_cid
from tracemark.ipfs.cid import same_cid
from tracemark.matching import FINGERPRINT_VERSION, MatchIndex, MatchingError, load_image

PREVIEW_SIDE = 512
"""Long side (pixels) of the preview; smaller images keep their size (a preview is never enlarged)."""

MAX_PREVIEW_BYTES = 256 * 1024
"""A preview always fits in one raw IPFS block."""

DCT_HASH_PREFIX = "dct256.v"
"""Fingerprint names of the matching engine's global hash: `dct256.v<FINGERPRINT_VERSION>`, so a verifier running
another version of the engine knows it cannot recompute the value instead of reporting a false mismatch."""

ISCC_BITS = 64


class PublicationError(Exception):
    """The certificate could not be published (unreadable image, document too large)."""


@dataclass(frozen=True)
class ImageFingerprints:
    """What is recomputed from an image to check it against its metadata.

    Attributes:
        sha256: SHA-256 of the file's bytes (the certificate's content hash and token id).
        fingerprints: Algorithm name (with version) -> hex value.
        iscc: The ISCC Content-Code Image, e.g. `ISCC:EEA...`.
        global_hash: The 32-byte global perceptual hash (the contract's `Registration.fingerprint`).
    """

    sha256: bytes
    fingerprints: dict[str, str]
    iscc: str
    global_hash: bytes


@dataclass(frozen=True)
class Publication:
    """What `publish_certificate` pinned, and the values the registration attests.

    Attributes:
        content_hash: SHA-256 of the original (32 bytes); the token id is its uint256.
        metadata_cid: CIDv1 (raw, sha2-256, base32) of the metadata document: the certificate's `tokenURI`.
        metadata_digest: SHA-256 of the canonical metadata bytes (32 bytes), the digest stored on chain.
        preview_cid: CIDv1 of the preview JPEG the metadata's `image` points to.
        fingerprint: The 32-byte perceptual fingerprint for `Registration.fingerprint` (the global DCT hash).
        metadata: The metadata document that was pinned.
    """

    content_hash: bytes
    metadata_cid: str
    metadata_digest: bytes
    preview_cid: str
    fingerprint: bytes
    metadata: CertificateMetadata


def dct_hash_name(version: int) -> str:
    """The fingerprint name of the matching engine's global hash at an engine version."""
    return f"{DCT_HASH_PREFIX}{version}"


def iscc_pixels(original: bytes) -> list[int]:
    """The 32 x 32 grey pixels the ISCC image code is computed from, normalised as the ISCC SDK does it.

    EXIF orientation applied, transparency composited on white, a uniform border (the colour of the top-left
    pixel) trimmed, converted to grey, resized to 32 x 32 with bicubic filtering. Call only after the image was
    accepted by `load_image`, which refuses decompression bombs before any pixel is decoded.
    """
    with Image.open(io.BytesIO(original)) as opened:
        if getattr(opened, "n_frames", 1) > 1:
            opened.seek(0)
        opened.load()
        img: Image.Image = ImageOps.exif_transpose(opened)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    else:
        # Composited on white, an opaque image is unchanged; its alpha channel would not alter grey or the border.
        img = img.convert("RGB")
    background = Image.new(img.mode, img.size, img.getpixel((0, 0)))
    diff = ImageChops.difference(img, background)
    bbox = ImageChops.add(diff, diff).getbbox()
    if bbox is not None and bbox != (0, 0, *img.size):
        img = img.crop(bbox)
    grey = img.convert("L").resize((32, 32), Image.Resampling.BICUBIC)
    return list(grey.tobytes())


def image_iscc(original: bytes) -> str:
    """The ISCC Content-Code Image (64 bits, algorithm v0) of an image file."""
    return str(iscc_core.gen_image_code_v0(iscc_pixels(original), bits=ISCC_BITS)["iscc"])


def image_fingerprints(original: bytes) -> ImageFingerprints:
    """Computes what a certificate's metadata records about its image, from the file alone.

    Raises:
        PublicationError: the file is not an image the matching engine can read and fingerprint.
    """
    try:
        reference = MatchIndex.fingerprint(original)
        iscc = image_iscc(original)
    except MatchingError as exc:
        raise PublicationError(f"the image cannot be fingerprinted: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise PublicationError(f"the image cannot be read: {exc}") from exc
    return ImageFingerprints(
        sha256=hashlib.sha256(original).digest(),
        fingerprints={dct_hash_name(FINGERPRINT_VERSION): reference.global_hash.hex()},
        iscc=iscc,
        global_hash=bytes(reference.global_hash),
    )


def make_preview(original: bytes) -> bytes:
    """A JPEG preview of an image: at most `PREVIEW_SIDE` pixels on the long side and `MAX_PREVIEW_BYTES`, with no
    metadata of the original, and never the original's own bytes.

    Raises:
        PublicationError: the image cannot be decoded.
    """
    try:
        photo = load_image(original, max_side=PREVIEW_SIDE)
    except MatchingError as exc:
        raise PublicationError(f"the image cannot be decoded for a preview: {exc}") from exc
    image = Image.fromarray(photo.rgb)
    for quality in (82, 72, 62, 52, 42):
        preview = _jpeg(image, quality)
        if preview == original:
            # A small JPEG that is exactly what this encoder makes would come out unchanged; the preview must never
            # be the original, so it is encoded at another quality then.
            preview = _jpeg(image, quality - 1)
        if len(preview) <= MAX_PREVIEW_BYTES and preview != original:
            return preview
        image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)), Image.Resampling.LANCZOS)
    raise PublicationError("could not make a preview small enough for one IPFS block")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def pin_checked(store: ContentStore, data: bytes, what: str) -> str:
    """Pins one raw block and returns its CID (base32), after checking the store's answer and reading it back.

    Raises:
        IntegrityError: the store answered another CID than the content's own, or holds other bytes under it.
        BlockTooLargeError: the content does not fit in one raw block.
        ContentUnavailableError: the store cannot be reached.
    """
    expected = raw_cid(data)
    answered = store.put(data)
    if not same_cid(answered, expected):
        raise IntegrityError(f"the content store answered CID {answered} for the {what}, but its CID is {expected}")
    if store.get(expected) != data:
        raise IntegrityError(f"the content store returns other bytes for the {what} than were pinned ({expected})")
    return expected


def publish_certificate(
    store: ContentStore,
    original: bytes,
    *,
    title: str,
    creator_name: str,
    holder: str,
    audit: AuditReport,
    captured_at: str | None = None,
    licence_terms: dict[str, Any] | None = None,
) -> Publication:
    """Fingerprints an image, pins its preview and metadata document, and returns what the attestation binds.

    Args:
        store: Where the blocks are pinned (the IPFS daemon, or the embedded store).
        original: The original image file, byte for byte (it is never pinned).
        title: The image's title.
        creator_name: The creator's name as declared.
        holder: The wallet that will hold the certificate (the attestation's creator address).
        audit: The authorship audit; its outcome and digest go into the metadata.
        captured_at: When the photograph was taken (ISO 8601), if known.
        licence_terms: The holder's licence terms, if any.

    Returns:
        The publication: content hash, metadata CID and digest, preview CID, fingerprint, metadata.

    Raises:
        PublicationError: the image cannot be read, the holder is not an address, or the document is too large.
        IntegrityError: a store answered a CID that does not match the content.
        ContentUnavailableError: the store cannot be reached.
    """
    if not Web3.is_address(holder):
        raise PublicationError(f"the holder is not an address: {holder!r}")
    prints = image_fingerprints(original)
    preview = make_preview(original)
    preview_cid = pin_checked(store, preview, "preview")
    metadata = CertificateMetadata.with_audit(
        audit,
        title=title,
        creator_name=creator_name,
        creator_address=Web3.to_checksum_address(holder),
        sha256=prints.sha256.hex(),
        fingerprints=prints.fingerprints,
        preview_cid=preview_cid,
        iscc=prints.iscc,
        captured_at=captured_at,
        licence_terms=dict(licence_terms or {}),
    )
    document = metadata.encode()
    if len(document) > MAX_BLOCK_SIZE:
        raise PublicationError(f"the metadata document has {len(document)} bytes, more than one block")
    metadata_cid = pin_checked(store, document, "metadata")
    digest = hashlib.sha256(document).digest()
    if metadata_cid != cid_from_digest(digest):  # both computed here: a guard against a broken CID library
        raise IntegrityError(f"the metadata CID {metadata_cid} is not the CID of its digest {digest.hex()}")
    return Publication(
        content_hash=prints.sha256,
        metadata_cid=metadata_cid,
        metadata_digest=digest,
        preview_cid=preview_cid,
        fingerprint=prints.global_hash,
        metadata=metadata,
    )
