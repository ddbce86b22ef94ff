"""Routing: priority from what triage and the network tell us, the team that owns the account,
and the SLA due times that follow from the priority."""

from __future__ import annotations

from datetime import timedelta

from townsquare.model import Priority
from townsquare.pipeline.batch import Batch, WorkItem
from townsquare.store import accounts

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


class RouteStage:
    name = "route"

    def process(self, batch: Batch) -> None:
        teams = accounts.team_of_accounts(batch.db)
        first_items: dict[str, WorkItem] = {}
        for item in batch.active():
            if item.opened_conversation and item.conversation_id not in first_items:
                first_items[str(item.conversation_id)] = item
        for conversation_id, item in first_items.items():
            row = batch.new_conversations[conversation_id]
            urgency = item.triage.get("urgency") if item.triage else None
            priority = priority_for(urgency, item.message.author.reach)
            row["priority"] = priority.value
            row["team_id"] = teams.get((item.message.channel, item.message.account))
            if row["status"] == "new":
                start = item.message.created_at
                minutes = batch.settings.sla_first_response_minutes.get(priority.value)
                hours = batch.settings.sla_resolution_hours.get(priority.value)
                row["first_response_due_at"] = start + timedelta(minutes=minutes) if minutes else None
                row["resolution_due_at"] = start + timedelta(hours=hours) if hours else None
