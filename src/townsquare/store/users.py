"""Agents, teams and API tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store.tables import api_tokens, teams, users

_PUBLIC_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.role,
    users.c.team_id,
    users.c.active,
    users.c.created_at,
)


def create_user(
    conn: Connection, *, email: str, name: str, role: str, password_hash: str | None, team_id: str | None = None
) -> str:
    user_id = new_id()
    conn.execute(
        insert(users).values(
            id=user_id,
            email=email.lower(),
            name=name,
            role=role,
            team_id=team_id,
            password_hash=password_hash,
            active=True,
            created_at=utcnow(),
        )
    )
    return user_id


def user_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    row = conn.execute(select(users).where(users.c.email == email.lower())).first()
    return dict(row._mapping) if row else None


def user_by_id(conn: Connection, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(*_PUBLIC_USER_COLUMNS).where(users.c.id == user_id)).first()
    return dict(row._mapping) if row else None


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(select(*_PUBLIC_USER_COLUMNS).order_by(users.c.name))]


def update_user(conn: Connection, user_id: str, **values: Any) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(**values))


def create_team(conn: Connection, name: str) -> str:
    team_id = new_id()
    conn.execute(insert(teams).values(id=team_id, name=name, created_at=utcnow()))
    return team_id


def list_teams(conn: Connection) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(select(teams).order_by(teams.c.name))]


def create_token(conn: Connection, *, user_id: str, name: str, token_hash: str) -> str:
    token_id = new_id()
    conn.execute(
        insert(api_tokens).values(id=token_id, user_id=user_id, name=name, token_hash=token_hash, created_at=utcnow())
    )
    return token_id


def user_by_token_hash(conn: Connection, token_hash: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(*_PUBLIC_USER_COLUMNS, api_tokens.c.id.label("token_id"))
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
    ).first()
    return dict(row._mapping) if row else None


def list_tokens(conn: Connection, user_id: str | None = None) -> list[dict[str, Any]]:
    query = select(
        api_tokens.c.id,
        api_tokens.c.user_id,
        api_tokens.c.name,
        api_tokens.c.created_at,
        api_tokens.c.last_used_at,
        api_tokens.c.revoked_at,
    ).order_by(api_tokens.c.created_at)
    if user_id:
        query = query.where(api_tokens.c.user_id == user_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def revoke_token(conn: Connection, token_id: str) -> bool:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)
