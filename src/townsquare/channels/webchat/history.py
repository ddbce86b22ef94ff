"""A visitor's own transcript, read through the store's query functions.

Only what is this visitor's: their own messages, and the replies that answered one of them.
Agents may merge contacts (the same person on two browsers, or by mistake two people): a visitor
then still never sees another identity's messages, nor replies that were sent to it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from townsquare.channels.webchat.inbound import CHANNEL
from townsquare.channels.webchat.payloads import TranscriptMessage
from townsquare.clock import as_utc
from townsquare.store import conversations as convs
from townsquare.store.ingest import identities_by_key

MAX_CONVERSATIONS = 20
MAX_MESSAGES = 200


def transcript(
    conn: Connection, account: str, visitor_external_id: str, *, team_name: str, limit: int = MAX_MESSAGES
) -> list[TranscriptMessage]:
    identity = identities_by_key(conn, [(CHANNEL, visitor_external_id)]).get((CHANNEL, visitor_external_id))
    if identity is None:
        return []  # Nothing stored yet (or the first message is still in the pipeline).
    found, _ = convs.list_conversations(
        conn, convs.ConversationFilter(channel=CHANNEL, contact_id=identity.contact_id), limit=MAX_CONVERSATIONS
    )
    lines: list[dict[str, Any]] = []
    for conversation in found:
        if conversation["account"] != account:
            continue
        rows = convs.messages_of(conn, conversation["id"])
        own = [row for row in rows if row["direction"] == "inbound" and row["identity_id"] == identity.id]
        answered = {row["external_id"] for row in own}
        lines.extend(own)
        lines.extend(
            row
            for row in rows
            if row["direction"] == "outbound" and row["visibility"] == "private" and row["in_reply_to"] in answered
        )
    lines.sort(key=lambda row: (as_utc(row["created_at"]), row["id"]))
    return [
        TranscriptMessage(
            id=row["external_id"],
            direction="inbound" if row["direction"] == "inbound" else "outbound",
            text=row["text"],
            author=row["author_name"] if row["direction"] == "inbound" else team_name,
            created_at=as_utc(row["created_at"]),
        )
        for row in lines[-limit:]
    ]
