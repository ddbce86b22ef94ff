"""What the outbox writes when a reply is delivered: the reply's outcome and the message it became."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store.ingest import refresh_conversation_counts
from townsquare.store.tables import conversations, messages, replies


def record_delivery(
    conn: Connection,
    reply: dict[str, Any],
    conversation: dict[str, Any],
    *,
    external_id: str,
    url: str | None,
    sent_at: datetime,
    author_name: str,
    author_handle: str,
) -> str:
    """Mark the reply sent and store it as an outbound message of its conversation, so the thread
    shows it and the customer's answer to it threads back here."""
    now = utcnow()
    message_id = new_id()
    conn.execute(
        insert(messages).values(
            id=message_id,
            conversation_id=conversation["id"],
            channel=conversation["channel"],
            account=conversation["account"],
            external_id=external_id,
            direction="outbound",
            visibility=reply["visibility"],
            identity_id=None,
            author_name=author_name,
            author_handle=author_handle,
            text=reply["text"],
            language=None,
            in_reply_to=reply.get("in_reply_to_external_id"),
            thread_root=None,
            url=url,
            reach=None,
            created_at=sent_at,
            received_at=now,
            raw={"reply_id": reply["id"]},
        )
    )
    conn.execute(
        update(replies)
        .where(replies.c.id == reply["id"])
        .values(
            status="sent",
            external_id=external_id,
            url=url,
            sent_at=sent_at,
            message_id=message_id,
            attempts=replies.c.attempts + 1,
            last_error=None,
            next_attempt_at=None,
        )
    )
    values: dict[str, Any] = {"updated_at": now}
    if conversation["first_responded_at"] is None:
        values["first_responded_at"] = sent_at
    if conversation["status"] == "new":
        values["status"] = "open"
    values["has_public" if reply["visibility"] == "public" else "has_private"] = True
    conn.execute(update(conversations).where(conversations.c.id == conversation["id"]).values(**values))
    refresh_conversation_counts(conn, [conversation["id"]])
    return message_id
