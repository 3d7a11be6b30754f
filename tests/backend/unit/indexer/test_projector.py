"""Events to state, without a chain: versions, offers dying when a certificate changes hands, disputes, rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracemark.chain.indexer.events import ChainLog
from tracemark.chain.indexer.projector import ZERO_ADDRESS, Projector, u256
from tracemark.store import Database
from tracemark.store.chain_models import ChainCursor
from tracemark.store.chain_repository import ChainState, ReadPoint

ALICE, BOB, CAROL = "0x" + "a1" * 20, "0x" + "b0" * 20, "0x" + "c0" * 20
TOKEN = 0xFEED


def event(block: int, index: int, contract: str, name: str, **args: Any) -> ChainLog:
    return ChainLog(block_number=block, block_hash=f"0x{block:064x}", tx_hash=f"0x{block * 100 + index:064x}",
                    tx_index=0, log_index=index, address="0x" + "00" * 20, contract=contract, name=name, args=args,
                    topics=b"", data=b"")


def history() -> list[ChainLog]:
    return [
        event(10, 0, "ImageCertificate", "CertificateRegistered", tokenId=TOKEN, metadataDigest="0x" + "11" * 32,
              fingerprint="0x" + "22" * 32),
        event(10, 1, "ImageCertificate", "Transfer", **{"from": ZERO_ADDRESS, "to": ALICE, "tokenId": TOKEN}),
        event(11, 0, "LicenseMarket", "OfferPublished", certificateId=TOKEN, kind=1, holder=ALICE, price=5,
              duration=0),
        event(12, 0, "LicenseMarket", "LicencePurchased", licenceId=77, certificateId=TOKEN, licensee=CAROL, kind=1,
              start=100, end=2**64 - 1, price=5, holder=ALICE, platformFee=0),
        event(13, 0, "ImageCertificate", "Transfer", **{"from": ALICE, "to": BOB, "tokenId": TOKEN}),
        event(13, 1, "ImageCertificate", "Transfer", **{"from": BOB, "to": ALICE, "tokenId": TOKEN}),
        event(14, 0, "ImageCertificate", "CertificateDisputed", tokenId=TOKEN, by=CAROL, evidenceCid="bafkreiev"),
        event(15, 0, "ImageCertificate", "CertificateMetadataReplaced", tokenId=TOKEN, previousDigest="0x" + "11" * 32,
              metadataDigest="0x" + "33" * 32, verifier=BOB),
    ]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'unit.db'}")
    db.migrate()
    yield db
    db.dispose()


def at(block: int) -> ReadPoint:
    return ReadPoint(chain_id=1, block=block, block_hash=None, confirmed=True, confirmed_block=block,
                     indexed_block=block, head_block=block)


def test_state_at_every_block(database: Database) -> None:
    with database.write() as session:
        Projector(1).apply(session.connection(), history())
    key = u256(TOKEN)
    with database.read() as session:
        state = ChainState(session, 1)
        assert state.certificate(key, at(9)) is None
        minted = state.certificate(key, at(10))
        assert minted is not None and (minted.holder, minted.creator, minted.holding) == (ALICE, ALICE, 0)
        (offer,) = state.offers(minted, at(11))
        assert offer.live and offer.offer.price == u256(5)
        back = state.certificate(key, at(13))
        assert back is not None and (back.holder, back.holding) == (ALICE, 2)
        (dead,) = state.offers(back, at(13))
        assert (dead.live, dead.dead_because) == (False, "changed_hands"), "it died, even though Alice has it back"
        assert [t.to_address for t in state.holder_history(key, at(13))] == [ALICE, BOB, ALICE]
        disputed = state.certificate(key, at(14))
        assert disputed is not None and disputed.disputed and disputed.dispute_cid == "bafkreiev"
        latest = state.certificate(key, at(15))
        assert latest is not None and latest.metadata_digest == "0x" + "33" * 32 and latest.disputed
        (licence,) = state.licences(at(15), certificate=key)
        assert licence.ends_at is None and licence.licensee == CAROL, "a perpetual licence has no end"
        assert [c.certificate_id for c in state.certificates_of(ALICE, at(15))] == [key]
        assert state.certificates_of(BOB, at(15)) == [] and len(state.certificates_of(BOB, at(13))) == 0


def test_rollback_equals_never_having_seen_the_events(database: Database, tmp_path: Path) -> None:
    events = history()
    with database.write() as session:
        Projector(1).apply(session.connection(), events[:4])
        Projector(1).apply(session.connection(), events[4:])
    with database.write() as session:
        removed = Projector(1).rollback(session.connection(), 12)
    assert removed == 4
    reference = Database(f"sqlite:///{tmp_path / 'reference.db'}")
    reference.migrate()
    with reference.write() as session:
        Projector(1).apply(session.connection(), events[:4])

    def rows(db: Database) -> list[tuple[Any, ...]]:
        with db.engine.connect() as connection:
            return [tuple(r) for name in ("certificates", "offers", "licences", "certificate_transfers", "chain_events")
                    for r in connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2, 3")]

    assert rows(database) == rows(reference)
    reference.dispose()


def test_sqlite_runs_in_wal_mode_and_migrations_go_both_ways(database: Database) -> None:
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert "chain_events" in database.table_names()
    database.downgrade("base")
    assert database.table_names() == ["alembic_version"]
    database.migrate()
    with database.read() as session:
        assert session.get(ChainCursor, 1) is None
