"""The registration tables on SQLite and PostgreSQL: migration up and down, single-use nonces under concurrency,
sessions, and one active registration per image."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from tracemark.store import Database
from tracemark.store import registration_repository as repo
from tracemark.store.registration_models import Original, RegistrationRecord

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
REGISTRATION_TABLES = {"auth_nonces", "auth_sessions", "originals", "registrations", "registration_transitions"}


def _registration(reg_id: str, sha: str, status: str = "in_review", active: bool = True) -> RegistrationRecord:
    return RegistrationRecord(
        id=reg_id, owner="0x" + "a" * 40, sha256=sha, active_sha256=sha if active else None, chain_id=31337,
        title="t", creator_name="c", declaration="d", declaration_signature="0x", declared="{}", status=status,
        audit_report="{}", audit_digest="0" * 64, audit_outcome="review", created_at=NOW, updated_at=NOW,
    )


def test_migration_goes_up_and_down_without_touching_the_indexer_tables(any_database: Database) -> None:
    assert set(any_database.table_names()) >= REGISTRATION_TABLES
    any_database.downgrade("0001_chain_indexer")
    tables = set(any_database.table_names())
    assert not REGISTRATION_TABLES & tables
    assert {"certificates", "chain_events", "chain_cursors"} <= tables
    any_database.migrate()
    assert set(any_database.table_names()) >= REGISTRATION_TABLES


def test_a_nonce_is_consumed_once_even_by_racing_threads(any_database: Database) -> None:
    nonces = repo.DatabaseNonceStore(any_database)
    nonces.issue("n1", NOW + timedelta(minutes=5))
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def consume() -> None:
        barrier.wait()
        results.append(nonces.consume("n1", NOW))

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_expired_and_unknown_nonces_are_refused(any_database: Database) -> None:
    nonces = repo.DatabaseNonceStore(any_database)
    nonces.issue("n2", NOW + timedelta(minutes=5))
    assert nonces.consume("n2", NOW + timedelta(minutes=5)) is False
    assert nonces.consume("never-issued", NOW) is False


def test_sessions_expire_and_are_revoked(any_database: Database) -> None:
    with any_database.write() as s:
        repo.add_session(s, "h" * 64, "0x" + "B" * 40, 31337, NOW, NOW + timedelta(hours=1))
    with any_database.read() as s:
        row = repo.active_session(s, "h" * 64, NOW)
        assert row is not None and row.address == "0x" + "b" * 40
        assert row.expires_at == NOW + timedelta(hours=1) and row.expires_at.tzinfo is not None
        assert repo.active_session(s, "h" * 64, NOW + timedelta(hours=1)) is None
    with any_database.write() as s:
        assert repo.revoke_session(s, "h" * 64, NOW) is True
        assert repo.revoke_session(s, "h" * 64, NOW) is False
    with any_database.read() as s:
        assert repo.active_session(s, "h" * 64, NOW) is None


def test_originals_are_per_owner(any_database: Database) -> None:
    sha = "1" * 64
    for owner in ("0x" + "a" * 40, "0x" + "b" * 40):
        with any_database.write() as s:
            repo.add_original(s, Original(sha256=sha, owner=owner, size=10, media_type="image/png", width=40,
                                          height=40, created_at=NOW))
    with any_database.read() as s:
        assert repo.original_of(s, sha, "0x" + "A" * 40) is not None
        assert repo.original_of(s, sha, "0x" + "c" * 40) is None
        assert [o.owner for o in repo.originals_of(s, "0x" + "b" * 40)] == ["0x" + "b" * 40]


def test_only_one_registration_holds_an_image(any_database: Database) -> None:
    sha = "2" * 64
    with any_database.write() as s:
        s.add(_registration("r1", sha))
        s.add(_registration("r0", sha, status="audit_failed", active=False))
        s.add(_registration("r00", sha, status="rejected", active=False))
    with pytest.raises(IntegrityError), any_database.write() as s:
        s.add(_registration("r2", sha))
    with any_database.read() as s:
        active = repo.active_registration_of_image(s, sha)
        assert active is not None and active.id == "r1"
        assert repo.holders_of_images(s, [sha, "3" * 64]) == {sha: "0x" + "a" * 40}
