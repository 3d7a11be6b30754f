"""The cases' ports in SQL: `SqlCaseRepository`, `SqlActionLedger` and `SqlLetterStore` implement the Protocols of
`tracemark.cases` (`CaseRepository`, `ActionLedger`, `LetterStore`) over the tables of `case_models`.

Each operation is a transaction of its own, as the scheduler expects of its ports. The case is saved with an
optimistic version check (`UPDATE cases ... WHERE id = :id AND version = :expected`); its events are append-only
rows, so a save writes only the events the stored case does not have yet. The ledger's `claim` is one statement
(`INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE done_at IS NULL AND (lease_until < :now OR worker = :me)
RETURNING key`), so two workers racing for a key cannot both get it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tracemark.cases.deadlines import DeadlinePolicy
from tracemark.cases.letters import Letter, LetterKind
from tracemark.cases.licence_check import CheckOutcome, LicenceCheck, Observation, Source
from tracemark.cases.scheduler import CaseNotFoundError, ConcurrencyError
from tracemark.cases.workflow import Actor, Case, CaseEvent, CaseState, EventKind, Role
from tracemark.store.base import table_of
from tracemark.store.case_models import (
    CaseActionRecord,
    CaseEventRecord,
    CaseLetterRecord,
    CasePortalLink,
    CaseRecord,
    WhitelistEntry,
)
from tracemark.store.chain_models import Settlement
from tracemark.store.chain_repository import ChainState
from tracemark.store.database import Database

MAX_PAGE = 200
#: Due cases read per query by `SqlCaseRepository.due_cases`.
DUE_PAGE = 500


def certificate_hex(certificate_id: int) -> str:
    """The store's form of a certificate id: 64 lowercase hex digits."""
    return format(certificate_id, "064x")


def _check_to_json(check: LicenceCheck) -> dict[str, Any]:
    return check.as_dict()


def _check_from_json(data: dict[str, Any]) -> LicenceCheck:
    return LicenceCheck(
        outcome=CheckOutcome(data["outcome"]),
        observations=tuple(Observation(Source(o["source"]), CheckOutcome(o["effect"]), o["detail"])
                           for o in data["observations"]),
        checked_at=datetime.fromisoformat(data["checked_at"]),
        certificate_id=int(data["certificate_id"]),
        host=data["host"],
    )


def _event_row(case_id: str, event: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": case_id, "seq": event.seq, "kind": event.kind.value, "at": event.at,
        "actor_role": event.actor.role.value, "actor_ident": event.actor.ident, "reason": event.reason,
        "from_state": event.from_state.value if event.from_state is not None else None,
        "to_state": event.to_state.value,
    }


def _event(row: CaseEventRecord) -> CaseEvent:
    return CaseEvent(
        seq=row.seq, kind=EventKind(row.kind), at=row.at, actor=Actor(Role(row.actor_role), row.actor_ident),
        reason=row.reason, from_state=CaseState(row.from_state) if row.from_state is not None else None,
        to_state=CaseState(row.to_state),
    )


def _case(row: CaseRecord, events: Sequence[CaseEventRecord]) -> Case:
    return Case(
        case_id=row.id, certificate_id=int(row.certificate_id, 16), holder=row.holder, host=row.host,
        page_url=row.page_url, image_url=row.image_url, country=row.country, state=CaseState(row.state),
        events=tuple(_event(e) for e in events),
        licence_checks=tuple(_check_from_json(c) for c in json.loads(row.licence_checks)),
        on_hold=row.on_hold, version=row.version,
    )


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _load(session: Session, rows: Sequence[CaseRecord]) -> list[Case]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    events: dict[str, list[CaseEventRecord]] = {i: [] for i in ids}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        stmt = select(CaseEventRecord).where(CaseEventRecord.case_id.in_(chunk)).order_by(
            CaseEventRecord.case_id, CaseEventRecord.seq)
        for event in session.scalars(stmt):
            events[event.case_id].append(event)
    return [_case(r, events[r.id]) for r in rows]


class SqlCaseRepository:
    """Cases in the database, saved with a version check (`tracemark.cases.CaseRepository`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, case_id: str) -> Case:
        """The stored case; raises `CaseNotFoundError`."""
        with self.database.read() as session:
            row = session.get(CaseRecord, case_id)
            if row is None:
                raise CaseNotFoundError(case_id)
            return _load(session, [row])[0]

    def find(self, case_id: str) -> Case | None:
        """The stored case, or None."""
        try:
            return self.get(case_id)
        except CaseNotFoundError:
            return None

    def save(self, case: Case, expected_version: int, *, sighting_id: int | None = None) -> None:
        """Stores `case` when the stored version is `expected_version` (0: a new case), else `ConcurrencyError`.

        Args:
            case: The case as it should be stored.
            expected_version: The version the case had when it was read (0 for a new case).
            sighting_id: The sighting a new case was opened from (ignored for an existing case).
        """
        now = case.last_event.at
        values: dict[str, Any] = {
            "state": case.state.value, "is_open": case.is_open, "on_hold": case.on_hold, "version": case.version,
            "stage_started_at": case.stage_started_at,
            "licence_checks": json.dumps([_check_to_json(c) for c in case.licence_checks], sort_keys=True,
                                         separators=(",", ":")),
            "updated_at": now,
        }
        try:
            with self.database.write() as session:
                if expected_version == 0:
                    if session.get(CaseRecord, case.case_id) is not None:
                        raise ConcurrencyError(f"case {case.case_id} exists already (expected a new case)")
                    session.add(CaseRecord(
                        id=case.case_id, certificate_id=certificate_hex(case.certificate_id),
                        holder=case.holder.lower(), host=case.host, page_url=case.page_url,
                        image_url=case.image_url, country=case.country, sighting_id=sighting_id,
                        created_at=case.events[0].at, **values))
                    session.flush()
                    stored_events = 0
                else:
                    result = session.execute(update(CaseRecord).where(
                        CaseRecord.id == case.case_id, CaseRecord.version == expected_version).values(**values))
                    if _rowcount(result) != 1:
                        current = session.scalar(select(CaseRecord.version).where(CaseRecord.id == case.case_id))
                        raise ConcurrencyError(
                            f"case {case.case_id} is at version {current or 0}, not {expected_version}")
                    stored_events = session.scalar(
                        select(func.count()).select_from(CaseEventRecord).where(
                            CaseEventRecord.case_id == case.case_id)) or 0
                new_events = [_event_row(case.case_id, e) for e in case.events if e.seq > stored_events]
                if new_events:
                    session.execute(table_of(CaseEventRecord).insert(), new_events)
        except IntegrityError as exc:  # a racing insert of the same case, or a sighting that does not exist
            if self.find(case.case_id) is not None:
                raise ConcurrencyError(f"case {case.case_id} exists already (expected a new case)") from None
            raise ValueError(f"case {case.case_id} cannot be stored: {exc.orig}") from exc

    def open_cases(self) -> list[Case]:
        """Every case that has not ended."""
        with self.database.read() as session:
            rows = session.scalars(select(CaseRecord).where(CaseRecord.is_open.is_(True)).order_by(
                CaseRecord.id)).all()
            return _load(session, rows)

    def due_cases(self, now: datetime, policy: DeadlinePolicy) -> Iterator[Case]:
        """The open cases not on hold whose stage deadline has passed at `now`: for each state with a deadline, the
        cases whose stage began at or before `now - wait`, from the index on (state, stage start, id), read in
        pages of `DUE_PAGE` in deadline order. Each page is read in its own short transaction and handed out after
        it ends, so the scheduler's writes between pages never wait on it."""
        for state, wait in policy.waits().items():
            query = select(CaseRecord).where(
                CaseRecord.state == state.value, CaseRecord.stage_started_at <= now - wait,
                CaseRecord.is_open.is_(True), CaseRecord.on_hold.is_(False))
            after: tuple[datetime, str] | None = None
            while True:
                page = query
                if after is not None:
                    page = page.where(or_(CaseRecord.stage_started_at > after[0], and_(
                        CaseRecord.stage_started_at == after[0], CaseRecord.id > after[1])))
                with self.database.read() as session:
                    rows = session.scalars(page.order_by(CaseRecord.stage_started_at, CaseRecord.id).limit(
                        DUE_PAGE)).all()
                    cases = _load(session, rows)
                    after = (rows[-1].stage_started_at, rows[-1].id) if rows else None
                yield from cases
                if len(cases) < DUE_PAGE:
                    break

    def for_holder(self, holder: str, *, limit: int = MAX_PAGE, offset: int = 0) -> list[Case]:
        """A holder's cases, newest change first."""
        with self.database.read() as session:
            rows = session.scalars(select(CaseRecord).where(CaseRecord.holder == holder.lower()).order_by(
                CaseRecord.updated_at.desc(), CaseRecord.id).limit(min(limit, MAX_PAGE)).offset(offset)).all()
            return _load(session, rows)

    def in_states(self, states: Iterable[CaseState], *, limit: int = MAX_PAGE) -> list[Case]:
        """Open cases in any of `states`, oldest change first (a review queue)."""
        wanted = [s.value for s in states]
        with self.database.read() as session:
            rows = session.scalars(select(CaseRecord).where(
                CaseRecord.is_open.is_(True), CaseRecord.state.in_(wanted)).order_by(
                CaseRecord.updated_at, CaseRecord.id).limit(min(limit, MAX_PAGE))).all()
            return _load(session, rows)

    def ids_in_states(self, states: Iterable[CaseState], *, holder: str | None = None) -> list[str]:
        """The ids of every case (open or ended) in any of `states`, of one holder or of all, sorted."""
        wanted = [s.value for s in states]
        query = select(CaseRecord.id).where(CaseRecord.state.in_(wanted))
        if holder is not None:
            query = query.where(CaseRecord.holder == holder.lower())
        with self.database.read() as session:
            return list(session.scalars(query.order_by(CaseRecord.id)))

    def for_sighting(self, sighting_id: int, holder: str) -> Case | None:
        """The holder's case opened from a sighting, if any."""
        with self.database.read() as session:
            row = session.scalars(select(CaseRecord).where(
                CaseRecord.sighting_id == sighting_id, CaseRecord.holder == holder.lower())).first()
            return _load(session, [row])[0] if row is not None else None


class SqlActionLedger:
    """The scheduler's idempotency keys in `case_actions` (`tracemark.cases.ActionLedger`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def is_done(self, key: str) -> bool:
        """True when the action was completed."""
        with self.database.read() as session:
            done = session.scalar(select(CaseActionRecord.done_at).where(CaseActionRecord.key == key))
            return done is not None

    def _insert(self) -> Any:
        dialect = postgresql if not self.database.is_sqlite else sqlite
        return dialect.insert(table_of(CaseActionRecord))

    def claim(self, key: str, worker: str, now: datetime, lease: timedelta) -> bool:
        """True when `worker` now holds the key (free, its own, or its lease ran out), in one statement."""
        case_id, _, stage = key.rpartition("/")
        table = table_of(CaseActionRecord)
        stmt = self._insert().values(key=key, case_id=case_id, stage=stage, worker=worker, claimed_at=now,
                                     lease_until=now + lease, done_at=None)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"worker": worker, "claimed_at": now, "lease_until": now + lease},
            where=table.c.done_at.is_(None) & ((table.c.lease_until < now) | (table.c.worker == worker)),
        ).returning(table.c.key)
        with self.database.write() as session:
            return session.execute(stmt).first() is not None

    def release(self, key: str, worker: str) -> None:
        """Gives up an open claim of this worker."""
        with self.database.write() as session:
            session.execute(delete(CaseActionRecord).where(
                CaseActionRecord.key == key, CaseActionRecord.worker == worker, CaseActionRecord.done_at.is_(None)))

    def complete(self, key: str, worker: str, now: datetime) -> None:
        """Marks the action done for good."""
        case_id, _, stage = key.rpartition("/")
        table = table_of(CaseActionRecord)
        stmt = self._insert().values(key=key, case_id=case_id, stage=stage, worker=worker, claimed_at=now,
                                     lease_until=now, done_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key], set_={"worker": worker, "done_at": now},
            where=table.c.done_at.is_(None))
        with self.database.write() as session:
            session.execute(stmt)

    def done_keys(self) -> list[str]:
        """Every completed key (for tests and audits)."""
        with self.database.read() as session:
            return list(session.scalars(select(CaseActionRecord.key).where(
                CaseActionRecord.done_at.is_not(None)).order_by(CaseActionRecord.key)))


def _letter(row: CaseLetterRecord) -> Letter:
    return Letter(key=row.key, case_id=row.case_id, kind=LetterKind(row.kind), language=row.language,
                  to=row.recipient, subject=row.subject, body=row.body, message_id=row.message_id,
                  created_at=row.created_at, sent_at=row.sent_at)


class SqlLetterStore:
    """Letters kept with their cases in `case_letters` (`tracemark.cases.LetterStore`)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def get(self, key: str) -> Letter | None:
        """The letter kept under `key`."""
        with self.database.read() as session:
            row = session.get(CaseLetterRecord, key)
            return _letter(row) if row is not None else None

    def add(self, letter: Letter) -> None:
        """Keeps a new letter; `ValueError` when its key is taken (or its case is unknown)."""
        try:
            with self.database.write() as session:
                session.add(CaseLetterRecord(
                    key=letter.key, case_id=letter.case_id, kind=letter.kind.value, language=letter.language,
                    recipient=letter.to, subject=letter.subject, body=letter.body, message_id=letter.message_id,
                    created_at=letter.created_at, sent_at=letter.sent_at))
        except IntegrityError as exc:
            raise ValueError(f"cannot keep the letter {letter.key}: the key is taken or the case unknown") from exc

    def mark_sent(self, key: str, at: datetime) -> None:
        """Records that the letter under `key` was handed to the mail server; `KeyError` for an unknown key."""
        with self.database.write() as session:
            result = session.execute(update(CaseLetterRecord).where(CaseLetterRecord.key == key).values(sent_at=at))
            if _rowcount(result) != 1:
                raise KeyError(key)

    def for_case(self, case_id: str) -> list[Letter]:
        """Every letter of a case, oldest first."""
        with self.database.read() as session:
            rows = session.scalars(select(CaseLetterRecord).where(CaseLetterRecord.case_id == case_id).order_by(
                CaseLetterRecord.created_at, CaseLetterRecord.key)).all()
            return [_letter(r) for r in rows]


# --- settlements of cases on chain ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSettlement:
    """A `ClaimSettled` of a case as the indexer recorded it (amounts in smallest CPY units)."""

    case_key: str  # the case's bytes32 on chain, 0x hex
    tx_hash: str
    block_number: int
    pos: int
    payer: str
    holder: str
    holder_amount: int
    treasury: str
    platform_amount: int


def settlements_of(database: Database, chain_id: int, case_keys: Sequence[str]) -> list[CaseSettlement]:
    """The confirmed settlements (indexer, confirmed block) of the cases with these on-chain keys, newest first;
    none while the chain has not been indexed."""
    out: list[CaseSettlement] = []
    with database.read() as session:
        point = ChainState(session, chain_id).read_point()
        if point is None:
            return []
        for start in range(0, len(case_keys), 500):
            rows = session.scalars(select(Settlement).where(
                Settlement.chain_id == chain_id, Settlement.pos < point.cut,
                Settlement.case_id.in_(list(case_keys[start:start + 500]))))
            out += [CaseSettlement(r.case_id, r.tx_hash, r.block_number, r.pos, r.payer, r.holder,
                                   int(r.holder_amount, 16), r.treasury, int(r.platform_amount, 16)) for r in rows]
    return sorted(out, key=lambda r: r.pos, reverse=True)


# --- the holder's whitelist and the claimed use ----------------------------------------------------------------


def whitelist_of(database: Database, holder: str) -> list[str]:
    """The domains a holder has whitelisted, sorted."""
    with database.read() as session:
        return list(session.scalars(select(WhitelistEntry.domain).where(
            WhitelistEntry.holder == holder.lower()).order_by(WhitelistEntry.domain)))


def add_to_whitelist(database: Database, holder: str, domain: str, reason: str, at: datetime) -> bool:
    """Whitelists a domain for a holder; False when it was whitelisted already."""
    try:
        with database.write() as session:
            session.add(WhitelistEntry(holder=holder.lower(), domain=domain.lower().strip("."), reason=reason,
                                       created_at=at))
        return True
    except IntegrityError:
        return False


def set_claimed_use(database: Database, case_id: str, use: dict[str, Any]) -> None:
    """Keeps the use the holder described with its claim (canonical JSON)."""
    with database.write() as session:
        session.execute(update(CaseRecord).where(CaseRecord.id == case_id).values(
            claimed_use=json.dumps(use, sort_keys=True, separators=(",", ":"))))


def claimed_use(database: Database, case_id: str) -> dict[str, Any] | None:
    """The use the holder described with its claim, if any."""
    with database.read() as session:
        text = session.scalar(select(CaseRecord.claimed_use).where(CaseRecord.id == case_id))
        return json.loads(text) if text else None


def sighting_of(database: Database, case_id: str) -> int | None:
    """The sighting a case was opened from."""
    with database.read() as session:
        return session.scalar(select(CaseRecord.sighting_id).where(CaseRecord.id == case_id))


def add_portal_link(database: Database, case_id: str, token_hash: str, at: datetime) -> None:
    """Keeps a portal link of a case by its token's hash."""
    with database.write() as session:
        session.add(CasePortalLink(token_hash=token_hash, case_id=case_id, created_at=at))


def case_of_portal_link(database: Database, token_hash: str) -> str | None:
    """The case a portal link's token hash opens, or None."""
    with database.read() as session:
        row = session.get(CasePortalLink, token_hash)
        return row.case_id if row is not None else None
