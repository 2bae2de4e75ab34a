"""Adding to rollup rows in one statement per batch: INSERT … ON CONFLICT DO UPDATE, on SQLite and
PostgreSQL alike (both speak it; SQLAlchemy has a dialect construct for each)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from controller.models import AsRunCursor

CHUNK = 500  # rows per statement


def add(
    session: Session,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    sums: Sequence[str] = (),
    maxima: Sequence[str] = (),
    latest: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where a row with the same ``keys`` exists, add the ``sums`` columns to it,
    keep the larger of the ``maxima`` columns and take the new ``latest`` ones (with none of these,
    leave it). Every row must have the same columns."""
    if not rows:
        return
    table: Table = model.__table__  # type: ignore[attr-defined]
    on_postgres = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert(table) if on_postgres else sqlite.insert(table)
    larger = func.greatest if on_postgres else func.max  # SQLite's two-argument max() is scalar
    changes = {c: table.c[c] + insert.excluded[c] for c in sums}
    changes.update({c: larger(table.c[c], insert.excluded[c]) for c in maxima})
    changes.update({c: insert.excluded[c] for c in latest})
    index = [table.c[k] for k in keys]
    statement = (
        insert.on_conflict_do_update(index_elements=index, set_=changes)
        if changes
        else insert.on_conflict_do_nothing(index_elements=index)
    )
    for i in range(0, len(rows), CHUNK):
        session.connection().execute(statement, list(rows[i : i + CHUNK]))


def lock(session: Session, name: str = "fold") -> AsRunCursor:
    """Take (creating it if needed) a cursor row's lock for this transaction; returns the row."""
    statement = update(AsRunCursor).where(col(AsRunCursor.name) == name).values(position=AsRunCursor.position)
    if session.connection().execute(statement).rowcount == 0:
        add(session, AsRunCursor, [{"name": name, "position": 0, "at": None}], keys=["name"])
        session.connection().execute(statement)
    cursor = session.get(AsRunCursor, name, populate_existing=True)
    assert cursor is not None
    return cursor
