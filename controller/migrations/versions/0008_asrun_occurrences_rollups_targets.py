"""As-run occurrences, reconciliation tallies, airtime/reason/uptime/clock rollups, targets, bulletin language

The tables start empty: the as-run fold (controller/asrun_fold.py) fills them from the published
timelines, the receipts (every stored receipt, from chain seq 1) and the status history still kept,
on its first run after the upgrade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime
STATES = ("pending", "aired", "partial", "failed", "skipped", "missing")


def _per_box_keys() -> list[sa.Column[Any]]:
    return [
        sa.Column("grain", String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", String(length=16), nullable=False, server_default="vi"))
    op.create_table(
        "occurrence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("item_id", String(length=128), nullable=False),
        sa.Column("broadcast_key", String(length=64), nullable=False),
        sa.Column("source", String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("broadcast_at", When(), nullable=False),
        sa.Column("scheduled_at", When(), nullable=False),
        sa.Column("ends_at", When(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("kind", String(length=16), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=True),
        sa.Column("category", String(length=32), nullable=False),
        sa.Column("language", String(length=16), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("seconds_aired", sa.Float(), nullable=False),
        sa.Column("reason", String(length=500), nullable=True),
        sa.Column("started_at", When(), nullable=True),
        sa.Column("ended_at", When(), nullable=True),
        sa.Column("final_seq", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("clock_offset_ms", sa.Float(), nullable=True),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "item_id", name="uq_occurrence_device_item"),
    )
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.create_index("ix_occurrence_broadcast", ["broadcast_key", "device_id"], unique=False)
        batch_op.create_index("ix_occurrence_device_scheduled", ["device_id", "scheduled_at"], unique=False)
        batch_op.create_index("ix_occurrence_state_ends", ["state", "ends_at"], unique=False)
    op.create_table(
        "broadcasttally",
        sa.Column("broadcast_key", String(length=64), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("source", String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("broadcast_at", When(), nullable=False),
        sa.Column("category", String(length=32), nullable=False),
        sa.Column("language", String(length=16), nullable=False),
        *(sa.Column(state, sa.Integer(), nullable=False) for state in STATES),
        sa.PrimaryKeyConstraint("broadcast_key", "commune_id"),
    )
    with op.batch_alter_table("broadcasttally", schema=None) as batch_op:
        batch_op.create_index("ix_broadcasttally_commune_at", ["commune_id", "broadcast_at"], unique=False)
    op.create_table(
        "airtimerollup",
        *_per_box_keys(),
        sa.Column("category", String(length=32), nullable=False),
        sa.Column("language", String(length=16), nullable=False),
        *(sa.Column(state, sa.Integer(), nullable=False) for state in STATES[1:]),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("broadcasts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "grain", "period", "commune_id", "zone_id", "device_id", "category", "language"
        ),
    )
    with op.batch_alter_table("airtimerollup", schema=None) as batch_op:
        batch_op.create_index("ix_airtimerollup_commune", ["grain", "commune_id", "period"], unique=False)
    op.create_table(
        "reasonrollup",
        sa.Column("grain", String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("reason", String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("grain", "period", "commune_id", "state", "reason"),
    )
    op.create_table(
        "uptimerollup",
        *_per_box_keys(),
        sa.Column("online_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("grain", "period", "commune_id", "zone_id", "device_id"),
    )
    op.create_table(
        "clockrollup",
        sa.Column("grain", String(length=1), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("max_receipt_offset_ms", sa.Float(), nullable=False),
        sa.Column("max_status_offset_ms", sa.Float(), nullable=False),
        sa.Column("max_ahead_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("grain", "device_id", "period"),
    )
    with op.batch_alter_table("clockrollup", schema=None) as batch_op:
        batch_op.create_index("ix_clockrollup_period", ["grain", "period"], unique=False)
    op.create_table(
        "asruncursor",
        sa.Column("name", String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("at", When(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "asrundevice",
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("timeline_version", sa.Integer(), nullable=False),
        sa.Column("last_online_at", When(), nullable=True),
        sa.Column("credited_until", When(), nullable=True),
        sa.Column("clock_offset_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("device_id"),
    )
    op.create_table(
        "airtimetarget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=False),
        sa.Column("metric", String(length=16), nullable=False),
        sa.Column("category", String(length=32), nullable=True),
        sa.Column("per", String(length=8), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    for name in (
        "airtimetarget",
        "asrundevice",
        "asruncursor",
        "clockrollup",
        "uptimerollup",
        "reasonrollup",
    ):
        op.drop_table(name)
    with op.batch_alter_table("airtimerollup", schema=None) as batch_op:
        batch_op.drop_index("ix_airtimerollup_commune")
    op.drop_table("airtimerollup")
    with op.batch_alter_table("broadcasttally", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcasttally_commune_at")
    op.drop_table("broadcasttally")
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_index("ix_occurrence_state_ends")
        batch_op.drop_index("ix_occurrence_device_scheduled")
        batch_op.drop_index("ix_occurrence_broadcast")
    op.drop_table("occurrence")
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.drop_column("language")
