"""Lexicon, uploaded recordings, speech speed and measured loudness

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lexiconentry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("spoken", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "term", name="uq_lexicon_kind_term"),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("codec", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("lufs", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("true_peak_dbtp", sa.Float(), nullable=True))
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speed", sa.Integer(), nullable=False, server_default="150"))
        batch_op.add_column(
            sa.Column("recording_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_foreign_key("fk_bulletin_recording", "media", ["recording_sha256"], ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.drop_constraint("fk_bulletin_recording", type_="foreignkey")
        batch_op.drop_column("recording_sha256")
        batch_op.drop_column("speed")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("true_peak_dbtp")
        batch_op.drop_column("lufs")
        batch_op.drop_column("codec")
    op.drop_table("lexiconentry")
