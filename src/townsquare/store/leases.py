"""Work queues kept in tables (outbox replies, status posts): rows with `status = 'queued'`
and a `next_attempt_at`. Workers find due rows and claim one with a lease, so two workers never
attempt the same row at once and a worker that dies lets its lease run out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, or_, select, update


def _due(table: Table, now: datetime) -> ColumnElement[bool]:
    return or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now)


def due_rows(conn: Connection, table: Table, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(table)
        .where(table.c.status == "queued", _due(table, now))
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def claim_row(conn: Connection, table: Table, row_id: str, now: datetime, lease_until: datetime) -> bool:
    """Take a due row for one attempt; False when another worker took it first."""
    result = conn.execute(
        update(table)
        .where(table.c.id == row_id, table.c.status == "queued", _due(table, now))
        .values(next_attempt_at=lease_until)
    )
    return bool(result.rowcount)
