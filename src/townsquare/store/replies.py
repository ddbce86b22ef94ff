"""The outbox's table: replies waiting for delivery, their attempts and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store import leases
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
    return leases.due_rows(conn, replies, now, limit)


def get_reply(conn: Connection, reply_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
    return dict(row._mapping) if row else None


def update_reply(conn: Connection, reply_id: str, **values: Any) -> None:
    conn.execute(update(replies).where(replies.c.id == reply_id).values(**values))


def claim(conn: Connection, reply_id: str, now: datetime, lease_until: datetime) -> bool:
    """Take a due reply for one delivery attempt (see `leases`)."""
    return leases.claim_row(conn, replies, reply_id, now, lease_until)


def delete_reply(conn: Connection, reply_id: str) -> None:
    conn.execute(delete(replies).where(replies.c.id == reply_id))
