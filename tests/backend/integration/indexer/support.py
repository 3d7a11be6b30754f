"""Helpers of the indexer tests: building indexers, dumping a chain's indexed state, checking it against the chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.backend.chainops import DevChain
from tracemark.chain.indexer import ChainIndexer, IndexerConfig
from tracemark.chain.indexer.rpc import RpcClient
from tracemark.store import Database
from tracemark.store.base import table_of
from tracemark.store.chain_models import APPEND_ONLY_TABLES, VERSIONED_TABLES, ChainBlock, ChainCursor, ChainEvent

FAST_RETRIES = {"retry_base_s": 0.01, "retry_max_s": 0.05, "poll_interval_s": 0.05}


def new_indexer(database: Database, chain: DevChain, url: str | None = None, **config: Any) -> ChainIndexer:
    options = {"confirmations": 2, **FAST_RETRIES, **config}
    timeout = options.pop("rpc_timeout_s", 10.0)
    return ChainIndexer(database, RpcClient(url or chain.url, timeout_s=timeout), chain.deployment,
                        IndexerConfig(rpc_timeout_s=timeout, **options))


def sqlite(path: Path) -> Database:
    database = Database(f"sqlite:///{path}")
    database.migrate()
    return database


def dump(database: Database, chain_id: int = 31337) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the indexer derives from the chain, in key order (block hashes of the window excluded: which
    blocks are kept depends on when they were read; `assert_canonical` checks them instead)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with database.engine.connect() as connection:
        for model in (ChainCursor, *VERSIONED_TABLES, *APPEND_ONLY_TABLES):
            table = table_of(model)
            keys = list(table.primary_key.columns)
            rows = connection.execute(select(table).where(table.c.chain_id == chain_id).order_by(*keys)).all()
            out[table.name] = [tuple(row) for row in rows]
    return out


def fresh_dump(chain: DevChain, path: Path, **config: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The state a new indexer builds from scratch for the chain as it is now."""
    if path.exists():
        path.unlink()
    database = sqlite(path)
    new_indexer(database, chain, **config).catch_up()
    result = dump(database)
    database.dispose()
    return result


def assert_canonical(database: Database, chain: DevChain, chain_id: int = 31337) -> None:
    """No orphan rows: every stored block hash and every event's block is on the chain now."""
    with database.engine.connect() as connection:
        blocks = connection.execute(select(ChainBlock.number, ChainBlock.hash)
                                    .where(ChainBlock.chain_id == chain_id)).all()
        events = connection.execute(select(ChainEvent.block_number, ChainEvent.block_hash)
                                    .where(ChainEvent.chain_id == chain_id).distinct()).all()
    pairs = sorted(set(blocks) | set(events))
    headers = RpcClient(chain.url).headers([n for n, _ in pairs]) if pairs else []
    for (number, block_hash), header in zip(pairs, headers, strict=True):
        assert header is not None and header.hash == block_hash, f"orphan block {number} {block_hash}"


def chain_log_keys(chain: DevChain) -> list[tuple[str, str, int]]:
    """(block hash, tx hash, log index) of every Tracemark log on the chain now."""
    rpc = RpcClient(chain.url)
    addresses = [a.lower() for a in chain.deployment.contracts.values()]
    logs = rpc.get_logs(addresses, chain.deployment.block, rpc.block_number())
    return sorted((log["blockHash"], log["transactionHash"], int(log["logIndex"], 16)) for log in logs)


def stored_log_keys(database: Database, chain_id: int = 31337) -> list[tuple[str, str, int]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(ChainEvent.block_hash, ChainEvent.tx_hash, ChainEvent.log_index)
                                  .where(ChainEvent.chain_id == chain_id)).all()
    return sorted((a, b, c) for a, b, c in rows)


def assert_same_state(actual: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]) -> None:
    """Equal dumps, or a message naming the table and the rows that differ."""
    for name in expected:
        if actual.get(name) != expected[name]:
            extra = sorted(set(actual.get(name, [])) - set(expected[name]))[:5]
            missing = sorted(set(expected[name]) - set(actual.get(name, [])))[:5]
            raise AssertionError(f"{name} differs: extra rows {extra}; missing rows {missing}")
