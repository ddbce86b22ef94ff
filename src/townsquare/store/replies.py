"""The outbox's table: replies waiting for delivery, their attempts and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store.tables import replies


def queue_reply(
    conn: Connection,
    *,
    conversation_id: str,
    author_id: str | None,
    in_reply_to_message_id: str | None,
    visibility: str,
    text: str,
    status: str = "queued",
    incident_update_id: str | None = None,
) -> str:
    reply_id = new_id()
    now = utcnow()
    conn.execute(
        insert(replies).values(
            id=reply_id,
            conversation_id=conversation_id,
            author_id=author_id,
            in_reply_to_message_id=in_reply_to_message_id,
            visibility=visibility,
            text=text,
            status=status,
            attempts=0,
            next_attempt_at=now if status == "queued" else None,
            incident_update_id=incident_update_id,
            created_at=now,
        )
    )
    return reply_id


def due_replies(conn: Connection, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(replies)
        .where(replies.c.status == "queued", or_(replies.c.next_attempt_at.is_(None), replies.c.next_attempt_at <= now))
        .order_by(replies.c.next_attempt_at, replies.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def get_reply(conn: Connection, reply_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
    return dict(row._mapping) if row else None


def update_reply(conn: Connection, reply_id: str, **values: Any) -> None:
    conn.execute(update(replies).where(replies.c.id == reply_id).values(**values))


def claim(conn: Connection, reply_id: str, now: datetime, lease_until: datetime) -> bool:
    """Take a due reply for one delivery attempt. Another worker's claim makes this one fail;
    a worker that dies mid-attempt lets the lease run out and the reply becomes due again."""
    result = conn.execute(
        update(replies)
        .where(
            replies.c.id == reply_id,
            replies.c.status == "queued",
            or_(replies.c.next_attempt_at.is_(None), replies.c.next_attempt_at <= now),
        )
        .values(next_attempt_at=lease_until)
    )
    return bool(result.rowcount)


def delete_reply(conn: Connection, reply_id: str) -> None:
    conn.execute(delete(replies).where(replies.c.id == reply_id))
