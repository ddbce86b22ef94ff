"""The audit log: who changed what, when. Written in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from townsquare.clock import utcnow
from townsquare.ids import new_id
from townsquare.store.tables import audit_log


def record(
    conn: Connection,
    *,
    actor_id: str | None,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(audit_log).values(
            id=new_id(),
            at=utcnow(),
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=details or {},
        )
    )


def entries(
    conn: Connection, *, target_type: str | None = None, target_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if target_type:
        query = query.where(audit_log.c.target_type == target_type)
    if target_id:
        query = query.where(audit_log.c.target_id == target_id)
    return [dict(row._mapping) for row in conn.execute(query)]
