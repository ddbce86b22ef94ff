"""Reading and changing conversations, their messages, notes, tags and replies."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, or_, select, update

from townsquare.clock import as_utc, utcnow
from townsquare.ids import new_id
from townsquare.store.db import upsert_insert
from townsquare.store.search import matching_conversations
from townsquare.store.tables import (
    contacts,
    conversation_tags,
    conversations,
    identities,
    messages,
    notes,
    replies,
    users,
)


class InvalidCursor(ValueError):
    pass


def encode_cursor(last_message_at: datetime, conversation_id: str) -> str:
    raw = f"{as_utc(last_message_at).isoformat()}|{conversation_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, conversation_id = base64.urlsafe_b64decode(padded).decode().split("|", 1)
        return as_utc(datetime.fromisoformat(stamp)), conversation_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor("the cursor is not one this server handed out") from error


@dataclass
class ConversationFilter:
    statuses: list[str] = field(default_factory=list)
    channel: str | None = None
    assignee_id: str | None = None
    unassigned: bool = False
    team_id: str | None = None
    tag: str | None = None
    language: str | None = None
    priority: str | None = None
    contact_id: str | None = None
    text: str | None = None


_LIST_COLUMNS = (
    conversations,
    contacts.c.display_name.label("contact_name"),
    users.c.name.label("assignee_name"),
)


def list_conversations(
    conn: Connection, filters: ConversationFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest activity first; the cursor continues after the last row of the previous page."""
    query = (
        select(*_LIST_COLUMNS)
        .join(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(users, users.c.id == conversations.c.assignee_id)
    )
    conditions: list[ColumnElement[bool]] = []
    if filters.statuses:
        conditions.append(conversations.c.status.in_(filters.statuses))
    if filters.channel:
        conditions.append(conversations.c.channel == filters.channel)
    if filters.assignee_id:
        conditions.append(conversations.c.assignee_id == filters.assignee_id)
    if filters.unassigned:
        conditions.append(conversations.c.assignee_id.is_(None))
    if filters.team_id:
        conditions.append(conversations.c.team_id == filters.team_id)
    if filters.language:
        conditions.append(conversations.c.language == filters.language)
    if filters.priority:
        conditions.append(conversations.c.priority == filters.priority)
    if filters.contact_id:
        conditions.append(conversations.c.contact_id == filters.contact_id)
    if filters.tag:
        conditions.append(
            conversations.c.id.in_(
                select(conversation_tags.c.conversation_id).where(conversation_tags.c.tag == filters.tag)
            )
        )
    if filters.text:
        condition = matching_conversations(conn, filters.text)
        if condition is not None:
            conditions.append(condition)
    if cursor:
        stamp, last_id = decode_cursor(cursor)
        conditions.append(
            or_(
                conversations.c.last_message_at < stamp,
                and_(conversations.c.last_message_at == stamp, conversations.c.id < last_id),
            )
        )
    rows = conn.execute(
        query.where(*conditions)
        .order_by(conversations.c.last_message_at.desc(), conversations.c.id.desc())
        .limit(limit + 1)
    ).all()
    page = [dict(row._mapping) for row in rows[:limit]]
    _attach_tags(conn, page)
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last["last_message_at"], last["id"])
    return page, next_cursor


def _attach_tags(conn: Connection, rows: list[dict[str, Any]]) -> None:
    ids = [row["id"] for row in rows]
    tags: dict[str, list[str]] = {conversation_id: [] for conversation_id in ids}
    if ids:
        for tag_row in conn.execute(
            select(conversation_tags)
            .where(conversation_tags.c.conversation_id.in_(ids))
            .order_by(conversation_tags.c.tag)
        ):
            tags[tag_row.conversation_id].append(tag_row.tag)
    for row in rows:
        row["tags"] = tags[row["id"]]


def get_conversation(conn: Connection, conversation_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(*_LIST_COLUMNS)
        .join(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(users, users.c.id == conversations.c.assignee_id)
        .where(conversations.c.id == conversation_id)
    ).first()
    if row is None:
        return None
    result = [dict(row._mapping)]
    _attach_tags(conn, result)
    return result[0]


def messages_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(messages)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.created_at, messages.c.id)
    )
    return [dict(row._mapping) for row in rows]


def latest_inbound_message_id(conn: Connection, conversation_id: str) -> str | None:
    """The customer's newest message in a conversation: the one whose sentiment the conversation
    shows (the customer's mood now)."""
    row = conn.execute(
        select(messages.c.id)
        .where(messages.c.conversation_id == conversation_id, messages.c.direction == "inbound")
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(1)
    ).first()
    return row.id if row else None


def message_by_id(conn: Connection, message_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
    return dict(row._mapping) if row else None


def notes_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(notes, users.c.name.label("author_name"))
        .outerjoin(users, users.c.id == notes.c.author_id)
        .where(notes.c.conversation_id == conversation_id)
        .order_by(notes.c.created_at)
    )
    return [dict(row._mapping) for row in rows]


def replies_of(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(replies, users.c.name.label("author_name"))
        .outerjoin(users, users.c.id == replies.c.author_id)
        .where(replies.c.conversation_id == conversation_id)
        .order_by(replies.c.created_at)
    )
    return [dict(row._mapping) for row in rows]


def update_conversation(conn: Connection, conversation_id: str, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(**values))


def add_tag(conn: Connection, conversation_id: str, tag: str) -> None:
    conn.execute(
        upsert_insert(conn, conversation_tags).values(conversation_id=conversation_id, tag=tag).on_conflict_do_nothing()
    )


def remove_tag(conn: Connection, conversation_id: str, tag: str) -> None:
    conn.execute(
        delete(conversation_tags).where(
            conversation_tags.c.conversation_id == conversation_id, conversation_tags.c.tag == tag
        )
    )


def add_note(conn: Connection, conversation_id: str, author_id: str | None, body: str) -> str:
    note_id = new_id()
    conn.execute(
        insert(notes).values(
            id=note_id, conversation_id=conversation_id, author_id=author_id, body=body, created_at=utcnow()
        )
    )
    return note_id


def reply_target(conn: Connection, conversation_id: str, message_id: str | None) -> dict[str, Any] | None:
    """The message a reply answers (given, or the newest inbound one) and its author's identity."""
    query = (
        select(
            messages,
            identities.c.external_id.label("author_external_id"),
            identities.c.handle.label("identity_handle"),
            identities.c.display_name.label("identity_name"),
        )
        .outerjoin(identities, identities.c.id == messages.c.identity_id)
        .where(messages.c.conversation_id == conversation_id)
    )
    if message_id:
        query = query.where(messages.c.id == message_id)
    else:
        query = query.where(messages.c.direction == "inbound").order_by(messages.c.created_at.desc()).limit(1)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def resolve_quiet_before(conn: Connection, before: datetime) -> int:
    """Resolve every unresolved conversation whose last message is older than `before` (history
    imports, where the past was handled elsewhere). Returns how many."""
    now = utcnow()
    result = conn.execute(
        update(conversations)
        .where(conversations.c.status != "resolved", conversations.c.last_message_at < before)
        .values(status="resolved", resolved_at=now, updated_at=now)
    )
    return int(result.rowcount)
