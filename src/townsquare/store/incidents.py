"""Incidents, the conversations grouped in them, their public updates, status page components and
the status posts that carry updates to the company's own accounts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store import leases, state
from townsquare.store.db import upsert_insert
from townsquare.store.tables import (
    contacts,
    conversations,
    incident_components,
    incident_conversations,
    incident_updates,
    incidents,
    messages,
    replies,
    status_components,
    status_posts,
)

OPEN_STATUSES = ("suspected", "confirmed", "monitoring")
# What the agent app shows about the incident detector without parsing its whole saved state.
DETECTOR_SUMMARY_KEY = "incident_detector_summary"


def save_detector_summary(conn: Connection, history_hours: float) -> None:
    state.set_value(conn, DETECTOR_SUMMARY_KEY, json.dumps({"history_hours": round(history_hours, 2)}))


def detector_learned_hours(conn: Connection) -> float | None:
    """Hours of traffic the saved detector has learned from; None before its first save."""
    saved = state.get_value(conn, DETECTOR_SUMMARY_KEY)
    if not saved:
        return None
    try:
        return float(json.loads(saved)["history_hours"])
    except (ValueError, KeyError, TypeError):
        return None


def create_incident(conn: Connection, **values: Any) -> str:
    incident_id = new_id()
    now = utcnow()
    row = {
        "id": incident_id,
        "status": "suspected",
        "impact": "minor",
        "public": False,
        "terms": [],
        "languages": [],
        "channels": [],
        "locations": [],
        "created_at": now,
        "updated_at": now,
        **values,
    }
    row.setdefault("detected_at", now)
    row.setdefault("first_message_at", row["detected_at"])
    conn.execute(insert(incidents).values(**row))
    return incident_id


def get_incident(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    if row is None:
        return None
    incident = dict(row._mapping)
    incident["conversation_count"] = conn.execute(
        select(func.count()).where(incident_conversations.c.incident_id == incident_id)
    ).scalar_one()
    incident["component_ids"] = list(
        conn.execute(
            select(incident_components.c.component_id).where(incident_components.c.incident_id == incident_id)
        ).scalars()
    )
    return incident


def incident_by_key(conn: Connection, detector_key: str) -> dict[str, Any] | None:
    row = conn.execute(select(incidents.c.id).where(incidents.c.detector_key == detector_key)).first()
    return get_incident(conn, row.id) if row else None


def list_incidents(
    conn: Connection, *, statuses: Sequence[str] = (), public_only: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    count = (
        select(func.count())
        .where(incident_conversations.c.incident_id == incidents.c.id)
        .correlate(incidents)
        .scalar_subquery()
        .label("conversation_count")
    )
    query = select(incidents, count).where(incidents.c.merged_into.is_(None))
    if statuses:
        query = query.where(incidents.c.status.in_(statuses))
    if public_only:
        query = query.where(incidents.c.public.is_(True))
    rows = conn.execute(query.order_by(incidents.c.detected_at.desc(), incidents.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


def update_incident(conn: Connection, incident_id: str, **values: Any) -> None:
    values.setdefault("updated_at", utcnow())
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))


def add_conversations(conn: Connection, incident_id: str, conversation_ids: Sequence[str], added_by: str) -> list[str]:
    """Group conversations into the incident; returns the ones that were not in it yet."""
    if not conversation_ids:
        return []
    present = set(
        conn.execute(
            select(incident_conversations.c.conversation_id).where(
                incident_conversations.c.incident_id == incident_id,
                incident_conversations.c.conversation_id.in_(list(conversation_ids)),
            )
        ).scalars()
    )
    new = [cid for cid in dict.fromkeys(conversation_ids) if cid not in present]
    if new:
        now = utcnow()
        conn.execute(
            insert(incident_conversations),
            [
                {"incident_id": incident_id, "conversation_id": cid, "added_by": added_by, "added_at": now}
                for cid in new
            ],
        )
    return new


def remove_conversations(conn: Connection, incident_id: str, conversation_ids: Sequence[str]) -> None:
    conn.execute(
        delete(incident_conversations).where(
            incident_conversations.c.incident_id == incident_id,
            incident_conversations.c.conversation_id.in_(list(conversation_ids)),
        )
    )


def move_conversations(
    conn: Connection, source_id: str, target_id: str, conversation_ids: Sequence[str] | None
) -> None:
    """Move some (or all) conversations of one incident to another, keeping who added them."""
    query = select(incident_conversations).where(incident_conversations.c.incident_id == source_id)
    if conversation_ids is not None:
        query = query.where(incident_conversations.c.conversation_id.in_(list(conversation_ids)))
    rows = [dict(row._mapping) for row in conn.execute(query)]
    ids = [row["conversation_id"] for row in rows]
    remove_conversations(conn, source_id, ids)
    already = set(
        conn.execute(
            select(incident_conversations.c.conversation_id).where(
                incident_conversations.c.incident_id == target_id, incident_conversations.c.conversation_id.in_(ids)
            )
        ).scalars()
    )
    moved = [{**row, "incident_id": target_id} for row in rows if row["conversation_id"] not in already]
    if moved:
        conn.execute(insert(incident_conversations), moved)


def conversation_ids_of_messages(conn: Connection, message_ids: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(select(messages.c.id, messages.c.conversation_id).where(messages.c.id.in_(list(message_ids))))
    return {row.id: row.conversation_id for row in rows}


def open_incident_of_conversations(conn: Connection, conversation_ids: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        select(incident_conversations.c.conversation_id, incidents.c.id)
        .join(incidents, incidents.c.id == incident_conversations.c.incident_id)
        .where(
            incident_conversations.c.conversation_id.in_(list(conversation_ids)),
            incidents.c.status.in_(OPEN_STATUSES),
        )
    )
    return {row.conversation_id: row.id for row in rows}


def conversations_of_incident(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    """Each grouped conversation with what a mass reply needs: language, who, and whether the
    customer's newest message was public or private."""
    newest_inbound = (
        select(messages.c.conversation_id, func.max(messages.c.created_at).label("newest"))
        .where(messages.c.direction == "inbound")
        .group_by(messages.c.conversation_id)
        .subquery()
    )
    last = (
        select(
            messages.c.conversation_id,
            messages.c.id.label("message_id"),
            messages.c.visibility,
            messages.c.author_handle,
            messages.c.author_name,
            messages.c.language.label("message_language"),
        )
        .join(
            newest_inbound,
            (newest_inbound.c.conversation_id == messages.c.conversation_id)
            & (newest_inbound.c.newest == messages.c.created_at),
        )
        .where(messages.c.direction == "inbound")
        .subquery()
    )
    rows = conn.execute(
        select(
            conversations.c.id,
            conversations.c.channel,
            conversations.c.account,
            conversations.c.status,
            conversations.c.language,
            conversations.c.subject,
            contacts.c.display_name.label("contact_name"),
            incident_conversations.c.added_by,
            incident_conversations.c.added_at,
            last.c.message_id,
            last.c.visibility,
            last.c.author_handle,
            last.c.author_name,
            last.c.message_language,
        )
        .join(incident_conversations, incident_conversations.c.conversation_id == conversations.c.id)
        .join(contacts, contacts.c.id == conversations.c.contact_id)
        .outerjoin(last, last.c.conversation_id == conversations.c.id)
        .where(incident_conversations.c.incident_id == incident_id)
        .order_by(incident_conversations.c.added_at, conversations.c.id)
    )
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row.id, dict(row._mapping))  # ties on the newest time: keep one
    return list(seen.values())


def add_update(
    conn: Connection,
    incident_id: str,
    *,
    status: str,
    body: str,
    customer_templates: dict[str, str],
    author_id: str | None,
) -> str:
    update_id = new_id()
    conn.execute(
        insert(incident_updates).values(
            id=update_id,
            incident_id=incident_id,
            status=status,
            body=body,
            customer_templates=customer_templates,
            author_id=author_id,
            created_at=utcnow(),
        )
    )
    return update_id


def updates_of(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(incident_updates)
        .where(incident_updates.c.incident_id == incident_id)
        .order_by(incident_updates.c.created_at, incident_updates.c.id)
    )
    return [dict(row._mapping) for row in rows]


def latest_update(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    updates = updates_of(conn, incident_id)
    return updates[-1] if updates else None


def delivery_status(conn: Connection, incident_id: str) -> dict[str, dict[str, int]]:
    """Per update: how many of its customer replies are queued, sent or failed."""
    rows = conn.execute(
        select(replies.c.incident_update_id, replies.c.status, func.count().label("n"))
        .join(incident_updates, incident_updates.c.id == replies.c.incident_update_id)
        .where(incident_updates.c.incident_id == incident_id)
        .group_by(replies.c.incident_update_id, replies.c.status)
    )
    result: dict[str, dict[str, int]] = {}
    for row in rows:
        result.setdefault(row.incident_update_id, {})[row.status] = row.n
    return result


def replied_conversations(conn: Connection, update_id: str) -> set[str]:
    return set(
        conn.execute(select(replies.c.conversation_id).where(replies.c.incident_update_id == update_id)).scalars()
    )


# -- components ------------------------------------------------------------------------------


def list_components(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(status_components).order_by(status_components.c.position, status_components.c.name))
    return [dict(row._mapping) for row in rows]


def create_component(conn: Connection, name: str, description: str, position: int) -> str:
    component_id = new_id()
    conn.execute(
        insert(status_components).values(
            id=component_id,
            name=name,
            description=description,
            status="operational",
            position=position,
            updated_at=utcnow(),
        )
    )
    return component_id


def set_component_status(conn: Connection, component_id: str, status: str) -> None:
    conn.execute(
        update(status_components)
        .where(status_components.c.id == component_id)
        .values(status=status, updated_at=utcnow())
    )


def link_components(conn: Connection, incident_id: str, component_ids: Sequence[str]) -> None:
    for component_id in component_ids:
        conn.execute(
            upsert_insert(conn, incident_components)
            .values(incident_id=incident_id, component_id=component_id)
            .on_conflict_do_nothing()
        )


# -- status posts (the company's own accounts) -----------------------------------------------


def queue_status_post(conn: Connection, update_id: str, channel: str, account: str, text: str) -> str:
    post_id = new_id()
    now = utcnow()
    conn.execute(
        insert(status_posts).values(
            id=post_id,
            incident_update_id=update_id,
            channel=channel,
            account=account,
            text=text,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return post_id


def due_status_posts(conn: Connection, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    return leases.due_rows(conn, status_posts, now, limit)


def claim_status_post(conn: Connection, post_id: str, now: datetime, lease_until: datetime) -> bool:
    return leases.claim_row(conn, status_posts, post_id, now, lease_until)


def update_status_post(conn: Connection, post_id: str, **values: Any) -> None:
    conn.execute(update(status_posts).where(status_posts.c.id == post_id).values(**values))


def status_posts_of(conn: Connection, update_ids: Sequence[str]) -> list[dict[str, Any]]:
    if not update_ids:
        return []
    rows = conn.execute(select(status_posts).where(status_posts.c.incident_update_id.in_(list(update_ids))))
    return [dict(row._mapping) for row in rows]


def requeue_failed_replies(conn: Connection, incident_id: str) -> int:
    """Give every failed customer reply of the incident's updates a new round of attempts."""
    update_ids = select(incident_updates.c.id).where(incident_updates.c.incident_id == incident_id)
    result = conn.execute(
        update(replies)
        .where(replies.c.incident_update_id.in_(update_ids), replies.c.status == "failed")
        .values(status="queued", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return int(result.rowcount)
