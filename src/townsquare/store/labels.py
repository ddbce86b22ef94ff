"""Agents' corrections of triage (`message_labels`): read, write, and walk them for export."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from townsquare.store.db import upsert_insert
from townsquare.store.tables import message_labels, messages, users

LABEL_FIELDS: tuple[str, ...] = ("sentiment", "intents", "spam", "needs_reply")


def save_label(conn: Connection, message_id: str, label: dict[str, Any], user_id: str | None, at: datetime) -> None:
    """Write the fields given in ``label`` (the others keep an earlier correction's value)."""
    values = {name: label[name] for name in LABEL_FIELDS if name in label}
    statement = upsert_insert(conn, message_labels).values(
        message_id=message_id, labelled_by=user_id, labelled_at=at, **values
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[message_labels.c.message_id],
            set_={**values, "labelled_by": user_id, "labelled_at": at},
        )
    )


def delete_label(conn: Connection, message_id: str) -> None:
    conn.execute(delete(message_labels).where(message_labels.c.message_id == message_id))


def label_of(conn: Connection, message_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(message_labels).where(message_labels.c.message_id == message_id)).first()
    return dict(row._mapping) if row else None


def labels_of(conn: Connection, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The labels of these messages, with the labelling agent's name, by message id."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(message_labels, users.c.name.label("labelled_by_name"))
        .outerjoin(users, users.c.id == message_labels.c.labelled_by)
        .where(message_labels.c.message_id.in_(list(message_ids)))
    )
    return {row.message_id: dict(row._mapping) for row in rows}


def _as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, a naive one read as UTC: stored times are UTC, and SQLite compares them as
    text, so an offset must not reach the query."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def labelled_messages(
    conn: Connection, page_size: int = 500, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """Every labelled message (labelled at or after ``since``) with its text, language, network and
    triage's stored answer, oldest label first, in pages (keyset on (labelled_at, message_id)) so
    that a large history is never loaded at once."""
    after: tuple[datetime, str] | None = None
    while True:
        query = (
            select(
                message_labels,
                messages.c.text,
                messages.c.language,
                messages.c.channel,
                messages.c.triage,
            )
            .join(messages, messages.c.id == message_labels.c.message_id)
            .order_by(message_labels.c.labelled_at, message_labels.c.message_id)
            .limit(page_size)
        )
        if since is not None:
            query = query.where(message_labels.c.labelled_at >= _as_utc(since))
        if after is not None:
            at, message_id = after
            query = query.where(
                (message_labels.c.labelled_at > at)
                | ((message_labels.c.labelled_at == at) & (message_labels.c.message_id > message_id))
            )
        rows = [dict(row._mapping) for row in conn.execute(query)]
        yield from rows
        if len(rows) < page_size:
            return
        after = (rows[-1]["labelled_at"], rows[-1]["message_id"])
