"""Townsquare's external ids for Matrix events: `"{room_id}/{event_id}"`.

A Matrix event id alone does not say which room it belongs to, and sending a reply needs the
room. The core model has no field for it, so the room travels inside the ids the connector
controls (`external_id`, `in_reply_to`, `thread_root`, and the id of a sent reply). Room ids never
contain "/" (they are `!opaque:server` or, from room version 12, `!` + unpadded URL-safe
base64), while event ids of room version 3 may (standard base64): split at the first "/".
"""

from __future__ import annotations

from dataclasses import dataclass


class NotAMatrixId(ValueError):
    pass


@dataclass(frozen=True)
class EventRef:
    room_id: str
    event_id: str

    def __str__(self) -> str:
        return f"{self.room_id}/{self.event_id}"

    @classmethod
    def parse(cls, value: str) -> EventRef:
        room_id, slash, event_id = value.partition("/")
        if not (slash and room_id.startswith("!") and event_id.startswith("$")):
            raise NotAMatrixId(f"not a Matrix event reference: {value[:80]!r}")
        return cls(room_id, event_id)


def external_id(room_id: str, event_id: str) -> str:
    return str(EventRef(room_id, event_id))
