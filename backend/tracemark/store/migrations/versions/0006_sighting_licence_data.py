"""The licence data the crawler captures with a sighting: what the page gives for the image (schema.org, microdata,
`rel=license`, caption) and the rights fields of the image's bytes (XMP, IPTC), as canonical JSON; NULL where not
captured (see tracemark.store.sighting_models).

Revision ID: 0006_sighting_licence_data
Revises: 0005_case_portal_links
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_sighting_licence_data'
down_revision: str | None = '0005_case_portal_links'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_licence', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('image_rights', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_column('image_rights')
        batch_op.drop_column('page_licence')
