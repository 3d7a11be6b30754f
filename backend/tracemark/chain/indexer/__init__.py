"""The chain indexer: every event of the Tracemark contracts, through reorgs and restarts, into the store.

- `events`: decoding logs (`ChainLog`, positions)
- `rpc`: the JSON-RPC calls, their failure classes and the back-off
- `batch`: the rows of a range worked out without a database (`RangeBatch`), fetched and decoded by `fetch_range`
- `worker`: the decode worker process that runs `fetch_range` beside the writer during a back-fill
- `projector`: events -> state (certificates, offers, licences, settlements, anchors) and undoing a reorg
- `indexer`: the loop (back-fill, live polling, confirmations, reorgs, checkpoints)

Reads of the indexed state live in `tracemark.store.chain_repository`.

The names below are imported on first use, so that the decode worker, which imports `batch`, `events` and `rpc`
of this package, does not import the indexer with SQLAlchemy and web3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracemark.chain.indexer.indexer import ChainIndexer, IndexerConfig, IndexerStoppedError, Progress, connect

__all__ = ["ChainIndexer", "IndexerConfig", "IndexerStoppedError", "Progress", "connect"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tracemark.chain.indexer import indexer

        return getattr(indexer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
