"""The metadata document of a certificate: ERC-721 metadata JSON with a `tracemark` section.

The document is what `tokenURI` points to: its canonical bytes (sorted keys, no insignificant spaces, UTF-8) are
added to IPFS as one raw block, and the SHA-256 of those bytes is the digest the certificate contract stores.
`image` points to a small preview on IPFS, never to the original, which stays private to its holder. The
`tracemark` section carries what a verifier recomputes from the image (SHA-256, perceptual fingerprints with
their algorithm versions, the ISCC image code) and what the registration rested on (creator, audit summary).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tracemark.domain.registration import AuditReport, canonical_json

SCHEMA_VERSION = 1


class MetadataError(ValueError):
    """A metadata document is not one of ours, or lacks what a verifier needs."""


@dataclass(frozen=True)
class CertificateMetadata:
    """What a certificate's metadata says about its image."""

    title: str
    creator_name: str
    creator_address: str
    sha256: str
    fingerprints: dict[str, str]
    preview_cid: str
    iscc: str | None = None
    description: str = ""
    captured_at: str | None = None
    audit_outcome: str = "pass"
    audit_sha256: str = ""
    licence_terms: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.description:
            default = f"{self.title}, by {self.creator_name}. Registered on Tracemark."
            object.__setattr__(self, "description", default)

    @classmethod
    def with_audit(cls, report: AuditReport, **values: Any) -> CertificateMetadata:
        """Metadata that summarises an audit report (its outcome and digest)."""
        return cls(audit_outcome=report.outcome.value, audit_sha256=report.digest(), **values)

    def to_document(self) -> dict[str, Any]:
        """The ERC-721 metadata JSON document."""
        attributes = [{"trait_type": "Creator", "value": self.creator_name}]
        if self.captured_at:
            attributes.append({"trait_type": "Captured", "value": self.captured_at})
        return {
            "name": self.title,
            "description": self.description,
            "image": f"ipfs://{self.preview_cid}",
            "attributes": attributes,
            "tracemark": {
                "schema": SCHEMA_VERSION,
                "sha256": self.sha256,
                "fingerprints": dict(sorted(self.fingerprints.items())),
                "iscc": self.iscc,
                "creator": {"name": self.creator_name, "address": self.creator_address},
                "title": self.title,
                "captured_at": self.captured_at,
                "audit": {"outcome": self.audit_outcome, "report_sha256": self.audit_sha256},
                "licence_terms": self.licence_terms,
            },
        }

    def encode(self) -> bytes:
        """The canonical bytes that are pinned and whose SHA-256 the contract stores."""
        return canonical_json(self.to_document())

    def digest(self) -> bytes:
        """SHA-256 of `encode()`."""
        return hashlib.sha256(self.encode()).digest()


def parse_metadata(data: bytes) -> CertificateMetadata:
    """Reads a metadata document back (for verification).

    Raises:
        MetadataError: when the bytes are not a Tracemark metadata document.
    """
    try:
        document = json.loads(data.decode("utf-8"))
        section = document["tracemark"]
        if section.get("schema") != SCHEMA_VERSION:
            raise MetadataError(f"unknown metadata schema {section.get('schema')!r}")
        image = str(document["image"])
        if not image.startswith("ipfs://"):
            raise MetadataError("the metadata's image is not an ipfs:// address")
        return CertificateMetadata(
            title=str(section["title"]),
            creator_name=str(section["creator"]["name"]),
            creator_address=str(section["creator"]["address"]),
            sha256=str(section["sha256"]),
            fingerprints={str(k): str(v) for k, v in section["fingerprints"].items()},
            preview_cid=image.removeprefix("ipfs://"),
            iscc=section.get("iscc"),
            description=str(document.get("description", "")),
            captured_at=section.get("captured_at"),
            audit_outcome=str(section["audit"]["outcome"]),
            audit_sha256=str(section["audit"]["report_sha256"]),
            licence_terms=dict(section.get("licence_terms") or {}),
        )
    except MetadataError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise MetadataError(f"not a Tracemark metadata document: {exc}") from exc
