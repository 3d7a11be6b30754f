"""When each case's current stage began, stored with the case and indexed with its state, so that the scheduler asks
the database for the cases whose deadline has passed instead of reading every open case (see
tracemark.store.case_repository.SqlCaseRepository.due_cases). Filled for existing cases from their history: the
newest event that starts a stage (opened, transition, resumed), as `Case.stage_started_at` reads it.

Revision ID: 0007_case_stage_started
Revises: 0006_sighting_licence_data
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_case_stage_started'
down_revision: str | None = '0006_sighting_licence_data'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_started_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE cases SET stage_started_at = (SELECT MAX(e.at) FROM case_events e WHERE e.case_id = cases.id "
        "AND e.kind IN ('opened', 'transition', 'resumed'))"
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('stage_started_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_cases_stage', ['state', 'stage_started_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_stage')
        batch_op.drop_column('stage_started_at')
