"""Random reorgs on a real anvil: after each, the indexed state equals a fresh index of the same chain.

Two kinds of reorg, both with different transactions on the new branch:
- `anvil_reorg(depth, txs)`: the last `depth` blocks are replaced (same height), depths 1 to the confirmation depth
  + 4, so some undo confirmed events;
- `evm_snapshot` / `evm_revert`, then other activity: the chain may come back shorter or longer.
Sometimes the indexer syncs before the reorg, sometimes only after the chain moved again.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.backend.chainops import DevChain
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
from tracemark.chain.indexer.indexer import KEEP_BELOW_CONFIRMED, WINDOW_MARGIN
from tracemark.store.chain_models import ChainReorg

pytestmark = pytest.mark.integration

CONFIRMATIONS = 2
REORGS = int(os.environ.get("TRACEMARK_TEST_REORGS", "110"))


def activity(chain: DevChain, rng: random.Random) -> None:
    """A few blocks of random operations."""
    for _ in range(rng.randint(1, 3)):
        chain.random_activity(rng.randint(2, 8))
        chain.flush()
        chain.mine(rng.randint(1, 2))


def test_random_reorgs_leave_the_same_state_as_a_fresh_index(dev_chain: DevChain, tmp_path: Path) -> None:
    random_reorgs(dev_chain, tmp_path, REORGS, seed=20261204)


@pytest.mark.soak
@pytest.mark.skipif(not os.environ.get("TRACEMARK_SOAK"), reason="soak: set TRACEMARK_SOAK=1")
def test_soak_thousand_reorgs(dev_chain: DevChain, tmp_path: Path) -> None:
    random_reorgs(dev_chain, tmp_path, 1000, seed=1000)


def random_reorgs(chain: DevChain, tmp_path: Path, count: int, seed: int) -> None:
    """`count` random reorgs, comparing with a fresh index every ten."""
    rng = random.Random(seed)
    database = sqlite(tmp_path / "live.db")
    indexer = new_indexer(database, chain, confirmations=CONFIRMATIONS, initial_range=rng.choice([1, 3, 50]))
    indexer.prepare()
    activity(chain, rng)
    chain.mine(CONFIRMATIONS + 6)
    indexer.sync()
    depths: list[int] = []
    for round_number in range(count):
        activity(chain, rng)
        if rng.random() < 0.7:
            indexer.sync()
        height = chain.block_number()
        if rng.random() < 0.7:
            depth = rng.randint(1, min(CONFIRMATIONS + 4, height - chain.deployment.block - 8))
            chain.resync_nonces()
            chain.random_activity(rng.randint(1, 4))
            txs = chain.take()
            for tx in txs:
                tx.pop("nonce")  # anvil numbers them on the new branch
            chain.rpc("anvil_reorg", [depth, [[tx, rng.randrange(depth)] for tx in txs]])
        else:
            snapshot = chain.rpc("evm_snapshot")
            activity(chain, rng)
            if rng.random() < 0.5:
                indexer.sync()
            depth = chain.block_number() - height
            chain.rpc("evm_revert", [snapshot])
            chain.resync_nonces()
            if rng.random() < 0.8:
                activity(chain, rng)
        depths.append(depth)
        chain.resync_nonces()
        indexer.sync()
        if round_number % 10 == 9 or round_number == count - 1:
            assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", confirmations=CONFIRMATIONS))
            assert_canonical(database, chain)
    assert stored_log_keys(database) == chain_log_keys(chain), "no event lost, none duplicated"
    with database.engine.connect() as connection:
        undone = connection.execute(select(func.count()).select_from(ChainReorg)).scalar_one()
        deep = connection.execute(
            select(func.count()).select_from(ChainReorg).where(ChainReorg.beyond_confirmations)
        ).scalar_one()
    assert len(depths) == count
    assert max(depths) > CONFIRMATIONS, "some reorgs went beyond the confirmation depth"
    assert undone >= count // 2, "most reorgs were seen and undone (the others replaced unindexed blocks)"
    assert deep > 0, "reorgs beyond the confirmation depth are recorded as such"


def test_a_reorg_deeper_than_the_kept_block_hashes_finds_its_ancestor_among_the_events(
    dev_chain: DevChain, tmp_path: Path
) -> None:
    """Block hashes are kept only for the unconfirmed window and a few blocks below; a deeper reorg is traced back
    through the blocks of the stored events (by block number, newest first) to the last one still on the chain."""
    chain = dev_chain
    rng = random.Random(31)
    database = sqlite(tmp_path / "deep.db")
    indexer = new_indexer(database, chain, confirmations=CONFIRMATIONS, initial_range=8)
    indexer.prepare()
    for _ in range(45):  # events in every block, so every replaced block held some
        chain.random_activity(rng.randint(2, 5))
        chain.flush()
        chain.mine(1)
    indexer.sync()
    kept = KEEP_BELOW_CONFIRMED + CONFIRMATIONS + WINDOW_MARGIN
    depth = kept + 12
    chain.resync_nonces()
    chain.random_activity(6)
    txs = chain.take()
    for tx in txs:
        tx.pop("nonce")
    height = chain.block_number()
    chain.rpc("anvil_reorg", [depth, [[tx, rng.randrange(depth)] for tx in txs]])
    chain.resync_nonces()
    indexer.sync()

    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db", confirmations=CONFIRMATIONS))
    assert_canonical(database, chain)
    assert stored_log_keys(database) == chain_log_keys(chain)
    with database.engine.connect() as connection:
        ancestor, beyond = connection.execute(
            select(ChainReorg.common_ancestor, ChainReorg.beyond_confirmations)).one()
    assert ancestor == height - depth, "the ancestor is the block just below the replaced ones"
    assert beyond
