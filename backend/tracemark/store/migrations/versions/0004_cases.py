"""The cases: cases with their history, the deadline scheduler's idempotency keys and the letters
(see tracemark.store.case_models).

Revision ID: 0004_cases
Revises: 0003_sightings
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_cases'
down_revision: str | None = '0003_sightings'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_actions',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=24), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_case_actions'))
    )
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_actions_case_id'), ['case_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('page_url', sa.Text(), nullable=False),
    sa.Column('image_url', sa.Text(), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('sighting_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('on_hold', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('licence_checks', sa.Text(), nullable=False),
    sa.Column('claimed_use', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sighting_id'], ['sightings.id'], name=op.f('fk_cases_sighting_id_sightings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('sighting_id', 'holder', name='uq_cases_sighting_holder')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index('ix_cases_holder', ['holder', 'updated_at'], unique=False)
        batch_op.create_index('ix_cases_open_state', ['is_open', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_sighting_id'), ['sighting_id'], unique=False)

    op.create_table('case_events',
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('actor_ident', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'seq', name='pk_case_events')
    )
    op.create_table('case_letters',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_letters_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_case_letters'))
    )
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_letters_case_id'), ['case_id'], unique=False)

    op.create_table('holder_whitelist',
    sa.Column('holder', sa.String(length=42), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('holder', 'domain', name='pk_holder_whitelist')
    )



def downgrade() -> None:
    op.drop_table('holder_whitelist')
    with op.batch_alter_table('case_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_letters_case_id'))

    op.drop_table('case_letters')
    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_sighting_id'))
        batch_op.drop_index('ix_cases_open_state')
        batch_op.drop_index('ix_cases_holder')
        batch_op.drop_index(batch_op.f('ix_cases_certificate_id'))

    op.drop_table('cases')
    with op.batch_alter_table('case_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_actions_case_id'))

    op.drop_table('case_actions')
