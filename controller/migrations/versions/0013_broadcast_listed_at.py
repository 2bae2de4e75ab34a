"""As-run summaries listed for export again after a late change (broadcasttally.listed_at)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("broadcasttally") as batch:
        batch.add_column(sa.Column("listed_at", When(), nullable=True))
    # Summaries folded before: listed at their start (an export reader that had them keeps its cursor
    # order; the next change lists one again).
    op.execute("UPDATE broadcasttally SET listed_at = broadcast_at")
    op.create_index("ix_broadcasttally_commune_listed", "broadcasttally", ["commune_id", "listed_at"])


def downgrade() -> None:
    op.drop_index("ix_broadcasttally_commune_listed", table_name="broadcasttally")
    with op.batch_alter_table("broadcasttally") as batch:
        batch.drop_column("listed_at")
