"""Hash chains over the audit log and the receipts, chain heads, signed checkpoints

Existing audit events and receipts are chained here, in id order, so that the first
``loa audit verify`` after the upgrade covers the whole history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

from controller.audit_chain import GENESIS, event_hash, receipt_hash

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime
BATCH = 2000

auditevent = sa.table(
    "auditevent",
    sa.column("id", sa.Integer),
    sa.column("at", When()),
    sa.column("actor_id", sa.Integer),
    sa.column("action", String),
    sa.column("object_type", String),
    sa.column("object_id", String),
    sa.column("detail", sa.Text),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", String),
    sa.column("hash", String),
)
receipt = sa.table(
    "receipt",
    sa.column("id", sa.Integer),
    sa.column("device_id", String),
    sa.column("seq", sa.Integer),
    sa.column("envelope", sa.Text),
    sa.column("received_at", When()),
    sa.column("chain_seq", sa.Integer),
    sa.column("prev_hash", String),
    sa.column("hash", String),
)


def upgrade() -> None:
    chainhead = op.create_table(
        "chainhead",
        sa.Column("name", String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "auditcheckpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", String(length=10), nullable=False),
        sa.Column("at", When(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auditcheckpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditcheckpoint_day"), ["day"], unique=False)
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", String(length=64), nullable=True))
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", String(length=64), nullable=True))

    bind = op.get_bind()
    audit_head = _chain(bind, auditevent, "seq", _event_hash)
    receipt_head = _chain(bind, receipt, "chain_seq", _receipt_hash)
    op.bulk_insert(
        chainhead,
        [
            {"name": "audit", "seq": audit_head[0], "hash": audit_head[1]},
            {"name": "receipt", "seq": receipt_head[0], "hash": receipt_head[1]},
        ],
    )

    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_auditevent_seq"), ["seq"], unique=True)
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.alter_column("chain_seq", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_receipt_chain_seq"), ["chain_seq"], unique=True)


def _event_hash(row: sa.Row[Any], seq: int, prev_hash: str) -> str:
    m = row._mapping
    return event_hash(
        seq=seq,
        at=m["at"],
        actor_id=m["actor_id"],
        action=m["action"],
        object_type=m["object_type"],
        object_id=m["object_id"],
        detail=m["detail"],
        prev_hash=prev_hash,
    )


def _receipt_hash(row: sa.Row[Any], seq: int, prev_hash: str) -> str:
    m = row._mapping
    return receipt_hash(
        seq=seq,
        device_id=m["device_id"],
        device_seq=m["seq"],
        envelope=m["envelope"],
        received_at=m["received_at"],
        prev_hash=prev_hash,
    )


def _chain(
    bind: sa.Connection,
    table: sa.TableClause,
    seq_column: str,
    hash_of: Callable[[sa.Row[Any], int, str], str],
) -> tuple[int, str]:
    """Chain the existing rows of a table in id order, a batch at a time; returns the head."""
    columns = [c for c in table.c if c.name not in (seq_column, "prev_hash", "hash")]
    set_chain = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            {
                seq_column: sa.bindparam("new_seq"),
                "prev_hash": sa.bindparam("new_prev"),
                "hash": sa.bindparam("new_hash"),
            }
        )
    )
    seq, head, last_id = 0, GENESIS, -1
    while True:
        rows = bind.execute(
            sa.select(*columns).where(table.c.id > last_id).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return seq, head
        updates = []
        for row in rows:
            seq += 1
            new = hash_of(row, seq, head)
            updates.append({"row_id": row.id, "new_seq": seq, "new_prev": head, "new_hash": new})
            head = new
        bind.execute(set_chain, updates)
        last_id = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_chain_seq"))
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("chain_seq")
    with op.batch_alter_table("auditevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditevent_seq"))
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    with op.batch_alter_table("auditcheckpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditcheckpoint_day"))
    op.drop_table("auditcheckpoint")
    op.drop_table("chainhead")
