"""The bus journal's queries: accepted messages wait here until the pipeline has stored them.

One statement per call, so a webhook costs one insert and a processed batch one delete.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Connection, any_, bindparam, delete, func, insert, select

from townsquare.ids import new_id
from townsquare.model import without_nul
from townsquare.store.ingest import insert_dead_letter
from townsquare.store.tables import bus_journal


@dataclass(frozen=True)
class Entry:
    """One accepted message. `message` is `InboundMessage.model_dump_json()`."""

    channel: str
    external_id: str
    message: str


@dataclass(frozen=True)
class JournalRow:
    id: int
    channel: str
    external_id: str
    message: str


def append(conn: Connection, entries: Sequence[Entry], now: datetime) -> list[int]:
    """Write the entries and return their journal ids in the order given (one statement: SQLAlchemy
    sends the rows as one multi-row INSERT ... RETURNING)."""
    if not entries:
        return []
    rows = [
        {"channel": entry.channel, "external_id": entry.external_id, "message": entry.message, "accepted_at": now}
        for entry in entries
    ]
    statement = insert(bus_journal).returning(bus_journal.c.id, sort_by_parameter_order=True)
    return [int(journal_id) for journal_id in conn.execute(statement, rows).scalars()]


def remove(conn: Connection, ids: Sequence[int]) -> None:
    """Forget processed entries. A delivery holds at most `pipeline_batch_size` (<= 10,000) ids,
    well inside SQLite's 32,766 parameters; PostgreSQL gets them as one array parameter."""
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        condition = bus_journal.c.id == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
    else:
        condition = bus_journal.c.id.in_(list(ids))
    conn.execute(delete(bus_journal).where(condition))


def newest_id(conn: Connection) -> int:
    """The highest id in the journal, 0 when it is empty."""
    return int(conn.execute(select(func.coalesce(func.max(bus_journal.c.id), 0))).scalar_one())


def left_over(conn: Connection, *, after: int, upto: int, limit: int) -> list[JournalRow]:
    """Entries with `after < id <= upto`, oldest first: one page of what a previous process left."""
    rows = conn.execute(
        select(bus_journal.c.id, bus_journal.c.channel, bus_journal.c.external_id, bus_journal.c.message)
        .where(bus_journal.c.id > after, bus_journal.c.id <= upto)
        .order_by(bus_journal.c.id)
        .limit(limit)
    )
    return [JournalRow(int(row.id), row.channel, row.external_id, row.message) for row in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(bus_journal)).scalar_one())


def move_to_dead_letters(conn: Connection, row: JournalRow, error: str, now: datetime) -> None:
    """Keep an entry that no longer reads as a message in `dead_letters`, whole, and take it out
    of the journal, in the caller's transaction. The payload is the parsed JSON when it parses
    (an older model's message, to be mended and replayed), else the text as a JSON string; NUL
    is dropped from it, which PostgreSQL's jsonb refuses (the row would otherwise stay forever)."""
    payload: Any
    try:
        payload = json.loads(row.message)
    except ValueError:
        payload = row.message
    insert_dead_letter(
        conn,
        {
            "id": new_id(),
            "channel": row.channel,
            "external_id": row.external_id,
            "payload": without_nul(payload),
            "error": error[:2000],
            "created_at": now,
        },
    )
    conn.execute(delete(bus_journal).where(bus_journal.c.id == row.id))
