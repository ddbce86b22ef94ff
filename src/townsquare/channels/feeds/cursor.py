"""The feed account's cursor: a small JSON document the runtime stores after the messages.

It holds the validators for the conditional GET (ETag, Last-Modified), the feed's new address
after a permanent redirect, and short hashes of the item ids already seen, newest window first
and bounded, so a restart neither loses nor duplicates items and an item that drops out of the
feed and comes back is not new.
"""

from __future__ import annotations

import hashlib
import json
import logging

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

log = logging.getLogger(__name__)

SEEN_LIMIT = 2_000
"""Ids remembered beyond the current window: feeds show their last 10-50 items, so this covers
items that leave the feed and come back for a long time, at ~20 bytes each."""


def id_hash(external_id: str) -> str:
    return hashlib.blake2b(external_id.encode(), digest_size=8).hexdigest()


class FeedCursor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = 1
    origin: str | None = Field(default=None, description="The configured feed URL this cursor belongs to.")
    url: str | None = Field(default=None, description="Where the feed lives now, after a permanent redirect.")
    etag: str | None = Field(default=None, max_length=1024)
    last_modified: str | None = Field(default=None, max_length=128)
    seen: list[str] = Field(default_factory=list, description="id_hash of items seen, newest window first.")
    _seen_cache: set[str] | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, raw: str | None, origin: str) -> FeedCursor:
        """The stored cursor, or a fresh one. A cursor of another configured URL keeps its seen
        ids (the same items may be served there) but not its validators or redirect target."""
        if not raw:
            return cls(origin=origin)
        try:
            cursor = cls.model_validate(json.loads(raw))
        except (ValueError, ValidationError):
            # Starting over re-reads the current window; ingest is idempotent, so nothing doubles.
            log.warning("feed cursor could not be read; starting from the current feed window")
            return cls(origin=origin)
        if cursor.origin != origin:
            return cls(origin=origin, seen=cursor.seen)
        return cursor

    def dump(self) -> str:
        return self.model_dump_json()

    def has_seen(self, external_id: str) -> bool:
        return id_hash(external_id) in self._seen_set

    @property
    def _seen_set(self) -> set[str]:
        # Built once per cursor: a poll checks every item of the window against it.
        if self._seen_cache is None:
            self._seen_cache = set(self.seen)
        return self._seen_cache

    def advanced(
        self,
        window: list[str],
        *,
        etag: str | None,
        last_modified: str | None,
        url: str | None,
    ) -> FeedCursor:
        """The cursor after reading a document whose items have these external ids."""
        current = list(dict.fromkeys(id_hash(external_id) for external_id in window))
        in_window = set(current)
        older = [hashed for hashed in self.seen if hashed not in in_window]
        # The whole current window is always kept, however long, or its tail would come back as new.
        limit = max(SEEN_LIMIT, len(current))
        return FeedCursor(
            origin=self.origin,
            url=url,
            etag=etag,
            last_modified=last_modified,
            seen=(current + older)[:limit],
        )
