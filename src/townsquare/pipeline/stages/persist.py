"""Write what the earlier stages decided: new conversations, the messages, and the changes to
existing conversations, each as one bulk statement."""

from __future__ import annotations

from typing import Any

from townsquare.model import Direction, Visibility
from townsquare.pipeline.batch import Batch, WorkItem
from townsquare.store import audit, ingest


def message_row(item: WorkItem, batch: Batch) -> dict[str, Any]:
    message = item.message
    triage = item.triage or {}
    return {
        "id": item.message_id,
        "conversation_id": item.conversation_id,
        "channel": message.channel,
        "account": message.account,
        "external_id": message.external_id,
        "direction": message.direction.value,
        "visibility": message.visibility.value,
        "identity_id": item.identity_id,
        "author_name": message.author.display_name or message.author.handle,
        "author_handle": message.author.handle,
        "text": message.text,
        "language": message.language,
        "in_reply_to": message.in_reply_to,
        "thread_root": message.thread_root,
        "url": message.url,
        "reach": message.author.reach,
        "created_at": message.created_at,
        "received_at": batch.now,
        "sentiment": triage.get("sentiment"),
        "intent": triage.get("intent"),
        "urgency": triage.get("urgency"),
        "triage": item.triage,
        "raw": message.raw,
    }


def _carries_public_personal_data(item: WorkItem) -> bool:
    return bool(
        item.triage
        and item.triage.get("personal_data")
        and item.message.visibility == Visibility.PUBLIC
        and item.message.direction == Direction.INBOUND
    )


def _activity(items: list[WorkItem], batch: Batch) -> dict[str, dict[str, Any]]:
    """What this batch adds to each conversation: message count, newest message time, newest
    customer message time and that message's sentiment (the customer's mood now), and whether
    public or private messages came in."""
    activity: dict[str, dict[str, Any]] = {}
    for item in items:
        message = item.message
        row = activity.setdefault(
            str(item.conversation_id),
            {
                "_id": str(item.conversation_id),
                "_n": 0,
                "_last": message.created_at,
                "_inbound": None,
                "_mood": None,
                "_public": False,
                "_private": False,
                "_now": batch.now,
            },
        )
        row["_n"] += 1
        row["_last"] = max(row["_last"], message.created_at)
        newest_inbound = row["_inbound"] is None or message.created_at >= row["_inbound"]
        if message.direction == Direction.INBOUND and newest_inbound:
            row["_inbound"] = message.created_at
            row["_mood"] = item.triage.get("sentiment") if item.triage else None
        row["_public" if message.visibility == Visibility.PUBLIC else "_private"] = True
    return activity


class PersistStage:
    name = "persist"

    def process(self, batch: Batch) -> None:
        items = batch.active()
        for item in items:
            conversation = batch.new_conversations.get(str(item.conversation_id))
            if conversation is not None:
                self._summarize_into(conversation, item)
            elif _carries_public_personal_data(item):
                cid = str(item.conversation_id)
                batch.changed_conversations.setdefault(cid, {"_id": cid})["personal_data_flag"] = True
        activity = _activity(items, batch)
        for conversation_id, row in batch.new_conversations.items():
            done = activity.pop(conversation_id)
            row.update(
                message_count=done["_n"],
                last_message_at=max(row["last_message_at"], done["_last"]),
                last_inbound_at=done["_inbound"],
                sentiment=done["_mood"] or row.get("sentiment"),
                has_public=done["_public"],
                has_private=done["_private"],
            )
        ingest.insert_conversations(batch.db, list(batch.new_conversations.values()))
        ingest.insert_messages(batch.db, [message_row(item, batch) for item in items])
        ingest.add_activity(batch.db, list(activity.values()))
        ingest.apply_conversation_changes(batch.db, list(batch.changed_conversations.values()))
        for entry in batch.audit:
            audit.record(batch.db, **entry)

    @staticmethod
    def _summarize_into(conversation: dict[str, Any], item: WorkItem) -> None:
        """A new conversation takes its language from its first triaged message and its urgency
        and reasons from the most urgent one of the batch (as a later post escalates an existing
        conversation, `route.RouteStage`); its sentiment is the newest customer message's
        (``_activity``), this one's until then."""
        if _carries_public_personal_data(item):
            conversation["personal_data_flag"] = True
        if not item.triage:
            return
        if conversation.get("sentiment") is None:  # the first triaged message
            conversation["language"] = item.message.language
            conversation["sentiment"] = item.triage.get("sentiment")
        elif item.urgency <= (conversation.get("urgency") or 0.0):
            return
        conversation["urgency"] = item.triage.get("urgency")
        conversation["urgency_reasons"] = item.triage.get("urgency_reasons") or None
