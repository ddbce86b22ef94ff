"""Threading: which conversation each message belongs to.

Rules, first match wins:
1. A reply (or a post in a thread) whose parent or root is known joins that conversation.
2. Otherwise the message joins the author's newest conversation on the same network, so a
   customer has one running conversation per network and its public and private parts stay
   together (a private message after a public mention lands beside it). Listening channels whose
   connector says `groups_by_author = False` (feeds) skip this rule: each item stands alone.
3. A resolved conversation found by rule 1 or 2 reopens when the message comes within
   `reopen_window_hours` of the resolution; later messages start a new conversation.
4. Anything else starts a new conversation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from townsquare.channels.registry import UnknownChannel, connector_class
from townsquare.ids import new_id
from townsquare.model import ConversationStatus, Direction, Visibility
from townsquare.pipeline.batch import Batch, WorkItem
from townsquare.store import ingest
from townsquare.store.ingest import ThreadTarget

SUBJECT_CHARS = 140


def subject_of(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_CHARS else line[: SUBJECT_CHARS - 1] + "…"


def _groups_by_author(channel: str) -> bool:
    try:
        return connector_class(channel).groups_by_author
    except UnknownChannel:
        return True


class ThreadStage:
    name = "thread"

    def process(self, batch: Batch) -> None:
        items = sorted(batch.active(), key=lambda item: item.message.created_at)
        refs = {
            (item.message.channel, ref)
            for item in items
            for ref in (item.message.in_reply_to, item.message.thread_root)
            if ref
        }
        by_message = ingest.conversations_of_messages(batch.db, list(refs))
        by_contact = ingest.latest_conversations_of_contacts(
            batch.db, list({(str(item.contact_id), item.message.channel) for item in items})
        )
        window = timedelta(hours=batch.settings.reopen_window_hours)
        for item in items:
            target = self._find(item, by_message, by_contact)
            if target is not None and target.status == ConversationStatus.RESOLVED:
                resolved_at = target.resolved_at or target.last_message_at
                if item.message.created_at - resolved_at <= window:
                    target = self._reopen(batch, item, target)
                else:
                    target = None
            if target is None:
                target = self._open(batch, item)
            else:
                self._join(batch, item, target)
            item.conversation_id = target.conversation_id
            by_message[item.key] = target
            by_contact[(str(item.contact_id), item.message.channel)] = target

    @staticmethod
    def _find(
        item: WorkItem,
        by_message: dict[tuple[str, str], ThreadTarget],
        by_contact: dict[tuple[str, str], ThreadTarget],
    ) -> ThreadTarget | None:
        message = item.message
        for ref in (message.in_reply_to, message.thread_root):
            if ref and (message.channel, ref) in by_message:
                return by_message[(message.channel, ref)]
        if not _groups_by_author(message.channel):
            return None
        return by_contact.get((str(item.contact_id), message.channel))

    @staticmethod
    def _open(batch: Batch, item: WorkItem) -> ThreadTarget:
        message = item.message
        inbound = message.direction == Direction.INBOUND
        # The brand's own posts outside any conversation are kept (searchable, exportable) but
        # never enter the queue.
        status = ConversationStatus.NEW if inbound else ConversationStatus.RESOLVED
        conversation_id = new_id()
        batch.new_conversations[conversation_id] = {
            "id": conversation_id,
            "channel": message.channel,
            "account": message.account,
            "contact_id": item.contact_id,
            "status": status.value,
            "priority": "normal",
            "assignee_id": None,
            "team_id": None,
            "subject": subject_of(message.text),
            "language": message.language,
            "sentiment": None,
            "urgency": None,
            "urgency_reasons": None,
            "has_public": message.visibility == Visibility.PUBLIC,
            "has_private": message.visibility == Visibility.PRIVATE,
            "personal_data_flag": False,
            "message_count": 0,
            "first_message_at": message.created_at,
            "last_message_at": message.created_at,
            "last_inbound_at": message.created_at if inbound else None,
            "first_response_due_at": None,
            "resolution_due_at": None,
            "first_responded_at": None,
            "resolved_at": None if inbound else batch.now,
            "created_at": batch.now,
            "updated_at": batch.now,
        }
        item.opened_conversation = True
        return ThreadTarget(
            conversation_id=conversation_id,
            status=status.value,
            resolved_at=None,
            contact_id=str(item.contact_id),
            last_message_at=message.created_at,
        )

    def _reopen(self, batch: Batch, item: WorkItem, target: ThreadTarget) -> ThreadTarget:
        item.reopened_conversation = True
        self._changes(batch, target.conversation_id).update(
            {"status": ConversationStatus.OPEN.value, "resolved_at": None}
        )
        return ThreadTarget(
            conversation_id=target.conversation_id,
            status=ConversationStatus.OPEN.value,
            resolved_at=None,
            contact_id=target.contact_id,
            last_message_at=item.message.created_at,
        )

    def _join(self, batch: Batch, item: WorkItem, target: ThreadTarget) -> None:
        """Only state changes are decided here; counts, times and the public/private flags
        follow from the stored messages (persist stage)."""
        if item.message.direction != Direction.INBOUND or target.conversation_id in batch.new_conversations:
            return
        if target.status == ConversationStatus.PENDING:
            # The customer answered: the ball is back with the team.
            self._changes(batch, target.conversation_id)["status"] = ConversationStatus.OPEN.value

    @staticmethod
    def _changes(batch: Batch, conversation_id: str) -> dict[str, Any]:
        return batch.changed_conversations.setdefault(conversation_id, {"_id": conversation_id})
