"""Tables of the crawler's findings: the sites it read, the sightings of registered images, and their evidence.

Conventions (as in `chain_models` and `registration_models`): certificate ids are 64 lowercase hex digits, SHA-256
digests 64 lowercase hex digits, times UTC (`UtcDateTime`). JSON columns hold canonical JSON text, so the same
rows read the same on SQLite and PostgreSQL.

- `sites`: one row per host: its country (ISO 3166-1 alpha-2, with the reason and the kind of evidence), its operator
  as read from the imprint or structured data (JSON, with the operator's name copied out for grouping), and when the
  site was last read.
- `sightings`: one row per (subject, page URL, image URL): the subject is a certificate (`certificate_id`) or, when
  the crawl matched against a matching index instead of the registry, that index's reference id. It keeps the match
  report of the latest sighting, when the image was first and last seen there and how often, and since when it is
  gone (a recrawl that finds it again clears `gone_at`). Together they tell how long the image was online. With the
  match report it keeps the licence data of the latest capture: what the page gives for the image (`page_licence`)
  and the rights fields of the image's bytes (`image_rights`), NULL where never captured; the licence check reads them.
- `sighting_evidence`: every fetch that backs a sighting: the page or image response in a WARC file
  (`tracemark.evidence`), by file, record id and the body's SHA-256.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.store.base import Base
from tracemark.store.registration_models import UtcDateTime

SHA256 = 64
HOST = 253


class SiteRecord(Base):
    """A site (host) the crawler read: country and operator."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(HOST), unique=True, doc="Lowercase host name (IDNA), no port.")
    country_code: Mapped[str | None] = mapped_column(String(2), index=True)
    country_reason: Mapped[str | None] = mapped_column(Text)
    country_basis: Mapped[str | None] = mapped_column(String(40), doc="address | tld | content-language | ...")
    operator: Mapped[str | None] = mapped_column(Text, doc="The operator as read (canonical JSON), or NULL.")
    operator_name: Mapped[str | None] = mapped_column(String(300), doc="The operator's name, for grouping.")
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SightingRecord(Base):
    """A registered image (or an index reference) seen in a page."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(
        String(220), doc="`certificate:<64 hex>` or `index:<reference id>`: what was seen (never NULL, so unique)."
    )
    certificate_id: Mapped[str | None] = mapped_column(String(SHA256), index=True)
    reference_id: Mapped[str | None] = mapped_column(String(200))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    page_url: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str] = mapped_column(Text)
    page_url_sha256: Mapped[str] = mapped_column(String(SHA256))
    image_url_sha256: Mapped[str] = mapped_column(String(SHA256))
    image_sha256: Mapped[str | None] = mapped_column(String(SHA256), doc="SHA-256 of the image as last fetched.")
    score: Mapped[float] = mapped_column(Float)
    match_report: Mapped[str] = mapped_column(Text, doc="The latest match report (canonical JSON): score, edits.")
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    times_seen: Mapped[int] = mapped_column(Integer)
    gone_at: Mapped[datetime | None] = mapped_column(UtcDateTime, doc="When the page or image was found gone.")
    page_licence: Mapped[str | None] = mapped_column(
        Text, doc="Licence data the page gives for the image, latest capture (canonical JSON of PageLicenceData).")
    image_rights: Mapped[str | None] = mapped_column(
        Text, doc="Rights fields of the image's bytes, latest capture (canonical JSON of ImageRights).")

    __table_args__ = (
        UniqueConstraint("subject", "page_url_sha256", "image_url_sha256", name="uq_sightings_subject_urls"),
        Index("ix_sightings_last_seen", "last_seen"),
    )


class SightingEvidence(Base):
    """One archived response that backs a sighting."""

    __tablename__ = "sighting_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8), doc="page | image")
    warc: Mapped[str] = mapped_column(String(255), doc="WARC file name, relative to the evidence folder.")
    record_id: Mapped[str] = mapped_column(String(100), doc="The response record's WARC-Record-ID.")
    sha256: Mapped[str] = mapped_column(String(SHA256), doc="SHA-256 of the response body.")
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
