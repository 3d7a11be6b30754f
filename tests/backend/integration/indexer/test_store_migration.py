"""Migration 0008 re-keys `chain_events` (block number first, stored in key order on SQLite, no index on positions)
without losing or changing a stored event, on SQLite and on PostgreSQL, both ways."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import inspect

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.support import chain_log_keys, dump, new_indexer, stored_log_keys
from tracemark.store import Database

pytestmark = pytest.mark.integration

NEW_KEY = ["chain_id", "block_number", "block_hash", "tx_hash", "log_index"]
OLD_KEY = ["chain_id", "block_hash", "tx_hash", "log_index"]


def key_of(database: Database) -> list[str]:
    return list(inspect(database.engine).get_pk_constraint("chain_events")["constrained_columns"])


def index_names(database: Database) -> set[str]:
    return {str(index["name"]) for index in inspect(database.engine).get_indexes("chain_events")}


def without_rowid(database: Database) -> bool:
    with database.engine.connect() as connection:
        sql = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'chain_events'").scalar()
    return "WITHOUT ROWID" in str(sql).upper()


def test_rekeying_the_events_keeps_every_row_both_ways(dev_chain: DevChain, any_database: Database) -> None:
    chain = dev_chain
    rng = random.Random(80)
    for _ in range(6):
        chain.random_activity(rng.randint(4, 10))
        chain.flush()
        chain.mine(rng.randint(1, 2))
    chain.mine(3)
    new_indexer(any_database, chain, initial_range=4).catch_up()
    before = dump(any_database)
    sqlite = any_database.is_sqlite
    assert key_of(any_database) == NEW_KEY
    assert "ix_chain_events_pos" not in index_names(any_database)
    assert not sqlite or without_rowid(any_database)
    assert len(before["chain_events"]) > 20

    any_database.downgrade("0007_case_stage_started")
    assert key_of(any_database) == OLD_KEY
    assert "ix_chain_events_pos" in index_names(any_database)
    assert not sqlite or not without_rowid(any_database)
    assert dump(any_database) == before

    any_database.migrate()
    assert key_of(any_database) == NEW_KEY
    assert "ix_chain_events_pos" not in index_names(any_database)
    assert not sqlite or without_rowid(any_database)
    assert dump(any_database) == before
    assert stored_log_keys(any_database) == chain_log_keys(chain)

    # The indexer goes on from its checkpoint over the re-keyed table, and the key still refuses a second copy.
    chain.random_activity(5)
    chain.flush()
    chain.mine(3)
    new_indexer(any_database, chain).catch_up()
    assert stored_log_keys(any_database) == chain_log_keys(chain)
