"""The export push: each feed's delivered cursor, and a record of every delivery

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "exportcursor",
        sa.Column("kind", String(length=16), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )
    op.create_table(
        "exportdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", String(length=64), nullable=False),
        sa.Column("kind", String(length=16), nullable=False),
        sa.Column("cursor_from", sa.Text(), nullable=True),
        sa.Column("cursor_to", sa.Text(), nullable=True),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", String(length=500), nullable=True),
        sa.Column("started_at", When(), nullable=False),
        sa.Column("finished_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exportdelivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exportdelivery_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exportdelivery_started_at"), ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exportdelivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exportdelivery_started_at"))
        batch_op.drop_index(batch_op.f("ix_exportdelivery_delivery_id"))
    op.drop_table("exportdelivery")
    op.drop_table("exportcursor")
