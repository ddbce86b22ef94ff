"""What flows through the pipeline: a batch of work items, each one inbound message plus what
the stages learned about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from townsquare.config import Settings
from townsquare.events import Event
from townsquare.model import InboundMessage


@dataclass
class WorkItem:
    message: InboundMessage
    message_id: str = ""
    skip_reason: str | None = None
    """Set when a stage decides this item is not stored (a duplicate); later stages pass it by."""
    identity_id: str | None = None
    contact_id: str | None = None
    conversation_id: str | None = None
    opened_conversation: bool = False
    reopened_conversation: bool = False
    triage: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.message.channel, self.message.external_id)

    @property
    def active(self) -> bool:
        return self.skip_reason is None

    @property
    def urgency(self) -> float:
        """Triage's urgency of this message; 0 where triage did not run."""
        value = self.triage.get("urgency") if self.triage else None
        return float(value) if isinstance(value, int | float) else 0.0


@dataclass
class Batch:
    items: list[WorkItem]
    settings: Settings
    now: datetime
    conn: Connection | None = None
    """The write transaction; set only while the storing stages run."""
    new_conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Rows of conversations this batch creates, by id; stages fill and amend them before insert."""
    changed_conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Column changes for existing conversations, by id."""
    events: list[Event] = field(default_factory=list)
    """Events the stages raise; published once the batch is committed."""
    audit: list[dict[str, Any]] = field(default_factory=list)
    """Audit entries of changes the stages decide on their own (``store.audit.record``'s keyword
    arguments): written by the persist stage in the batch's transaction."""

    @property
    def db(self) -> Connection:
        if self.conn is None:
            raise RuntimeError("this stage needs the database; list it among the storing stages")
        return self.conn

    def active(self) -> list[WorkItem]:
        return [item for item in self.items if item.active]


class Stage(Protocol):
    """One step of the pipeline. Works on a whole batch so lookups and writes happen in bulk."""

    name: str

    def process(self, batch: Batch) -> None: ...
