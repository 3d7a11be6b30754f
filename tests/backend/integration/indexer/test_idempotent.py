"""Indexing the same range twice gives an identical database; so does any split of the chain into ranges."""

from __future__ import annotations

import random
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.backend.chainops import DevChain
from tests.backend.conftest import ROOT, tool_env
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.indexer.support import (
    assert_same_state,
    chain_log_keys,
    dump,
    fresh_dump,
    new_indexer,
    sqlite,
    stored_log_keys,
)

pytestmark = pytest.mark.integration


def busy_chain(chain: DevChain, seed: int, rounds: int = 20) -> None:
    rng = random.Random(seed)
    for _ in range(rounds):
        chain.random_activity(rng.randint(3, 12))
        chain.flush()
        chain.mine(rng.randint(1, 3))
    chain.mine(3)


def table_dump(path: Path) -> list[tuple[str, list[tuple[object, ...]]]]:
    """Every row of every chain table, straight from SQLite (the audit tables aside)."""
    with sqlite3.connect(path) as connection:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        skip = {"chain_reorgs", "indexer_status", "chain_blocks"}
        return [(n, sorted(connection.execute(f"SELECT * FROM {n}").fetchall())) for n in names if n not in skip]


def test_reindexing_a_range_gives_an_identical_database(dev_chain: DevChain, tmp_path: Path) -> None:
    chain = dev_chain
    busy_chain(chain, seed=11)
    database = sqlite(tmp_path / "twice.db")
    indexer = new_indexer(database, chain, initial_range=7)
    indexer.catch_up()
    first = table_dump(tmp_path / "twice.db")
    middle = (chain.deployment.block + chain.block_number()) // 2
    for start in (middle, chain.deployment.block + 3, chain.deployment.block):
        indexer.rewind(start - 1)
        indexer.sync()
        assert table_dump(tmp_path / "twice.db") == first, f"re-indexing from block {start} changed the database"
    assert stored_log_keys(database) == chain_log_keys(chain)


def test_range_sizes_do_not_change_the_result(dev_chain: DevChain, tmp_path: Path) -> None:
    chain = dev_chain
    busy_chain(chain, seed=12)
    reference = fresh_dump(chain, tmp_path / "big.db", initial_range=10_000)
    for size in (1, 2, 5):
        assert_same_state(fresh_dump(chain, tmp_path / f"r{size}.db", initial_range=size, max_range=size), reference)


def test_cli_reindex_from_gives_the_same_database(
    dev_chain: DevChain, deployed_state: DeployedState, tmp_path: Path
) -> None:
    chain = dev_chain
    busy_chain(chain, seed=13, rounds=8)
    env = tool_env() | {
        "TRACEMARK_RPC_URL": chain.url,
        "TRACEMARK_DEPLOYMENTS_DIR": str(deployed_state.deployments_dir),
        "TRACEMARK_DATA_DIR": str(tmp_path / "var"),
    }
    command = [str(ROOT / ".venv" / "bin" / "tracemark"), "index", "--once"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "events stored" in first.stdout
    before = table_dump(tmp_path / "var" / "tracemark.db")
    again = subprocess.run([*command, "--reindex-from", str(chain.deployment.block)], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert "rewound" in again.stderr
    assert table_dump(tmp_path / "var" / "tracemark.db") == before
    database = sqlite(tmp_path / "var" / "tracemark.db")
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db"))
