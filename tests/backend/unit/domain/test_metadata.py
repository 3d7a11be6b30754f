"""The metadata document: ERC-721 fields, a stable encoding, and a faithful round trip."""

from __future__ import annotations

import hashlib
import json

import pytest

from tracemark.domain.metadata import CertificateMetadata, MetadataError, parse_metadata
from tracemark.domain.registration import AuditReport, CheckResult, Outcome

REPORT = AuditReport((CheckResult("exact_duplicate", Outcome.PASS, "new"),))


def sample(**changes: object) -> CertificateMetadata:
    values: dict[str, object] = {
        "title": "Harbour at dawn",
        "creator_name": "Jane Doe",
        "creator_address": "0x" + "a1" * 20,
        "sha256": "ab" * 32,
        "fingerprints": {"pdq@1": "f0" * 32, "phash@1": "0f" * 8},
        "preview_cid": "bafkreibprssg2nahll3bnqtxflpufvzwr4koedbutexc56qfiebmpc5doq",
        "iscc": "ISCC:EEAZ4ZUUXTXTOKMB",
    }
    values.update(changes)
    return CertificateMetadata.with_audit(REPORT, **values)  # type: ignore[arg-type]


def test_document_follows_the_erc721_metadata_schema() -> None:
    document = sample().to_document()
    assert {"name", "description", "image", "attributes"} <= set(document)
    assert document["image"].startswith("ipfs://bafkrei")
    assert document["tracemark"]["audit"] == {"outcome": "pass", "report_sha256": REPORT.digest()}


def test_encoding_is_canonical_and_the_digest_is_its_sha256() -> None:
    metadata = sample()
    encoded = metadata.encode()
    assert encoded == sample().encode()
    assert b'": ' not in encoded and b', "' not in encoded, "no insignificant whitespace"
    assert json.loads(encoded) == metadata.to_document()
    assert metadata.digest() == hashlib.sha256(encoded).digest()
    assert sample(title="Other").digest() != metadata.digest()


def test_round_trip() -> None:
    metadata = sample(captured_at="2024-05-01T06:12:00", licence_terms={"web": {"price": "50"}})
    assert parse_metadata(metadata.encode()) == metadata


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xfe",
        b"[]",
        b'{"name": "x"}',
        json.dumps({"tracemark": {"schema": 99}}).encode(),
        sample(preview_cid="x").encode().replace(b'"ipfs://x"', b'"https://x"'),
    ],
)
def test_foreign_documents_are_refused(data: bytes) -> None:
    with pytest.raises(MetadataError):
        parse_metadata(data)
