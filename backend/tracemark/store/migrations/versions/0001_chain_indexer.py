"""The chain indexer's tables: checkpoint, block hashes, events, certificates, offers, licences, settlements,
evidence anchors, and the reorg and status audit tables (see tracemark.store.chain_models).

Revision ID: 0001_chain_indexer
Revises: (none)
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001_chain_indexer'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('certificate_transfers',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('pos', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('from_address', sa.String(length=42), nullable=False),
    sa.Column('to_address', sa.String(length=42), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'certificate_id', 'pos', name=op.f('pk_certificate_transfers'))
    )
    with op.batch_alter_table('certificate_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_certificate_transfers_pos', ['chain_id', 'pos'], unique=False)

    op.create_table('certificates',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('from_pos', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('to_pos', sa.BigInteger(), nullable=True),
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('holding', sa.BigInteger(), nullable=False),
    sa.Column('creator', sa.String(length=42), nullable=False),
    sa.Column('metadata_digest', sa.String(length=66), nullable=False),
    sa.Column('fingerprint', sa.String(length=66), nullable=False),
    sa.Column('disputed', sa.Boolean(), nullable=False),
    sa.Column('dispute_cid', sa.Text(), nullable=True),
    sa.Column('registered_block', sa.BigInteger(), nullable=False),
    sa.Column('registered_tx', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'certificate_id', 'from_pos', name=op.f('pk_certificates'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_from_pos', ['chain_id', 'from_pos'], unique=False)
        batch_op.create_index('ix_certificates_holder', ['chain_id', 'holder', 'certificate_id'], unique=False)
        batch_op.create_index('ix_certificates_to_pos', ['chain_id', 'to_pos'], unique=False,
                              sqlite_where=sa.text('to_pos IS NOT NULL'),
                              postgresql_where=sa.text('to_pos IS NOT NULL'))

    op.create_table('chain_blocks',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('parent_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'number', name=op.f('pk_chain_blocks'))
    )
    op.create_table('chain_cursors',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('deployment_key', sa.String(length=66), nullable=False),
    sa.Column('start_block', sa.BigInteger(), nullable=False),
    sa.Column('indexed_block', sa.BigInteger(), nullable=False),
    sa.Column('indexed_hash', sa.String(length=66), nullable=True),
    sa.Column('head_block', sa.BigInteger(), nullable=False),
    sa.Column('confirmed_block', sa.BigInteger(), nullable=False),
    sa.Column('confirmations', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', name=op.f('pk_chain_cursors'))
    )
    op.create_table('chain_events',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('block_hash', sa.String(length=66), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('pos', sa.BigInteger(), nullable=False),
    sa.Column('tx_index', sa.Integer(), nullable=False),
    sa.Column('contract', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('topics', sa.LargeBinary(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'block_hash', 'tx_hash', 'log_index', name=op.f('pk_chain_events'))
    )
    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.create_index('ix_chain_events_pos', ['chain_id', 'pos'], unique=True)

    op.create_table('chain_reorgs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_tip', sa.BigInteger(), nullable=False),
    sa.Column('old_tip_hash', sa.String(length=66), nullable=True),
    sa.Column('common_ancestor', sa.BigInteger(), nullable=False),
    sa.Column('depth', sa.BigInteger(), nullable=False),
    sa.Column('beyond_confirmations', sa.Boolean(), nullable=False),
    sa.Column('events_removed', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_reorgs'))
    )
    with op.batch_alter_table('chain_reorgs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_reorgs_chain_id'), ['chain_id'], unique=False)

    op.create_table('evidence_anchors',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root', sa.String(length=66), nullable=False),
    sa.Column('record_count', sa.BigInteger(), nullable=False),
    sa.Column('batch_cid', sa.Text(), nullable=False),
    sa.Column('anchorer', sa.String(length=42), nullable=False),
    sa.Column('anchored_at', sa.BigInteger(), nullable=False),
    sa.Column('pos', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'root', name=op.f('pk_evidence_anchors'))
    )
    with op.batch_alter_table('evidence_anchors', schema=None) as batch_op:
        batch_op.create_index('ix_evidence_anchors_pos', ['chain_id', 'pos'], unique=False)

    op.create_table('indexer_status',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('head_block', sa.BigInteger(), nullable=False),
    sa.Column('indexed_block', sa.BigInteger(), nullable=False),
    sa.Column('confirmed_block', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('retries_total', sa.BigInteger(), nullable=False),
    sa.Column('reorgs_total', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', name=op.f('pk_indexer_status'))
    )
    op.create_table('licences',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('licence_id', sa.String(length=64), nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('licensee', sa.String(length=42), nullable=False),
    sa.Column('kind', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.BigInteger(), nullable=False),
    sa.Column('ends_at', sa.BigInteger(), nullable=True),
    sa.Column('price', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('platform_fee', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=66), nullable=True),
    sa.Column('pos', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'licence_id', name=op.f('pk_licences'))
    )
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.create_index('ix_licences_certificate', ['chain_id', 'certificate_id', 'pos'], unique=False)
        batch_op.create_index('ix_licences_licensee', ['chain_id', 'licensee', 'pos'], unique=False)
        batch_op.create_index('ix_licences_pos', ['chain_id', 'pos'], unique=False)

    op.create_table('offers',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('from_pos', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('to_pos', sa.BigInteger(), nullable=True),
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('price', sa.String(length=64), nullable=False),
    sa.Column('duration', sa.BigInteger(), nullable=False),
    sa.Column('holding', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'certificate_id', 'kind', 'from_pos', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index('ix_offers_from_pos', ['chain_id', 'from_pos'], unique=False)
        batch_op.create_index('ix_offers_to_pos', ['chain_id', 'to_pos'], unique=False,
                              sqlite_where=sa.text('to_pos IS NOT NULL'),
                              postgresql_where=sa.text('to_pos IS NOT NULL'))

    op.create_table('settlements',
    sa.Column('chain_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('case_id', sa.String(length=66), nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('payer', sa.String(length=42), nullable=False),
    sa.Column('licence_id', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('holder_amount', sa.String(length=64), nullable=False),
    sa.Column('treasury', sa.String(length=42), nullable=False),
    sa.Column('platform_amount', sa.String(length=64), nullable=False),
    sa.Column('pos', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'case_id', name=op.f('pk_settlements'))
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index('ix_settlements_certificate', ['chain_id', 'certificate_id', 'pos'], unique=False)
        batch_op.create_index('ix_settlements_payer', ['chain_id', 'payer', 'pos'], unique=False)
        batch_op.create_index('ix_settlements_pos', ['chain_id', 'pos'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index('ix_settlements_pos')
        batch_op.drop_index('ix_settlements_payer')
        batch_op.drop_index('ix_settlements_certificate')

    op.drop_table('settlements')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('ix_offers_to_pos')
        batch_op.drop_index('ix_offers_from_pos')

    op.drop_table('offers')
    with op.batch_alter_table('licences', schema=None) as batch_op:
        batch_op.drop_index('ix_licences_pos')
        batch_op.drop_index('ix_licences_licensee')
        batch_op.drop_index('ix_licences_certificate')

    op.drop_table('licences')
    op.drop_table('indexer_status')
    with op.batch_alter_table('evidence_anchors', schema=None) as batch_op:
        batch_op.drop_index('ix_evidence_anchors_pos')

    op.drop_table('evidence_anchors')
    with op.batch_alter_table('chain_reorgs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_reorgs_chain_id'))

    op.drop_table('chain_reorgs')
    with op.batch_alter_table('chain_events', schema=None) as batch_op:
        batch_op.drop_index('ix_chain_events_pos')

    op.drop_table('chain_events')
    op.drop_table('chain_cursors')
    op.drop_table('chain_blocks')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_to_pos')
        batch_op.drop_index('ix_certificates_holder')
        batch_op.drop_index('ix_certificates_from_pos')

    op.drop_table('certificates')
    with op.batch_alter_table('certificate_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_certificate_transfers_pos')

    op.drop_table('certificate_transfers')
