"""Small key/value facts the installation keeps about itself (e.g. the generated secret key)."""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, insert, select, update

from townsquare.store.tables import app_state


def get_value(conn: Connection, key: str) -> str | None:
    return conn.execute(select(app_state.c.value).where(app_state.c.key == key)).scalar_one_or_none()


def get_or_create_secret(conn: Connection, key: str = "secret_key") -> str:
    value = get_value(conn, key)
    if value is None:
        value = secrets.token_urlsafe(48)
        conn.execute(insert(app_state).values(key=key, value=value))
    return value


def set_value(conn: Connection, key: str, value: str) -> None:
    if conn.execute(update(app_state).where(app_state.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(app_state).values(key=key, value=value))
