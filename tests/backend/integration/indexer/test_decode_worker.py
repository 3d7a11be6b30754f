"""The decode worker process on a real anvil: the same database as decoding in-process, through reorgs, a failing
endpoint, a worker killed midway and a stop; and no worker outlives the indexer that started it."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.faulty_proxy import FaultyProxy
from tests.backend.integration.indexer.support import (
    assert_canonical,
    assert_same_state,
    chain_log_keys,
    dump,
    fresh_dump,
    new_indexer,
    sqlite,
    stored_log_keys,
)
from tracemark.chain.indexer.worker import DecodeWorker
from tracemark.store.chain_models import IndexerStatus

pytestmark = pytest.mark.integration

WORKER_MODULE = "tracemark.chain.indexer.worker"


def busy_chain(chain: DevChain, seed: int, rounds: int = 20) -> None:
    rng = random.Random(seed)
    for _ in range(rounds):
        chain.random_activity(rng.randint(3, 12))
        chain.flush()
        chain.mine(rng.randint(1, 3))
    chain.mine(3)


def every_table(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, straight from SQLite, but the two audit tables that hold wall-clock times."""
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {n: sorted(connection.execute(f"SELECT * FROM {n}").fetchall())
                for n in names if n not in ("chain_reorgs", "indexer_status")}


def worker_children() -> list[int]:
    """Decode workers that are children of this (test) process and still running."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and stat[0] not in ("Z", "X") and WORKER_MODULE.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture
def requests_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Records every range sent to a decode worker (and so proves the worker path was taken)."""
    seen: list[tuple[int, int]] = []
    submit = DecodeWorker.submit

    def recording(self: DecodeWorker, first: int, last: int) -> Any:
        seen.append((first, last))
        return submit(self, first, last)

    monkeypatch.setattr(DecodeWorker, "submit", recording)
    yield seen


def test_worker_and_in_process_give_identical_databases(
    dev_chain: DevChain, tmp_path: Path, requests_seen: list[tuple[int, int]]
) -> None:
    chain = dev_chain
    busy_chain(chain, seed=31, rounds=30)
    for mode in ("always", "never"):
        database = sqlite(tmp_path / f"{mode}.db")
        stored = new_indexer(database, chain, initial_range=3, max_range=6, decode_process=mode).catch_up()
        assert stored == len(chain_log_keys(chain))
        database.dispose()
        if mode == "always":
            assert len(requests_seen) > 3, "the ranges went through the worker"
            assert worker_children() == [], "the worker ended with the back-fill"
    by_worker, in_process = every_table(tmp_path / "always.db"), every_table(tmp_path / "never.db")
    assert by_worker["chain_events"], "something was indexed"
    assert by_worker.keys() == in_process.keys()
    for name in in_process:
        assert by_worker[name] == in_process[name], f"table {name} differs"


def test_reorgs_through_the_worker_leave_the_same_state_as_a_fresh_index(
    dev_chain: DevChain, tmp_path: Path, requests_seen: list[tuple[int, int]]
) -> None:
    chain = dev_chain
    rng = random.Random(32)
    busy_chain(chain, seed=32)
    database = sqlite(tmp_path / "live.db")
    indexer = new_indexer(database, chain, initial_range=2, max_range=4, decode_process="always")
    indexer.catch_up()
    for depth in (1, 3, 6):
        busy_chain(chain, seed=rng.randrange(1000), rounds=3)
        indexer.sync()
        chain.resync_nonces()
        chain.random_activity(3)
        txs = chain.take()
        for tx in txs:
            tx.pop("nonce")
        chain.rpc("anvil_reorg", [depth, [[tx, rng.randrange(depth)] for tx in txs]])
        chain.resync_nonces()
        busy_chain(chain, seed=rng.randrange(1000), rounds=2)
        indexer.sync()
        assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", decode_process="never"))
        assert_canonical(database, chain)
    assert indexer.progress.reorgs >= 3
    assert requests_seen


def test_a_failing_endpoint_through_the_worker(
    dev_chain: DevChain, tmp_path: Path, caplog: pytest.LogCaptureFixture, requests_seen: list[tuple[int, int]]
) -> None:
    chain = dev_chain
    busy_chain(chain, seed=33, rounds=25)
    proxy = FaultyProxy(chain.url, failure_rate=0.3, slow_s=0.6, seed=5)
    database = sqlite(tmp_path / "faulty.db")
    caplog.set_level(logging.INFO, logger="tracemark.indexer")
    try:
        indexer = new_indexer(database, chain, url=proxy.url, rpc_timeout_s=0.3, initial_range=16,
                              decode_process="always")
        indexer.catch_up()
    finally:
        proxy.close()
    assert requests_seen
    assert "narrowing" in caplog.text and "retry" in caplog.text
    assert indexer.progress.retries > 0
    assert stored_log_keys(database) == chain_log_keys(chain)
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", decode_process="never"))


def test_a_killed_worker_is_replaced_and_nothing_is_lost(
    dev_chain: DevChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    chain = dev_chain
    busy_chain(chain, seed=34, rounds=25)
    killed: list[int] = []
    submit = DecodeWorker.submit

    def kill_twice(self: DecodeWorker, first: int, last: int) -> Any:
        future = submit(self, first, last)
        if len(killed) < 2 and first > chain.deployment.block + 10 * (len(killed) + 1):
            killed.append(self.pid)
            os.kill(self.pid, signal.SIGKILL)
        return future

    monkeypatch.setattr(DecodeWorker, "submit", kill_twice)
    caplog.set_level(logging.INFO, logger="tracemark.indexer")
    database = sqlite(tmp_path / "killed.db")
    indexer = new_indexer(database, chain, initial_range=2, max_range=2, decode_process="always")
    indexer.catch_up()
    assert len(killed) == 2 and killed[0] != killed[1], "each killed worker was replaced by a new one"
    assert "the decode worker ended; starting a new one" in caplog.text
    assert stored_log_keys(database) == chain_log_keys(chain)
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", decode_process="never"))
    assert worker_children() == []


def test_stop_ends_the_worker_with_the_indexer(
    dev_chain: DevChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = dev_chain
    busy_chain(chain, seed=35, rounds=25)
    database = sqlite(tmp_path / "stopped.db")
    indexer = new_indexer(database, chain, initial_range=1, max_range=1, decode_process="always")
    running: list[list[int]] = []
    submit = DecodeWorker.submit

    def stop_midway(self: DecodeWorker, first: int, last: int) -> Any:
        if first > chain.deployment.block + 10 and not running:
            running.append(worker_children())
            indexer.stop.set()
        return submit(self, first, last)

    monkeypatch.setattr(DecodeWorker, "submit", stop_midway)
    runner = threading.Thread(target=indexer.run)
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert running and len(running[0]) == 1, "a worker ran when the stop came"
    assert worker_children() == [], "no worker outlives the stopped indexer"
    assert 0 < indexer.progress.indexed_block < chain.block_number()
    with database.read() as session:
        status = session.get(IndexerStatus, 31337)
        assert status is not None and status.state == "stopped"
        assert status.indexed_block == indexer.progress.indexed_block
    # The checkpoint is consistent: a new indexer goes on from it to the same state as a fresh index.
    new_indexer(database, chain, decode_process="always").catch_up()
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", decode_process="never"))
