"""The crawler's findings: sites (country, operator), sightings of registered images, and the evidence behind
them (see tracemark.store.sighting_models).

Revision ID: 0003_sightings
Revises: 0002_registration
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_sightings'
down_revision: str | None = '0002_registration'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sites',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('country_reason', sa.Text(), nullable=True),
    sa.Column('country_basis', sa.String(length=40), nullable=True),
    sa.Column('operator', sa.Text(), nullable=True),
    sa.Column('operator_name', sa.String(length=300), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('host', name=op.f('uq_sites_host'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_country_code'), ['country_code'], unique=False)

    op.create_table('sightings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=220), nullable=False),
    sa.Column('certificate_id', sa.String(length=64), nullable=True),
    sa.Column('reference_id', sa.String(length=200), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('page_url', sa.Text(), nullable=False),
    sa.Column('image_url', sa.Text(), nullable=False),
    sa.Column('page_url_sha256', sa.String(length=64), nullable=False),
    sa.Column('image_url_sha256', sa.String(length=64), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('match_report', sa.Text(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.Column('gone_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_sightings_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sightings')),
    sa.UniqueConstraint('subject', 'page_url_sha256', 'image_url_sha256', name='uq_sightings_subject_urls')
    )
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sightings_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_index('ix_sightings_last_seen', ['last_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_sightings_site_id'), ['site_id'], unique=False)

    op.create_table('sighting_evidence',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sighting_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('warc', sa.String(length=255), nullable=False),
    sa.Column('record_id', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['sighting_id'], ['sightings.id'], name=op.f('fk_sighting_evidence_sighting_id_sightings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sighting_evidence'))
    )
    with op.batch_alter_table('sighting_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sighting_evidence_sighting_id'), ['sighting_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sighting_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sighting_evidence_sighting_id'))

    op.drop_table('sighting_evidence')
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sightings_site_id'))
        batch_op.drop_index('ix_sightings_last_seen')
        batch_op.drop_index(batch_op.f('ix_sightings_certificate_id'))

    op.drop_table('sightings')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_country_code'))

    op.drop_table('sites')
