"""Bulk reads and writes the pipeline needs: one statement per batch, never one per message."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from townsquare.clock import as_utc
from townsquare.store.tables import (
    contacts,
    conversations,
    dead_letters,
    identities,
    messages,
)

# SQLite allows 32,766 bound parameters; PostgreSQL 65,535. Chunks keep IN-lists well inside both.
_CHUNK = 900

ChannelKey = tuple[str, str]


def _chunks(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def _one_of(conn: Connection, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """`column IN (values)`. On PostgreSQL as `= ANY(array)` with one array parameter: a long
    list of separate parameters is compared row by row once psycopg prepares the statement,
    where an array is looked up through the index."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(list(values))  # type: ignore[no-any-return]


def _by_first(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group (channel, id) pairs by channel: `channel = ? AND id IN (...)` uses the unique index
    on both databases, where a row-value IN list does not on PostgreSQL."""
    groups: dict[str, list[str]] = {}
    for first, second in keys:
        groups.setdefault(first, []).append(second)
    return groups


def existing_message_keys(conn: Connection, keys: Sequence[ChannelKey]) -> set[ChannelKey]:
    found: set[ChannelKey] = set()
    for channel, external_ids in _by_first(keys).items():
        for chunk in _chunks(external_ids):
            rows = conn.execute(
                select(messages.c.external_id).where(
                    messages.c.channel == channel, _one_of(conn, messages.c.external_id, chunk)
                )
            )
            found.update((channel, external_id) for external_id in rows.scalars())
    return found


@dataclass(frozen=True)
class IdentityRow:
    id: str
    contact_id: str
    reach: int | None = None


def identities_by_key(conn: Connection, keys: Sequence[ChannelKey]) -> dict[ChannelKey, IdentityRow]:
    found: dict[ChannelKey, IdentityRow] = {}
    for channel, external_ids in _by_first(keys).items():
        for chunk in _chunks(external_ids):
            rows = conn.execute(
                select(identities.c.id, identities.c.contact_id, identities.c.external_id, identities.c.reach).where(
                    identities.c.channel == channel, _one_of(conn, identities.c.external_id, chunk)
                )
            )
            for row in rows:
                found[(channel, row.external_id)] = IdentityRow(row.id, row.contact_id, row.reach)
    return found


def insert_contacts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(contacts), rows)


def insert_identities(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(identities), rows)


def update_identity_reach(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Followers change: keep the newest figure the network told us (rows: `_id`, `reach`)."""
    if rows:
        conn.execute(
            update(identities).where(identities.c.id == bindparam("_id")).values(reach=bindparam("_reach")),
            [{"_id": row["_id"], "_reach": row["reach"]} for row in rows],
        )


@dataclass(frozen=True)
class ThreadTarget:
    conversation_id: str
    status: str
    resolved_at: datetime | None
    contact_id: str
    last_message_at: datetime


def _target(row: Any) -> ThreadTarget:
    return ThreadTarget(
        conversation_id=row.id,
        status=row.status,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at else None,
        contact_id=row.contact_id,
        last_message_at=as_utc(row.last_message_at),
    )


_TARGET_COLUMNS = (
    conversations.c.id,
    conversations.c.status,
    conversations.c.resolved_at,
    conversations.c.contact_id,
    conversations.c.last_message_at,
)


def conversations_of_messages(conn: Connection, keys: Sequence[ChannelKey]) -> dict[ChannelKey, ThreadTarget]:
    """The conversation each (channel, external id) belongs to, for threading replies."""
    found: dict[ChannelKey, ThreadTarget] = {}
    for channel, external_ids in _by_first(keys).items():
        for chunk in _chunks(external_ids):
            rows = conn.execute(
                select(messages.c.external_id, *_TARGET_COLUMNS)
                .join(conversations, conversations.c.id == messages.c.conversation_id)
                .where(messages.c.channel == channel, _one_of(conn, messages.c.external_id, chunk))
            )
            for row in rows:
                found[(channel, row.external_id)] = _target(row)
    return found


def urgency_of_conversations(conn: Connection, conversation_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What a later post may escalate: each conversation's priority, urgency and SLA times."""
    found: dict[str, dict[str, Any]] = {}
    columns = (
        conversations.c.id,
        conversations.c.priority,
        conversations.c.urgency,
        conversations.c.first_response_due_at,
        conversations.c.resolution_due_at,
        conversations.c.first_responded_at,
        conversations.c.status,
    )
    for chunk in _chunks(list(conversation_ids)):
        for row in conn.execute(select(*columns).where(_one_of(conn, conversations.c.id, chunk))):
            found[row.id] = dict(row._mapping)
    return found


def latest_conversations_of_contacts(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], ThreadTarget]:
    """Newest conversation per (contact id, channel): where a customer's next message goes."""
    found: dict[tuple[str, str], ThreadTarget] = {}
    by_channel = _by_first((channel, contact_id) for contact_id, channel in keys)
    for channel, contact_ids in by_channel.items():
        for chunk in _chunks(contact_ids):
            found.update(_latest_of_contacts(conn, channel, chunk))
    return found


def _latest_of_contacts(
    conn: Connection, channel: str, contact_ids: Sequence[str]
) -> dict[tuple[str, str], ThreadTarget]:
    newest = (
        select(conversations.c.contact_id.label("cid"), func.max(conversations.c.last_message_at).label("newest"))
        .where(conversations.c.channel == channel, _one_of(conn, conversations.c.contact_id, contact_ids))
        .group_by(conversations.c.contact_id)
        .subquery()
    )
    rows = conn.execute(
        select(*_TARGET_COLUMNS).join(
            newest,
            and_(
                conversations.c.channel == channel,
                conversations.c.contact_id == newest.c.cid,
                conversations.c.last_message_at == newest.c.newest,
            ),
        )
    )
    return {(row.contact_id, channel): _target(row) for row in rows}


def insert_conversations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(conversations), rows)


def insert_messages(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(messages), rows)


def apply_conversation_changes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Existing conversations that got new messages. Each row: `_id` and the new column values.

    Rows are grouped by which columns they set, so each group is one executemany.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        columns = tuple(sorted(key for key in row if key != "_id"))
        groups.setdefault(columns, []).append(row)
    for columns, group in groups.items():
        # Bind names must differ from column names in an UPDATE's SET clause.
        values: dict[str, Any] = {column: bindparam(f"_{column}") for column in columns}
        params = [{f"_{key}" if key != "_id" else key: value for key, value in row.items()} for row in group]
        conn.execute(update(conversations).where(conversations.c.id == bindparam("_id")).values(**values), params)


def add_activity(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """New messages in existing conversations, one statement for the batch. Each row: `_id`,
    `_n` (messages added), `_last` (newest message), `_inbound` (newest customer message or
    None), `_mood` (that message's sentiment or None), `_public`/`_private` (kinds added), `_now`.
    Increments and maxima are computed by the database, so concurrent workers cannot overwrite
    each other. The conversation's sentiment becomes `_mood` only if that message is at least as
    new as every customer message stored before (an imported old post does not change it)."""
    if not rows:
        return
    c = conversations.c
    last, inbound, mood = (
        bindparam("_last", type_=c.last_message_at.type),
        bindparam("_inbound", type_=c.last_inbound_at.type),
        bindparam("_mood", type_=c.sentiment.type),
    )
    newest_inbound = or_(c.last_inbound_at.is_(None), inbound >= c.last_inbound_at)
    conn.execute(
        update(conversations)
        .where(c.id == bindparam("_id"))
        .values(
            message_count=c.message_count + bindparam("_n"),
            last_message_at=case((last > c.last_message_at, last), else_=c.last_message_at),
            last_inbound_at=case(
                (and_(inbound.is_not(None), or_(c.last_inbound_at.is_(None), inbound > c.last_inbound_at)), inbound),
                else_=c.last_inbound_at,
            ),
            sentiment=case((and_(mood.is_not(None), inbound.is_not(None), newest_inbound), mood), else_=c.sentiment),
            has_public=or_(c.has_public, bindparam("_public")),
            has_private=or_(c.has_private, bindparam("_private")),
            updated_at=bindparam("_now"),
        ),
        rows,
    )


def insert_dead_letter(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(dead_letters), [row])


def refresh_conversation_counts(conn: Connection, conversation_ids: Sequence[str]) -> None:
    """Message count and newest message time, recomputed from the messages themselves so
    concurrent workers can never leave them wrong."""
    for chunk in _chunks(list(conversation_ids)):
        count = select(func.count()).where(messages.c.conversation_id == conversations.c.id).scalar_subquery()
        newest = (
            select(func.max(messages.c.created_at))
            .where(messages.c.conversation_id == conversations.c.id)
            .scalar_subquery()
        )
        conn.execute(
            update(conversations)
            .where(_one_of(conn, conversations.c.id, chunk))
            .values(message_count=count, last_message_at=newest)
        )
