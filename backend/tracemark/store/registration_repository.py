"""Reads and writes of the registration service's tables (see `registration_models`).

Functions take an open session from `Database.read()` or `Database.write()`, so a service decides what one
transaction holds. The nonce store is the exception: each of its operations is a transaction of its own, as the
`NonceStore` protocol of `tracemark.auth.siwe` expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from tracemark.store.database import Database
from tracemark.store.registration_models import (
    AuthNonce,
    AuthSession,
    Original,
    RegistrationRecord,
    RegistrationTransition,
)

NONCE_RETENTION = timedelta(days=1)
"""Nonces are kept this long past their expiry (for audits), then deleted when new ones are issued."""

MAX_PAGE = 100


class DatabaseNonceStore:
    """Sign-in nonces in the database: issued once, consumed once (atomically, by a conditional UPDATE)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def issue(self, nonce: str, expires_at: datetime) -> None:
        """Records a new nonce (and drops nonces long expired)."""
        now = datetime.now(expires_at.tzinfo)
        with self.database.write() as session:
            session.execute(delete(AuthNonce).where(AuthNonce.expires_at < now - NONCE_RETENTION))
            session.add(AuthNonce(nonce=nonce, created_at=now, expires_at=expires_at, used_at=None))

    def consume(self, nonce: str, now: datetime) -> bool:
        """Marks a nonce used; False when it is unknown, expired or already used."""
        with self.database.write() as session:
            result = session.execute(
                update(AuthNonce)
                .where(AuthNonce.nonce == nonce, AuthNonce.used_at.is_(None), AuthNonce.expires_at > now)
                .values(used_at=now)
            )
            return _rowcount(result) == 1


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


# --- sessions -------------------------------------------------------------------------------------------------


def add_session(session: Session, token_hash: str, address: str, chain_id: int, now: datetime,
                expires_at: datetime) -> AuthSession:
    """Records a session after a sign-in (only the token's hash)."""
    row = AuthSession(token_hash=token_hash, address=address.lower(), chain_id=chain_id, created_at=now,
                      expires_at=expires_at, revoked_at=None)
    session.add(row)
    return row


def active_session(session: Session, token_hash: str, now: datetime) -> AuthSession | None:
    """The session a token hash names, unless it expired or was revoked."""
    row = session.get(AuthSession, token_hash)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


def revoke_session(session: Session, token_hash: str, now: datetime) -> bool:
    """Revokes a session; False when it was unknown or already revoked."""
    result = session.execute(
        update(AuthSession).where(AuthSession.token_hash == token_hash, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return _rowcount(result) == 1


# --- originals ------------------------------------------------------------------------------------------------


def original_of(session: Session, sha256: str, owner: str) -> Original | None:
    """An original as its uploader sees it; None for anyone else."""
    return session.get(Original, (sha256, owner.lower()))


def add_original(session: Session, row: Original) -> Original:
    """Records an upload (idempotent: the same bytes by the same owner keep their first row)."""
    existing = session.get(Original, (row.sha256, row.owner))
    if existing is not None:
        return existing
    session.add(row)
    return row


def originals_of(session: Session, owner: str, limit: int = 50) -> Sequence[Original]:
    """An owner's uploads, newest first."""
    return session.scalars(
        select(Original).where(Original.owner == owner.lower())
        .order_by(Original.created_at.desc(), Original.sha256).limit(min(limit, MAX_PAGE))
    ).all()


def any_original(session: Session, sha256: str) -> Original | None:
    """Some upload of these bytes (for a caseworker or the service, never for another user)."""
    return session.scalars(select(Original).where(Original.sha256 == sha256).limit(1)).first()


# --- registrations ----------------------------------------------------------------------------------------------


def registration(session: Session, registration_id: str) -> RegistrationRecord | None:
    """A registration by id (the caller checks who may see it)."""
    return session.get(RegistrationRecord, registration_id)


def registrations_of(session: Session, owner: str, limit: int = 50) -> Sequence[RegistrationRecord]:
    """An owner's registrations, newest first."""
    return session.scalars(
        select(RegistrationRecord).where(RegistrationRecord.owner == owner.lower())
        .order_by(RegistrationRecord.created_at.desc(), RegistrationRecord.id).limit(min(limit, MAX_PAGE))
    ).all()


def registrations_in(session: Session, status: str, limit: int = 50) -> Sequence[RegistrationRecord]:
    """Registrations with a status, oldest first (the review queue)."""
    return session.scalars(
        select(RegistrationRecord).where(RegistrationRecord.status == status)
        .order_by(RegistrationRecord.created_at, RegistrationRecord.id).limit(min(limit, MAX_PAGE))
    ).all()


def active_registration_of_image(session: Session, sha256: str) -> RegistrationRecord | None:
    """The registration that holds an image now (in review, approved, published, minting or minted)."""
    return session.scalars(select(RegistrationRecord).where(RegistrationRecord.active_sha256 == sha256)).first()


def holders_of_images(session: Session, digests: Sequence[str]) -> dict[str, str]:
    """The owner of the active registration of each image (images without one are left out)."""
    if not digests:
        return {}
    rows = session.execute(
        select(RegistrationRecord.active_sha256, RegistrationRecord.owner)
        .where(RegistrationRecord.active_sha256.in_(list(digests)))
    ).all()
    return {str(sha): str(owner) for sha, owner in rows}


def record_transition(session: Session, registration_id: str, from_status: str | None, to_status: str, actor: str,
                      reason: str, at: datetime) -> None:
    """Appends a status change to the registration's history."""
    session.add(RegistrationTransition(registration_id=registration_id, from_status=from_status, to_status=to_status,
                                       actor=actor, reason=reason, at=at))


def transitions_of(session: Session, registration_id: str) -> Sequence[RegistrationTransition]:
    """The status history of a registration, oldest first."""
    return session.scalars(
        select(RegistrationTransition).where(RegistrationTransition.registration_id == registration_id)
        .order_by(RegistrationTransition.id)
    ).all()
