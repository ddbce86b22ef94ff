"""Where the notification poll resumes.

The AppView sorts notifications by `indexedAt`, which for posts is the earlier of the
client-declared `createdAt` and the time it indexed the post. A post written a few seconds before
it reaches the AppView (clock skew, a slow relay) therefore shows up *behind* notifications we
already saw. A bare "newest indexedAt" cursor would skip it, so the cursor keeps the newest time
plus the notifications seen within a look-back window before it, and every poll re-reads that
window and drops what it has already handed over.

The same document carries the chat log's position (`chat`: the `rev` of the last direct-message
log entry handled), so both parts resume together. A cursor written before direct messages were
received has no `chat` part and still loads; the chat part then starts from "now".
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=15)
MAX_SEEN = 5000


def seen_key(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:16]


class _Stored(BaseModel):
    newest: datetime | None = None
    seen: dict[str, float] = Field(default_factory=dict)
    chat: str | None = None


@dataclass
class NotificationCursor:
    newest: datetime | None = None
    seen: dict[str, float] = field(default_factory=dict)
    """Keys of notifications handed over, with their `indexedAt` as epoch seconds."""
    chat: str | None = None
    """The `rev` of the last chat log entry handled; None until the chat service was reached."""

    @classmethod
    def parse(cls, text: str | None) -> NotificationCursor:
        if not text:
            return cls()
        try:
            stored = _Stored.model_validate_json(text)
        except ValidationError:
            # Older plain-timestamp cursors (or a hand-edited one) still give the resume point.
            try:
                return cls(newest=datetime.fromisoformat(text))
            except ValueError:
                log.warning("ignoring an unreadable Bluesky cursor; starting from the newest notifications")
                return cls()
        return cls(newest=stored.newest, seen=stored.seen, chat=stored.chat)

    @property
    def floor(self) -> datetime | None:
        """Notifications older than this were all handed over before."""
        return self.newest - LOOKBACK if self.newest is not None else None

    def is_new(self, uri: str, indexed_at: datetime) -> bool:
        floor = self.floor
        return (floor is None or indexed_at >= floor) and seen_key(uri) not in self.seen

    def advanced(self, handed: list[tuple[str, datetime]]) -> NotificationCursor:
        """The cursor after handing over `handed` (uri, indexedAt)."""
        if not handed:
            return self
        newest = max([self.newest or datetime.min.replace(tzinfo=UTC), *(at for _, at in handed)])
        floor = (newest - LOOKBACK).timestamp()
        seen = {key: at for key, at in self.seen.items() if at >= floor}
        seen.update({seen_key(uri): at.timestamp() for uri, at in handed})
        if len(seen) > MAX_SEEN:
            seen = dict(sorted(seen.items(), key=lambda item: item[1])[-MAX_SEEN:])
        return NotificationCursor(newest=newest, seen=seen, chat=self.chat)

    def with_chat(self, rev: str | None) -> NotificationCursor:
        return NotificationCursor(newest=self.newest, seen=self.seen, chat=rev)

    def dump(self) -> str | None:
        if self.newest is None and self.chat is None:
            return None
        document: dict[str, object] = {"newest": self.newest.isoformat() if self.newest else None, "seen": self.seen}
        if self.chat is not None:
            document["chat"] = self.chat
        return json.dumps(document, separators=(",", ":"))
