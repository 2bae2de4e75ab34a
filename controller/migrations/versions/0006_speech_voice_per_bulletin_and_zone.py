"""Speech engine and voice per bulletin; speech defaults per zone

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.add_column(sa.Column("speech_engine", String(length=32), nullable=True))
        batch_op.add_column(sa.Column("speech_voice", String(length=100), nullable=True))
        batch_op.add_column(sa.Column("speech_accent", String(length=16), nullable=True))
        batch_op.add_column(sa.Column("speech_speed", sa.Integer(), nullable=True))
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        # Every bulletin so far was spoken by espeak-ng, the only engine the panel offered.
        batch_op.add_column(
            sa.Column("engine", String(length=32), nullable=False, server_default="espeak-ng")
        )
        batch_op.add_column(sa.Column("voice", String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.drop_column("voice")
        batch_op.drop_column("engine")
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_column("speech_speed")
        batch_op.drop_column("speech_accent")
        batch_op.drop_column("speech_voice")
        batch_op.drop_column("speech_engine")
