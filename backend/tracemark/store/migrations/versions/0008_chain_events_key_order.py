"""The key of `chain_events` leads with the block number: (chain, block number, block hash, transaction, log index).

The block hash implies the number, so the key is unique exactly when it was before. What changes is where new rows
land in the key's index: a key led by the block hash put each range's rows all over the index, so every commit of
a back-fill rewrote most of the index's pages (SQLite appends each changed page to its write-ahead log) and the
cost of a range grew with everything indexed before it; led by the number, new rows land at the end. On SQLite the
table is copied once (batch mode); on PostgreSQL the constraint is rebuilt in place.

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

_NEW_KEY = ['chain_id', 'block_number', 'block_hash', 'tx_hash', 'log_index']
_OLD_KEY = ['chain_id', 'block_hash', 'tx_hash', 'log_index']


def _rekey(columns: list[str]) -> None:
    with op.batch_alter_table('chain_events', schema=None, recreate='auto') as batch_op:
        batch_op.drop_constraint('pk_chain_events', type_='primary')
        batch_op.create_primary_key('pk_chain_events', columns)


def upgrade() -> None:
    _rekey(_NEW_KEY)


def downgrade() -> None:
    _rekey(_OLD_KEY)
