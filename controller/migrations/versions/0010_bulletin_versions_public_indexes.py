"""Bulletin versions; indexes for the public commune pages and a bulletin's history

Bulletins written before this revision have no version rows: their history starts at their first
edit, which stores the content they had as version 1 (controller/bulletin_versions.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "bulletinversion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", String(length=32), nullable=False),
        sa.Column("language", String(length=16), nullable=False),
        sa.Column("source_ref", String(length=300), nullable=True),
        sa.Column("engine", String(length=32), nullable=False),
        sa.Column("voice", String(length=100), nullable=True),
        sa.Column("accent", String(length=16), nullable=False),
        sa.Column("speed", sa.Integer(), nullable=False),
        sa.Column("recording_sha256", String(length=64), nullable=True),
        sa.Column("text_sha256", String(length=64), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["bulletin_id"], ["bulletin.id"]),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bulletin_id", "number", name="uq_bulletinversion_number"),
    )
    with op.batch_alter_table("bulletinversion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulletinversion_bulletin_id"), ["bulletin_id"], unique=False)
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_occurrence_public",
            ["commune_id", "started_at", "bulletin_id", "state", "source"],
            unique=False,
        )
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.create_index("ix_auditevent_object", ["object_type", "object_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index("ix_auditevent_object")
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_index("ix_occurrence_public")
    with op.batch_alter_table("bulletinversion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulletinversion_bulletin_id"))
    op.drop_table("bulletinversion")
