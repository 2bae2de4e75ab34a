"""schedules with rules, playlists, groups, policies, emergencies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:01:09.950591
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devicegroup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["zone.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("devicegroup", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devicegroup_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "playlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("entries_json", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["zone.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playlist_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "devicegroupmember",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["devicegroup.id"],
        ),
        sa.PrimaryKeyConstraint("group_id", "device_id"),
    )
    op.create_table(
        "emergency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("zone_ids_json", sa.Text(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("after", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("stopped_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["bulletin_id"],
            ["bulletin.id"],
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("command_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(sa.Column("seconds_aired", sa.Float(), nullable=True))

    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.add_column(sa.Column("playlist_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "target_kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="zone",
            )
        )
        batch_op.add_column(
            sa.Column("target_device_id", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True)
        )
        batch_op.add_column(sa.Column("target_group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rule_json", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("volume", sa.Integer(), nullable=False, server_default="100"))
        batch_op.alter_column("bulletin_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.alter_column("target_zone_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_schedule_playlist_id"), ["playlist_id"], unique=False)
        batch_op.create_foreign_key("fk_schedule_target_device", "device", ["target_device_id"], ["id"])
        batch_op.create_foreign_key("fk_schedule_playlist", "playlist", ["playlist_id"], ["id"])
        batch_op.create_foreign_key("fk_schedule_target_group", "devicegroup", ["target_group_id"], ["id"])

    # Schedules of the first schema were all one-off: give each its rule.
    schedule = sa.table(
        "schedule",
        sa.column("id", sa.Integer),
        sa.column("starts_at", sa.DateTime),
        sa.column("rule_json", sa.Text),
    )
    connection = op.get_bind()
    for row_id, starts_at in connection.execute(sa.select(schedule.c.id, schedule.c.starts_at)).all():
        at = starts_at if isinstance(starts_at, str) else starts_at.isoformat()
        at = at.replace(" ", "T")
        if not re.search(r"(Z|[+-]\d\d:?\d\d)$", at):
            at += "+00:00"
        rule = json.dumps({"kind": "once", "at": at})
        connection.execute(schedule.update().where(schedule.c.id == row_id).values(rule_json=rule))

    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_column("policy_json")

    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.drop_constraint("fk_schedule_target_group", type_="foreignkey")
        batch_op.drop_constraint("fk_schedule_playlist", type_="foreignkey")
        batch_op.drop_constraint("fk_schedule_target_device", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_schedule_playlist_id"))
        batch_op.alter_column("target_zone_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.alter_column("bulletin_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("volume")
        batch_op.drop_column("ends_at")
        batch_op.drop_column("rule_json")
        batch_op.drop_column("target_group_id")
        batch_op.drop_column("target_device_id")
        batch_op.drop_column("target_kind")
        batch_op.drop_column("playlist_id")

    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_column("seconds_aired")
        batch_op.drop_column("command_id")

    op.drop_table("emergency")
    op.drop_table("devicegroupmember")
    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlist_commune_id"))

    op.drop_table("playlist")
    with op.batch_alter_table("devicegroup", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devicegroup_commune_id"))

    op.drop_table("devicegroup")
