"""Device registry: enrolment codes, broker credentials, revocation, location, health history, commands

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.alter_column("public_key", existing_type=String(length=64), nullable=True)
        batch_op.alter_column("media_token_hash", existing_type=String(length=64), nullable=True)
        batch_op.add_column(sa.Column("mqtt_password_hash", String(length=200), nullable=True))
        batch_op.add_column(sa.Column("enrolled_at", When(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", When(), nullable=True))
        batch_op.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("address", String(length=300), nullable=True))
    op.create_table(
        "enrolmentcode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("code_hash", String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("used_at", When(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("enrolmentcode", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolmentcode_device_id"), ["device_id"], unique=False)
    op.create_table(
        "devicehealth",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("hourly", sa.Boolean(), nullable=False),
        sa.Column("disk_free_mb", sa.Integer(), nullable=True),
        sa.Column("cache_mb", sa.Float(), nullable=True),
        sa.Column("cpu_temp_c", sa.Float(), nullable=True),
        sa.Column("clock_offset_ms", sa.Float(), nullable=True),
        sa.Column("outbox_pending", sa.Integer(), nullable=True),
        sa.Column("link_quality", sa.Integer(), nullable=True),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("devicehealth", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devicehealth_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devicehealth_at"), ["at"], unique=False)
    op.create_table(
        "devicecommand",
        sa.Column("id", String(length=128), nullable=False),
        sa.Column("device_id", String(length=63), nullable=False),
        sa.Column("name", String(length=32), nullable=False),
        sa.Column("args_json", sa.Text(), nullable=False),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("issued_at", When(), nullable=False),
        sa.Column("expires_at", When(), nullable=False),
        sa.Column("state", String(length=16), nullable=False),
        sa.Column("reason", String(length=500), nullable=True),
        sa.Column("done_at", When(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.ForeignKeyConstraint(["issued_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("devicecommand", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devicecommand_device_id"), ["device_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("devicecommand", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devicecommand_device_id"))
    op.drop_table("devicecommand")
    with op.batch_alter_table("devicehealth", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devicehealth_at"))
        batch_op.drop_index(batch_op.f("ix_devicehealth_device_id"))
    op.drop_table("devicehealth")
    with op.batch_alter_table("enrolmentcode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolmentcode_device_id"))
    op.drop_table("enrolmentcode")
    pending = "SELECT id FROM device WHERE public_key IS NULL OR media_token_hash IS NULL"
    for table in ("devicetimeline", "devicegroupmember"):
        op.execute(f"DELETE FROM {table} WHERE device_id IN ({pending})")
    op.execute("DELETE FROM device WHERE public_key IS NULL OR media_token_hash IS NULL")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("address")
        batch_op.drop_column("lon")
        batch_op.drop_column("lat")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("enrolled_at")
        batch_op.drop_column("mqtt_password_hash")
        batch_op.alter_column("media_token_hash", existing_type=String(length=64), nullable=False)
        batch_op.alter_column("public_key", existing_type=String(length=64), nullable=False)
