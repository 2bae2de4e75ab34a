"""Which communes may hear each stored audio file (mediagrant)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 06:20:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "mediagrant",
        sa.Column("sha256", String(length=64), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", When(), nullable=False),
        sa.ForeignKeyConstraint(["commune_id"], ["zone.id"]),
        sa.PrimaryKeyConstraint("sha256", "commune_id"),
    )
    op.create_index("ix_mediagrant_commune_id", "mediagrant", ["commune_id"])
    # What the bulletins use already: their approved speech, their recordings, past versions' ones.
    # (A draft's preview rendered before is granted again when it is next previewed.)
    db = op.get_bind()
    pairs: set[tuple[str, int]] = set()
    for query in (
        "SELECT media_sha256, commune_id FROM bulletin WHERE media_sha256 IS NOT NULL",
        "SELECT recording_sha256, commune_id FROM bulletin WHERE recording_sha256 IS NOT NULL",
        "SELECT v.recording_sha256, b.commune_id FROM bulletinversion v JOIN bulletin b"
        " ON b.id = v.bulletin_id WHERE v.recording_sha256 IS NOT NULL",
    ):
        pairs.update((str(sha), int(commune)) for sha, commune in db.execute(sa.text(query)))
    grants = sa.table(
        "mediagrant", sa.column("sha256", String()), sa.column("commune_id"), sa.column("granted_at", When())
    )
    now = datetime.now(UTC)
    rows = [{"sha256": sha, "commune_id": commune, "granted_at": now} for sha, commune in sorted(pairs)]
    if rows:
        op.bulk_insert(grants, rows)


def downgrade() -> None:
    op.drop_index("ix_mediagrant_commune_id", table_name="mediagrant")
    op.drop_table("mediagrant")
