"""Tables of the cases (see `tracemark.cases`): the cases, their history, the scheduler's ledger and the letters.

Conventions (as in the other model modules): certificate ids are 64 lowercase hex digits, addresses lowercase, times
UTC (`UtcDateTime`), JSON columns canonical JSON text.

- `cases`: one row per case: what it is about (certificate, holder, host, page and image, country), where it
  stands (`state`, `is_open`, `on_hold`), its optimistic `version`, and every licence check run on it (JSON, in
  order). `sighting_id` names the sighting the case was opened from, when there is one (one case per sighting
  and holder).
- `case_events`: the history, append-only, one row per event (who, when, why, from which state to which).
- `case_actions`: the deadline scheduler's idempotency keys (`<case>/<stage>`) with the worker holding each and its
  lease; `done_at` set once the action is complete (see `tracemark.cases.scheduler`).
- `holder_whitelist`: domains a holder allows to use its images (and their subdomains): no case goes there.
- `case_letters`: every letter written for a case, under the key of the action that wrote it, and when it was sent.
- `case_portal_links`: the clearing portal's case links, by the SHA-256 of their random token (the token itself is
  only in the letter): a stolen table opens no case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.store.base import Base
from tracemark.store.registration_models import UtcDateTime

CASE_ID = 64
ACTION_KEY = 100
U256 = 64
ADDRESS = 42
HOST = 253
STATE = 24


class CaseRecord(Base):
    """A case and where it stands."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(CASE_ID), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(U256), index=True)
    holder: Mapped[str] = mapped_column(String(ADDRESS), doc="The holder's address, lowercase.")
    host: Mapped[str] = mapped_column(String(HOST))
    page_url: Mapped[str] = mapped_column(Text)
    image_url: Mapped[str] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(String(2))
    sighting_id: Mapped[int | None] = mapped_column(ForeignKey("sightings.id"), index=True)
    state: Mapped[str] = mapped_column(String(STATE))
    is_open: Mapped[bool] = mapped_column(Boolean)
    on_hold: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    licence_checks: Mapped[str] = mapped_column(Text, doc="Every licence check, oldest first (JSON list).")
    claimed_use: Mapped[str | None] = mapped_column(
        Text, doc="The use as the holder described it with the claim (JSON), for the compensation.")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stage_started_at: Mapped[datetime] = mapped_column(
        UtcDateTime, doc="When the current stage began (`Case.stage_started_at`): its deadline runs from here.")

    __table_args__ = (
        Index("ix_cases_holder", "holder", "updated_at"),
        Index("ix_cases_open_state", "is_open", "state"),
        Index("ix_cases_stage", "state", "stage_started_at", "id"),
        UniqueConstraint("sighting_id", "holder", name="uq_cases_sighting_holder"),
    )


class CaseEventRecord(Base):
    """One event of a case's history."""

    __tablename__ = "case_events"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_ident: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(String(STATE))
    to_state: Mapped[str] = mapped_column(String(STATE))

    __table_args__ = (PrimaryKeyConstraint("case_id", "seq", name="pk_case_events"),)


class CaseActionRecord(Base):
    """An idempotency key of the deadline scheduler."""

    __tablename__ = "case_actions"

    key: Mapped[str] = mapped_column(String(ACTION_KEY), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(CASE_ID), index=True)
    stage: Mapped[str] = mapped_column(String(STATE))
    worker: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CaseLetterRecord(Base):
    """A letter kept with its case."""

    __tablename__ = "case_letters"

    key: Mapped[str] = mapped_column(String(ACTION_KEY), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WhitelistEntry(Base):
    """A domain a holder has whitelisted."""

    __tablename__ = "holder_whitelist"

    holder: Mapped[str] = mapped_column(String(ADDRESS))
    domain: Mapped[str] = mapped_column(String(HOST))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (PrimaryKeyConstraint("holder", "domain", name="pk_holder_whitelist"),)


class CasePortalLink(Base):
    """A case link of the clearing portal, known by the SHA-256 (hex) of its random token."""

    __tablename__ = "case_portal_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
