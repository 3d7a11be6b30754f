"""The same indexer and API on PostgreSQL (`TRACEMARK_DATABASE_URL`): the same rows as on SQLite, through reorgs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.indexer.support import (
    assert_canonical,
    assert_same_state,
    chain_log_keys,
    dump,
    fresh_dump,
    new_indexer,
    stored_log_keys,
)
from tracemark.api import create_app
from tracemark.config import Settings
from tracemark.store import Database

pytestmark = pytest.mark.integration


def test_postgres_holds_the_same_state_as_sqlite(
    dev_chain: DevChain, deployed_state: DeployedState, postgres_url: str, tmp_path: Path
) -> None:
    rng = random.Random(8)
    chain = dev_chain
    database = Database(postgres_url)
    database.downgrade("base")
    database.migrate()
    indexer = new_indexer(database, chain, initial_range=5)
    indexer.prepare()
    for _ in range(12):
        chain.random_activity(rng.randint(3, 10))
        chain.flush()
        chain.mine(rng.randint(1, 3))
        indexer.sync()
        if rng.random() < 0.5:
            chain.resync_nonces()
            chain.rpc("anvil_reorg", [rng.randint(1, 4), []])
            indexer.sync()
    chain.resync_nonces()
    chain.mine(3)
    indexer.sync()
    assert stored_log_keys(database) == chain_log_keys(chain)
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "sqlite.db"))
    assert_canonical(database, chain)

    token = next(iter(chain.certificates))
    client = TestClient(create_app(Settings(rpc_url=chain.url, deployments_dir=deployed_state.deployments_dir,
                                            database_url=postgres_url)))
    answer = client.get(f"/v1/certificates/{token}")
    assert answer.status_code in (200, 404)  # the driver's first certificate may have been reorged away
    held = client.get("/v1/certificates", params={"holder": chain.users[0]}).json()
    assert held["read_at"]["block"] == chain.block_number() - 2
    database.dispose()
