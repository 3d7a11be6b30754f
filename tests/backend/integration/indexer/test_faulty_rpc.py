"""An RPC endpoint that fails, times out and answers with errors midway: the indexer narrows its ranges, retries
with back-off, reports the failures (log, status row, /health), and ends in the same state as a clean index."""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.indexer.faulty_proxy import FaultyProxy
from tests.backend.integration.indexer.support import (
    assert_same_state,
    chain_log_keys,
    dump,
    fresh_dump,
    new_indexer,
    sqlite,
    stored_log_keys,
)
from tracemark.api import create_app
from tracemark.config import Settings
from tracemark.store.chain_models import IndexerStatus

pytestmark = pytest.mark.integration


def test_failing_endpoint_is_retried_and_the_state_stays_consistent(
    dev_chain: DevChain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(3)
    chain = dev_chain
    for _ in range(25):
        chain.random_activity(rng.randint(3, 10))
        chain.flush()
        chain.mine(rng.randint(1, 3))
    proxy = FaultyProxy(chain.url, failure_rate=0.3, slow_s=0.6)
    database = sqlite(tmp_path / "faulty.db")
    indexer = new_indexer(database, chain, url=proxy.url, rpc_timeout_s=0.3, initial_range=64)
    caplog.set_level(logging.INFO, logger="tracemark.indexer")
    try:
        indexer.catch_up()
        # Live: the chain moves on while the endpoint keeps failing.
        stop = indexer.stop
        runner = threading.Thread(target=indexer.run)
        runner.start()
        for _ in range(8):
            chain.random_activity(rng.randint(2, 6))
            chain.flush()
            chain.mine(rng.randint(1, 2))
            stop.wait(0.2)
        proxy.enabled = False  # the endpoint recovers; the indexer catches up
        head = chain.block_number()
        for _ in range(200):
            if indexer.progress.indexed_block >= head and indexer.progress.consecutive_failures == 0:
                break
            stop.wait(0.05)
        stop.set()
        runner.join(timeout=30)
        assert not runner.is_alive()
    finally:
        proxy.close()

    kinds = set(proxy.faults)
    assert {"too_many", "http500", "rpc_error", "drop", "slow", "garbage"} <= kinds, proxy.faults
    assert indexer.progress.retries >= sum(proxy.faults.values()) // 2
    assert "retry" in caplog.text and "narrowing" in caplog.text and "timed out" in caplog.text
    assert stored_log_keys(database) == chain_log_keys(chain)
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db"))
    with database.read() as session:
        status = session.get(IndexerStatus, 31337)
        assert status is not None and status.retries_total > 0 and status.state == "stopped"
        assert status.last_error is None, "cleared once the endpoint answered again"


def test_health_reports_an_indexer_that_cannot_reach_its_node(
    dev_chain: DevChain, deployed_state: DeployedState, tmp_path: Path
) -> None:
    chain = dev_chain
    chain.mine(3)
    proxy = FaultyProxy(chain.url, failure_rate=1.0)
    database = sqlite(tmp_path / "var" / "tracemark.db")
    indexer = new_indexer(database, chain, url=proxy.url, rpc_timeout_s=0.3)
    runner = threading.Thread(target=indexer.run)
    runner.start()
    try:
        for _ in range(100):
            if indexer.progress.consecutive_failures >= 2:
                break
            indexer.stop.wait(0.05)
        settings = Settings(rpc_url=chain.url, deployments_dir=deployed_state.deployments_dir,
                            data_dir=tmp_path / "var")
        body = TestClient(create_app(settings)).get("/health").json()
    finally:
        indexer.stop.set()
        runner.join(timeout=30)
        proxy.close()
    assert body["status"] == "degraded"
    assert body["indexer"]["state"] == "retrying"
    assert any(problem.startswith("indexer: ") for problem in body["problems"]), body
