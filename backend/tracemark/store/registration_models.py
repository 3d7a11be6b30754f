"""Tables of the registration service: sign-in nonces and sessions, the uploaded originals, and registrations.

Conventions (as in `chain_models`): addresses are lowercase `0x` hex, SHA-256 digests 64 lowercase hex digits
without `0x`. Times are UTC (`UtcDateTime` gives them back timezone-aware on SQLite and PostgreSQL alike).

- `auth_nonces`: every nonce issued for Sign-In with Ethereum; consumed once (`used_at`), before `expires_at`.
- `auth_sessions`: a session after sign-in. Only the SHA-256 of the session token is stored, so a copy of the
  database lets nobody act as a signed-in user.
- `originals`: who uploaded which original (content-addressed: the bytes live once in the originals folder, named by
  their SHA-256; a row per (digest, owner), so each uploader sees only its own uploads).
- `registrations`: one application to register an original, through the audit, review, IPFS, attestation and
  minting; `registration_transitions` records every change of status (who, when, why).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.store.base import Base

ADDRESS = 42
SHA256 = 64
HASH = 66


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone: stored naive, read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UtcDateTime needs a timezone-aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


class AuthNonce(Base):
    """A Sign-In with Ethereum nonce: usable once, until it expires."""

    __tablename__ = "auth_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuthSession(Base):
    """A signed-in session. The token itself is never stored, only its SHA-256."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(SHA256), primary_key=True)
    address: Mapped[str] = mapped_column(String(ADDRESS))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_auth_sessions_address", "address", "expires_at"),)


class Original(Base):
    """An uploaded original, as its uploader sees it (the bytes are in the originals folder under `sha256`)."""

    __tablename__ = "originals"

    sha256: Mapped[str] = mapped_column(String(SHA256), primary_key=True)
    owner: Mapped[str] = mapped_column(String(ADDRESS), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer, doc="Pixels, after EXIF orientation.")
    height: Mapped[int] = mapped_column(Integer, doc="Pixels, after EXIF orientation.")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_originals_owner", "owner", "created_at"),)


class RegistrationRecord(Base):
    """One application to register an original, and how far it got.

    `active_sha256` equals `sha256` while the application holds its image (in review, approved, published,
    minting, minted) and is NULL otherwise (audit failed, rejected); its unique index lets only one application
    hold an image at a time, on SQLite and PostgreSQL alike (both allow many NULLs).
    """

    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, doc="Random, not guessable.")
    owner: Mapped[str] = mapped_column(String(ADDRESS))
    sha256: Mapped[str] = mapped_column(String(SHA256), index=True)
    active_sha256: Mapped[str | None] = mapped_column(String(SHA256), unique=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(200))
    creator_name: Mapped[str] = mapped_column(String(200))
    declaration: Mapped[str] = mapped_column(Text, doc="The declaration of authorship the applicant signed.")
    declaration_signature: Mapped[str] = mapped_column(String(140))
    declared: Mapped[str] = mapped_column(Text, doc="JSON: royalty, capture date, licence terms as declared.")
    status: Mapped[str] = mapped_column(
        String(16), doc="audit_failed | in_review | approved | rejected | published | minting | minted"
    )
    audit_report: Mapped[str] = mapped_column(Text, doc="The audit report, canonical JSON.")
    audit_digest: Mapped[str] = mapped_column(String(SHA256), doc="SHA-256 of the canonical report.")
    audit_outcome: Mapped[str] = mapped_column(String(8))
    reviewer: Mapped[str | None] = mapped_column(String(ADDRESS))
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    metadata_cid: Mapped[str | None] = mapped_column(String(128))
    metadata_digest: Mapped[str | None] = mapped_column(String(HASH))
    preview_cid: Mapped[str | None] = mapped_column(String(128))
    fingerprint: Mapped[str | None] = mapped_column(String(HASH))
    attestation: Mapped[str | None] = mapped_column(Text, doc="JSON: EIP-712 typed data and the verifier's signature.")
    attestation_nonce: Mapped[int | None] = mapped_column(BigInteger)
    attestation_deadline: Mapped[int | None] = mapped_column(BigInteger, doc="Unix time.")
    tx_hash: Mapped[str | None] = mapped_column(String(HASH))
    relayed: Mapped[bool] = mapped_column(default=False)
    mint_error: Mapped[str | None] = mapped_column(Text)
    certificate_id: Mapped[str | None] = mapped_column(String(SHA256), doc="Token id, 64 hex digits.")
    minted_block: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_registrations_owner", "owner", "created_at"),
        Index("ix_registrations_status", "status", "created_at"),
    )


class RegistrationTransition(Base):
    """Every change of a registration's status: who, when, why."""

    __tablename__ = "registration_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    registration_id: Mapped[str] = mapped_column(String(32), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(ADDRESS), doc="An address, or `service` for automatic steps.")
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
