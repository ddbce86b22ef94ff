"""Where the notification poll resumes.

The AppView sorts notifications by `indexedAt`, which for posts is the earlier of the
client-declared `createdAt` and the time it indexed the post. A post written a few seconds before
it reaches the AppView (clock skew, a slow relay) therefore shows up *behind* notifications we
already saw. A bare "newest indexedAt" cursor would skip it, so the cursor keeps the newest time
plus the notifications seen within a look-back window before it, and every poll re-reads that
window and drops what it has already handed over.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=15)
MAX_SEEN = 5000


def seen_key(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:16]


class _Stored(BaseModel):
    newest: datetime
    seen: dict[str, float]


@dataclass
class NotificationCursor:
    newest: datetime | None = None
    seen: dict[str, float] = field(default_factory=dict)
    """Keys of notifications handed over, with their `indexedAt` as epoch seconds."""

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
        return cls(newest=stored.newest, seen=stored.seen)

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
        return NotificationCursor(newest=newest, seen=seen)

    def dump(self) -> str | None:
        if self.newest is None:
            return None
        return json.dumps({"newest": self.newest.isoformat(), "seen": self.seen}, separators=(",", ":"))
