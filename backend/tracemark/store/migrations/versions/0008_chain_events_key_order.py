"""`chain_events` is stored in its key's order, and its key leads with the block number: (chain, block number, block
hash, transaction, log index), in a table without rowids on SQLite, and without the separate index on positions.

The block hash implies the number, so the key is unique exactly when it was before. What changes is where new rows
land: a key led by the block hash put each range's rows all over its index, so every commit of a back-fill rewrote
most of the index's pages (SQLite appends each changed page to its write-ahead log) and the cost of a range grew
with everything indexed before it; led by the number, new rows land at the end. Stored in key order (SQLite's
`WITHOUT ROWID`), the table is that index: one B-tree per event instead of three (the rowid table, the key's index
and `ix_chain_events_pos`). The reads that went by position go by block number instead (a reorg's rollback, the
search for a common ancestor); a position is still stored with every event. On SQLite the table is copied once
(batch mode); on PostgreSQL the constraint is rebuilt in place.

Revision ID: 0008_chain_events_key_order
Revises: 0007_case_stage_started
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0008_chain_events_key_order'
down_revision: str | None = '0007_case_stage_started'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('chain_events', schema=None, recreate='auto',
                              table_kwargs={'sqlite_with_rowid': False}) as batch_op:
        batch_op.drop_index('ix_chain_events_pos')
        batch_op.drop_constraint('pk_chain_events', type_='primary')
        batch_op.create_primary_key('pk_chain_events',
                                    ['chain_id', 'block_number', 'block_hash', 'tx_hash', 'log_index'])


def downgrade() -> None:
    with op.batch_alter_table('chain_events', schema=None, recreate='auto',
                              table_kwargs={'sqlite_with_rowid': True}) as batch_op:
        batch_op.drop_constraint('pk_chain_events', type_='primary')
        batch_op.create_primary_key('pk_chain_events', ['chain_id', 'block_hash', 'tx_hash', 'log_index'])
        batch_op.create_index('ix_chain_events_pos', ['chain_id', 'pos'], unique=True)
