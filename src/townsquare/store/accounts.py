"""Connected network accounts (channel accounts): their settings, state and stream cursors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store.tables import channel_accounts


def team_of_accounts(conn: Connection) -> dict[tuple[str, str], str | None]:
    rows = conn.execute(select(channel_accounts.c.channel, channel_accounts.c.name, channel_accounts.c.team_id))
    return {(row.channel, row.name): row.team_id for row in rows}


def list_accounts(conn: Connection, channel: str | None = None) -> list[dict[str, Any]]:
    query = select(channel_accounts).order_by(channel_accounts.c.channel, channel_accounts.c.name)
    if channel:
        query = query.where(channel_accounts.c.channel == channel)
    return [dict(row._mapping) for row in conn.execute(query)]


def get_account(conn: Connection, channel: str, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(channel_accounts).where(channel_accounts.c.channel == channel, channel_accounts.c.name == name)
    ).first()
    return dict(row._mapping) if row else None


def upsert_account(conn: Connection, channel: str, name: str, settings: dict[str, Any]) -> str:
    existing = get_account(conn, channel, name)
    if existing:
        conn.execute(
            update(channel_accounts)
            .where(channel_accounts.c.id == existing["id"])
            .values(settings=settings, status="active", status_detail=None)
        )
        return str(existing["id"])
    account_id = new_id()
    conn.execute(
        insert(channel_accounts).values(
            id=account_id, channel=channel, name=name, settings=settings, status="active", created_at=utcnow()
        )
    )
    return account_id


def set_account_state(
    conn: Connection,
    account_id: str,
    *,
    status: str | None = None,
    detail: str | None = None,
    cursor: str | None = None,
) -> None:
    values: dict[str, Any] = {}
    if status is not None:
        values["status"], values["status_detail"] = status, detail
    if cursor is not None:
        values["cursor"] = cursor
    if values:
        conn.execute(update(channel_accounts).where(channel_accounts.c.id == account_id).values(**values))
