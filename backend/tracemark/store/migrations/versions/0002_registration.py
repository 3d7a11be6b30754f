"""The registration service's tables: sign-in nonces and sessions, originals, registrations and their status
transitions (see tracemark.store.registration_models).

Revision ID: 0002_registration
Revises: 0001_chain_indexer
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_registration'
down_revision: str | None = '0001_chain_indexer'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_nonces',
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('nonce', name=op.f('pk_auth_nonces'))
    )
    with op.batch_alter_table('auth_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_nonces_expires_at'), ['expires_at'], unique=False)

    op.create_table('auth_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_auth_sessions'))
    )
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_auth_sessions_address', ['address', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('originals',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=42), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256', 'owner', name=op.f('pk_originals'))
    )
    with op.batch_alter_table('originals', schema=None) as batch_op:
        batch_op.create_index('ix_originals_owner', ['owner', 'created_at'], unique=False)

    op.create_table('registration_transitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('registration_id', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=42), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_transitions'))
    )
    with op.batch_alter_table('registration_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_transitions_registration_id'), ['registration_id'],
                              unique=False)

    op.create_table('registrations',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=42), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('active_sha256', sa.String(length=64), nullable=True),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('creator_name', sa.String(length=200), nullable=False),
    sa.Column('declaration', sa.Text(), nullable=False),
    sa.Column('declaration_signature', sa.String(length=140), nullable=False),
    sa.Column('declared', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('audit_report', sa.Text(), nullable=False),
    sa.Column('audit_digest', sa.String(length=64), nullable=False),
    sa.Column('audit_outcome', sa.String(length=8), nullable=False),
    sa.Column('reviewer', sa.String(length=42), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metadata_cid', sa.String(length=128), nullable=True),
    sa.Column('metadata_digest', sa.String(length=66), nullable=True),
    sa.Column('preview_cid', sa.String(length=128), nullable=True),
    sa.Column('fingerprint', sa.String(length=66), nullable=True),
    sa.Column('attestation', sa.Text(), nullable=True),
    sa.Column('attestation_nonce', sa.BigInteger(), nullable=True),
    sa.Column('attestation_deadline', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('relayed', sa.Boolean(), nullable=False),
    sa.Column('mint_error', sa.Text(), nullable=True),
    sa.Column('certificate_id', sa.String(length=64), nullable=True),
    sa.Column('minted_block', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registrations')),
    sa.UniqueConstraint('active_sha256', name=op.f('uq_registrations_active_sha256'))
    )
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.create_index('ix_registrations_owner', ['owner', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_registrations_sha256'), ['sha256'], unique=False)
        batch_op.create_index('ix_registrations_status', ['status', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_index('ix_registrations_status')
        batch_op.drop_index(batch_op.f('ix_registrations_sha256'))
        batch_op.drop_index('ix_registrations_owner')

    op.drop_table('registrations')
    with op.batch_alter_table('registration_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_transitions_registration_id'))

    op.drop_table('registration_transitions')
    with op.batch_alter_table('originals', schema=None) as batch_op:
        batch_op.drop_index('ix_originals_owner')

    op.drop_table('originals')
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_sessions_expires_at'))
        batch_op.drop_index('ix_auth_sessions_address')

    op.drop_table('auth_sessions')
    with op.batch_alter_table('auth_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_nonces_expires_at'))

    op.drop_table('auth_nonces')
