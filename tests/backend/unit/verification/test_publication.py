"""Publishing a certificate: fingerprints, preview and metadata pinned as raw blocks, every CID checked."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from tests.backend.unit.verification.images import (
    astronaut_png,
    big_noisy_png,
    chelsea_jpeg,
    encode,
    with_orientation,
)
from tracemark.domain.metadata import CertificateMetadata, parse_metadata
from tracemark.domain.registration import AuditReport, CheckResult, Outcome
from tracemark.ipfs import MAX_BLOCK_SIZE, IntegrityError, cid_from_digest, raw_cid
from tracemark.ipfs.embedded import EmbeddedStore
from tracemark.matching import FINGERPRINT_VERSION, load_image
from tracemark.services.publication import (
    MAX_PREVIEW_BYTES,
    PREVIEW_SIDE,
    PublicationError,
    image_fingerprints,
    image_iscc,
    make_preview,
    publish_certificate,
)

HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
AUDIT = AuditReport((CheckResult("exact_duplicate", Outcome.PASS, "no certificate has this exact image"),))


def publish(store: object, original: bytes, **extra: object) -> object:
    values: dict[str, object] = {"title": "Astronaut", "creator_name": "Jane Doe", "holder": HOLDER, "audit": AUDIT}
    return publish_certificate(store, original, **(values | extra))  # type: ignore[arg-type]


def independent_raw_cid(data: bytes) -> str:
    """CIDv1 raw sha2-256 in base32, written out by hand: version 1, codec 0x55, multihash 0x12 0x20 <digest>."""
    binary = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(binary).decode().lower().rstrip("=")


# ---- the metadata document: golden bytes, digest and CID -----------------------------------------------------

GOLDEN = CertificateMetadata(
    title="Harbour at dawn", creator_name="Jane Doe", creator_address=HOLDER, sha256="ab" * 32,
    fingerprints={"dct256.v2": "cd" * 32}, preview_cid="bafkreidpdqp6bgumayb5x5ysnzvjtadmwaud4fx35xtgv7nswv3zl3e4be",
    iscc="ISCC:EEA4FESMKUZL3X6I", captured_at="2026-05-01T06:12:00Z", audit_outcome="pass", audit_sha256="ef" * 32,
    licence_terms={"web": "5 CPY"},
)
GOLDEN_BYTES = "".join([
    '{"attributes":[{"trait_type":"Creator","value":"Jane Doe"},',
    '{"trait_type":"Captured","value":"2026-05-01T06:12:00Z"}],',
    '"description":"Harbour at dawn, by Jane Doe. Registered on Tracemark.",',
    '"image":"ipfs://bafkreidpdqp6bgumayb5x5ysnzvjtadmwaud4fx35xtgv7nswv3zl3e4be","name":"Harbour at dawn",',
    '"tracemark":{"audit":{"outcome":"pass","report_sha256":"', "ef" * 32, '"},',
    '"captured_at":"2026-05-01T06:12:00Z",',
    '"creator":{"address":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","name":"Jane Doe"},',
    '"fingerprints":{"dct256.v2":"', "cd" * 32, '"},"iscc":"ISCC:EEA4FESMKUZL3X6I",',
    '"licence_terms":{"web":"5 CPY"},"schema":1,"sha256":"', "ab" * 32, '","title":"Harbour at dawn"}}',
]).encode()
GOLDEN_DIGEST = "ea4cdb86ba6472fe76db7de196bcda286b9cca4e7058500163ea6e151e8d7dad"
GOLDEN_CID = "bafkreihkjtnynoteol7hnw354gllzwrinoomuttqlbiacy7knykr5dl5vu"


def test_a_fixed_document_has_a_fixed_digest_and_cid(tmp_path: Path) -> None:
    document = GOLDEN.encode()
    assert document == GOLDEN_BYTES
    assert hashlib.sha256(document).hexdigest() == GOLDEN_DIGEST
    assert independent_raw_cid(document) == GOLDEN_CID
    assert raw_cid(document) == GOLDEN_CID == cid_from_digest(bytes.fromhex(GOLDEN_DIGEST))
    assert EmbeddedStore(tmp_path).put(document) == GOLDEN_CID
    assert parse_metadata(document) == GOLDEN


# ---- publishing ---------------------------------------------------------------------------------------------------


def test_publish_pins_preview_and_metadata_and_returns_what_the_chain_needs(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    original = astronaut_png()
    publication = publish(store, original, captured_at="2024-03-01T10:00:00Z", licence_terms={"web": "10 CPY"})

    assert publication.content_hash == hashlib.sha256(original).digest()
    document = store.get(publication.metadata_cid)
    assert hashlib.sha256(document).digest() == publication.metadata_digest
    assert publication.metadata_cid == cid_from_digest(publication.metadata_digest) == independent_raw_cid(document)
    assert len(document) <= MAX_BLOCK_SIZE
    metadata = parse_metadata(document)
    assert metadata == publication.metadata
    assert metadata.sha256 == hashlib.sha256(original).hexdigest()
    assert metadata.creator_address == HOLDER and metadata.creator_name == "Jane Doe"
    assert metadata.audit_outcome == "pass" and metadata.audit_sha256 == AUDIT.digest()
    assert metadata.captured_at == "2024-03-01T10:00:00Z" and metadata.licence_terms == {"web": "10 CPY"}
    assert metadata.preview_cid == publication.preview_cid
    assert json.loads(document)["image"] == f"ipfs://{publication.preview_cid}"

    name = f"dct256.v{FINGERPRINT_VERSION}"
    assert metadata.fingerprints == {name: publication.fingerprint.hex()}
    assert len(publication.fingerprint) == 32 and len(publication.metadata_digest) == 32
    assert metadata.iscc is not None and metadata.iscc.startswith("ISCC:EEA")

    preview = store.get(publication.preview_cid)
    assert preview != original and hashlib.sha256(preview).digest() != publication.content_hash
    with Image.open(io.BytesIO(preview)) as shown:
        assert shown.format == "JPEG" and max(shown.size) <= PREVIEW_SIDE
        assert not shown.getexif(), "the preview carries none of the original's metadata"


def test_the_original_is_never_pinned(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    original = chelsea_jpeg()
    publish(store, original)
    assert not store.has(raw_cid(original))
    assert len(list((tmp_path / "blocks").rglob("baf*"))) == 2, "the preview and the metadata, nothing else"


def test_a_large_original_gets_a_small_preview(tmp_path: Path) -> None:
    original = big_noisy_png()
    assert len(original) > 4 * MAX_BLOCK_SIZE
    preview = make_preview(original)
    assert len(preview) <= MAX_PREVIEW_BYTES
    with Image.open(io.BytesIO(preview)) as shown:
        assert max(shown.size) == PREVIEW_SIDE


def test_a_preview_is_never_the_original_even_when_the_encoder_would_reproduce_it() -> None:
    # JPEG re-encoding converges: after a few rounds the encoder reproduces its input byte for byte. Registering
    # such a fixed point must still not publish the original as its preview.
    def reencode(data: bytes) -> bytes:  # what make_preview does at its first quality
        return encode(load_image(data, max_side=PREVIEW_SIDE).rgb, "JPEG", quality=82, optimize=True)

    original = encode(np.dstack([photos.camera()[:200, :300]] * 3), "JPEG", quality=82)
    for _ in range(100):
        again = reencode(original)
        if again == original:
            break
        original = again
    assert reencode(original) == original, "a fixed point of the encoder"
    preview = make_preview(original)
    assert preview != original
    with Image.open(io.BytesIO(preview)) as shown:
        assert shown.format == "JPEG"


class LyingStore:
    """A store that answers some other CID, or keeps other bytes than it was given."""

    def __init__(self, root: Path, *, answer_cid: str | None = None, keep: bytes | None = None,
                 spell_base58: bool = False) -> None:
        self.inner = EmbeddedStore(root)
        self.answer_cid, self.keep, self.spell_base58 = answer_cid, keep, spell_base58
        self.stored: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        cid = raw_cid(data)
        self.stored[cid] = self.keep if self.keep is not None else data
        if self.spell_base58:
            from multiformats import CID

            return str(CID.decode(cid).set(base="base58btc"))
        return self.answer_cid or cid

    def get(self, cid: str) -> bytes:
        return self.stored[cid]

    def has(self, cid: str) -> bool:
        return cid in self.stored


def test_a_store_answering_another_cid_is_refused(tmp_path: Path) -> None:
    store = LyingStore(tmp_path, answer_cid=raw_cid(b"something else"))
    with pytest.raises(IntegrityError, match="answered CID"):
        publish(store, astronaut_png())


def test_a_store_keeping_other_bytes_is_refused(tmp_path: Path) -> None:
    store = LyingStore(tmp_path, keep=b'{"name": "a different document"}')
    with pytest.raises(IntegrityError, match="other bytes"):
        publish(store, astronaut_png())


def test_a_cid_in_another_multibase_is_the_same_cid(tmp_path: Path) -> None:
    publication = publish(LyingStore(tmp_path, spell_base58=True), astronaut_png())
    assert publication.metadata_cid.startswith("bafkrei"), "returned in the base32 spelling the contract uses"


def test_unreadable_images_and_bad_holders_are_refused(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    for bad in (b"", b"not an image at all", astronaut_png()[:2000]):
        with pytest.raises(PublicationError):
            publish(store, bad)
    with pytest.raises(PublicationError, match="not an address"):
        publish(store, astronaut_png(), holder="0x1234")
    assert not list((tmp_path / "blocks").rglob("baf*")), "nothing pinned for a refused publication"


def test_a_document_larger_than_a_block_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublicationError, match="more than one block"):
        publish(EmbeddedStore(tmp_path), astronaut_png(), licence_terms={"text": "x" * MAX_BLOCK_SIZE})


# ---- fingerprints --------------------------------------------------------------------------------------------------


def test_fingerprints_follow_the_exif_orientation() -> None:
    upright = photos.chelsea()
    shown = image_fingerprints(encode(upright))
    # Orientation 6: the stored pixels are turned a quarter counter-clockwise; viewers turn them back.
    stored_sideways = with_orientation(np.ascontiguousarray(np.rot90(upright)), 6, fmt="PNG")
    sideways = image_fingerprints(stored_sideways)
    assert sideways.sha256 != shown.sha256
    assert sideways.fingerprints == shown.fingerprints
    assert sideways.iscc == shown.iscc
    ignoring_orientation = image_fingerprints(encode(np.ascontiguousarray(np.rot90(upright))))
    assert ignoring_orientation.fingerprints != shown.fingerprints


def test_iscc_is_normalised_like_the_iscc_sdk() -> None:
    picture = photos.astronaut()
    framed = np.full((picture.shape[0] + 80, picture.shape[1] + 120, 3), 255, np.uint8)
    framed[40:-40, 60:-60] = picture
    assert image_iscc(encode(framed)) == image_iscc(encode(picture)), "a uniform border is trimmed"
    rgba = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
    assert image_iscc(encode(rgba)) == image_iscc(encode(picture)), "opaque alpha changes nothing"
    transparent = rgba.copy()
    transparent[:, :256, 3] = 0
    on_white = picture.copy()
    on_white[:, :256] = 255
    assert image_iscc(encode(transparent)) == image_iscc(encode(on_white)), "transparency is composited on white"
    assert image_iscc(encode(picture)) != image_iscc(encode(photos.coffee()))


def test_similar_images_have_near_iscc_codes() -> None:
    import iscc_core

    a = image_iscc(astronaut_png())
    b = image_iscc(encode(photos.astronaut(), "JPEG", quality=40))
    c = image_iscc(encode(photos.coffee()))
    assert iscc_core.iscc_distance(a, b) <= 6 < iscc_core.iscc_distance(a, c)
