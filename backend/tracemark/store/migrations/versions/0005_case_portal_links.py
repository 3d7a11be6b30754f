"""The clearing portal's case links, kept by the hash of their token (see tracemark.store.case_models).

Revision ID: 0005_case_portal_links
Revises: 0004_cases
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_case_portal_links'
down_revision: str | None = '0004_cases'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_portal_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_portal_links_case_id_cases'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_case_portal_links'))
    )
    with op.batch_alter_table('case_portal_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_portal_links_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_portal_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_portal_links_case_id'))

    op.drop_table('case_portal_links')
