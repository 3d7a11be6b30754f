"""The chain indexer: every event of the Tracemark contracts, through reorgs and restarts, into the store.

- `events`: decoding logs (`ChainLog`, positions)
- `rpc`: the JSON-RPC calls, their failure classes and the back-off
- `projector`: events -> state (certificates, offers, licences, settlements, anchors) and undoing a reorg
- `indexer`: the loop (back-fill, live polling, confirmations, reorgs, checkpoints)

Reads of the indexed state live in `tracemark.store.chain_repository`.
"""

from tracemark.chain.indexer.indexer import ChainIndexer, IndexerConfig, IndexerStoppedError, Progress, connect

__all__ = ["ChainIndexer", "IndexerConfig", "IndexerStoppedError", "Progress", "connect"]
