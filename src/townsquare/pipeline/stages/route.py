"""Routing: priority from what triage and the network tell us, the team that owns the account,
and the SLA due times that follow from the priority. A later post that is more urgent than its
conversation escalates it (never the other way: lowering is an agent's call)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from townsquare.clock import as_utc
from townsquare.model import ConversationStatus, Direction, Priority
from townsquare.pipeline.batch import Batch, WorkItem
from townsquare.store import accounts, ingest

HIGH_REACH = 10_000
"""Authors with at least this many followers are answered before the crowd: many read along."""


def priority_for(urgency: float | None, reach: int | None) -> Priority:
    if urgency is not None and urgency >= 0.8:
        return Priority.URGENT
    if (urgency is not None and urgency >= 0.6) or (reach or 0) >= HIGH_REACH:
        return Priority.HIGH
    if urgency is not None and urgency < 0.15:
        return Priority.LOW
    return Priority.NORMAL


RANK: dict[str, int] = {
    p.value: rank for rank, p in enumerate((Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT))
}


class RouteStage:
    name = "route"

    def process(self, batch: Batch) -> None:
        teams = accounts.team_of_accounts(batch.db)
        first_items: dict[str, WorkItem] = {}
        for item in batch.active():
            if item.opened_conversation and item.conversation_id not in first_items:
                first_items[str(item.conversation_id)] = item
        # A new conversation whose batch brings several posts is as urgent as the most urgent of
        # them (as a later post escalates an existing one); its due times start at the first.
        most_urgent = dict(first_items)
        for item in batch.active():
            cid = str(item.conversation_id)
            inbound = item.message.direction == Direction.INBOUND
            if cid in most_urgent and inbound and item.urgency > most_urgent[cid].urgency:
                most_urgent[cid] = item
        for conversation_id, item in first_items.items():
            row = batch.new_conversations[conversation_id]
            urgent = most_urgent[conversation_id]
            urgency = urgent.triage.get("urgency") if urgent.triage else None
            priority = priority_for(urgency, urgent.message.author.reach)
            row["priority"] = priority.value
            row["team_id"] = teams.get((item.message.channel, item.message.account))
            if row["status"] == "new":
                start = item.message.created_at
                minutes = batch.settings.sla_first_response_minutes.get(priority.value)
                hours = batch.settings.sla_resolution_hours.get(priority.value)
                row["first_response_due_at"] = start + timedelta(minutes=minutes) if minutes else None
                row["resolution_due_at"] = start + timedelta(hours=hours) if hours else None

        self._escalate(batch)

    @staticmethod
    def _escalate(batch: Batch) -> None:
        """Existing conversations whose new post is more urgent than they are: the urgency and its
        reasons become the post's, the priority rises to what the post alone would get, and due
        times not yet met move earlier to match ("smoke from the router" after a billing question)."""
        most: dict[str, WorkItem] = {}
        for item in batch.active():
            cid = item.conversation_id
            if cid is None or cid in batch.new_conversations or not item.triage:
                continue
            if item.message.direction != Direction.INBOUND:
                continue
            if cid not in most or item.urgency > most[cid].urgency:
                most[cid] = item
        if not most:
            return
        current = ingest.urgency_of_conversations(batch.db, list(most))
        for cid, item in most.items():
            row = current.get(cid)
            urgency = item.urgency
            if row is None or urgency <= (row["urgency"] or 0.0):
                continue
            change: dict[str, Any] = batch.changed_conversations.setdefault(cid, {"_id": cid})
            change["urgency"] = urgency
            change["urgency_reasons"] = (item.triage or {}).get("urgency_reasons") or None
            priority = priority_for(urgency, item.message.author.reach)
            if RANK[priority.value] <= RANK.get(row["priority"], 0):
                continue
            change["priority"] = priority.value
            # Nobody clicked: the audit log says who raised it, from what, and on which post's words.
            batch.audit.append(
                {
                    "actor_id": None,
                    "actor_label": "triage",
                    "action": "conversation.escalate",
                    "target_type": "conversation",
                    "target_id": cid,
                    "details": {
                        "from": row["priority"],
                        "to": priority.value,
                        "urgency": round(urgency, 4),
                        "message_id": item.message_id,
                        "reasons": [r.get("reason") for r in change["urgency_reasons"] or []],
                    },
                }
            )
            if change.get("status", row["status"]) == ConversationStatus.RESOLVED:
                continue  # a post that reopens the conversation (thread stage) gets due times
            start = item.message.created_at
            minutes = batch.settings.sla_first_response_minutes.get(priority.value)
            hours = batch.settings.sla_resolution_hours.get(priority.value)
            if minutes and row["first_responded_at"] is None:
                change["first_response_due_at"] = _earlier(
                    row["first_response_due_at"], start + timedelta(minutes=minutes)
                )
            if hours:
                change["resolution_due_at"] = _earlier(row["resolution_due_at"], start + timedelta(hours=hours))


def _earlier(stored: Any, proposed: Any) -> Any:
    return proposed if stored is None else min(as_utc(stored), proposed)
