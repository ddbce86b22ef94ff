"""Contacts and their identities across networks; merging two contacts into one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, or_, select, update

from townsquare.clock import utcnow
from townsquare.store.tables import contacts, conversations, identities


def get_contact(conn: Connection, contact_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).first()
    if row is None:
        return None
    contact = dict(row._mapping)
    contact["identities"] = [
        dict(identity._mapping)
        for identity in conn.execute(
            select(identities).where(identities.c.contact_id == contact_id).order_by(identities.c.created_at)
        )
    ]
    return contact


def list_contacts(conn: Connection, *, query: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    statement = select(contacts).order_by(contacts.c.updated_at.desc()).limit(limit)
    if query:
        pattern = f"%{query.lower()}%"
        statement = statement.where(
            or_(
                func.lower(contacts.c.display_name).like(pattern),
                contacts.c.id.in_(select(identities.c.contact_id).where(func.lower(identities.c.handle).like(pattern))),
            )
        )
    return [dict(row._mapping) for row in conn.execute(statement)]


def update_contact(conn: Connection, contact_id: str, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    conn.execute(update(contacts).where(contacts.c.id == contact_id).values(**values))


def merge_contacts(conn: Connection, keep_id: str, merge_id: str) -> None:
    """Move every identity and conversation of `merge_id` to `keep_id`, then delete `merge_id`.
    Customer record fields of the kept contact win; missing ones are filled from the other."""
    keep, merged = get_contact(conn, keep_id), get_contact(conn, merge_id)
    if keep is None or merged is None:
        raise KeyError("contact not found")
    customer = {**(merged["customer"] or {}), **(keep["customer"] or {})}
    conn.execute(update(identities).where(identities.c.contact_id == merge_id).values(contact_id=keep_id))
    conn.execute(update(conversations).where(conversations.c.contact_id == merge_id).values(contact_id=keep_id))
    update_contact(conn, keep_id, customer=customer)
    conn.execute(delete(contacts).where(contacts.c.id == merge_id))
