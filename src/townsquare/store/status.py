"""What the public status page shows: published incidents with their updates, and components."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from townsquare.store import incidents as store


def public_incidents(conn: Connection, *, resolved: bool, limit: int = 50) -> list[dict[str, Any]]:
    statuses = ["resolved"] if resolved else list(store.OPEN_STATUSES)
    rows = store.list_incidents(conn, statuses=statuses, public_only=True, limit=limit)
    for row in rows:
        row["updates"] = list(reversed(store.updates_of(conn, row["id"])))
    return rows


def public_incident(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    incident = store.get_incident(conn, incident_id)
    if incident is None or not incident["public"] or incident["merged_into"]:
        return None
    incident["updates"] = list(reversed(store.updates_of(conn, incident_id)))
    return incident
