"""Chimes of a commune or of the province, uploaded in the panel

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "zonechime",
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("which", String(length=8), nullable=False),
        sa.Column("sha256", String(length=64), nullable=False),
        sa.Column("name", String(length=200), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["uploaded_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"]),
        sa.PrimaryKeyConstraint("zone_id", "which"),
    )


def downgrade() -> None:
    op.drop_table("zonechime")
