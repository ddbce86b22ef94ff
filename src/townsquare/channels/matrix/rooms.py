"""What the connector remembers about rooms: who is joined (with display names) and which rooms
are direct chats. It decides whether a message is public or private.

Rule: a room is private when it is a direct chat (listed in the bot's `m.direct` account data,
or the bot was invited with `is_direct`) or has exactly two joined members (the customer and
the bot); every other room is public. Kept in memory: filled from `/sync` state, or from
`joined_members` the first time a room shows up after a restart.
"""

from __future__ import annotations

import threading

from townsquare.channels.matrix.payloads import DirectRooms, JoinedMembers, MemberContent


class RoomDirectory:
    def __init__(self) -> None:
        self._members: dict[str, dict[str, str]] = {}
        self._direct = DirectRooms({})
        self._direct_room_ids: set[str] = set()
        self._lock = threading.Lock()

    def knows(self, room_id: str) -> bool:
        with self._lock:
            return room_id in self._members

    def start_room(self, room_id: str, members: JoinedMembers | None = None) -> None:
        """Begin tracking a room: from its joined members, or empty (its full state follows)."""
        joined = {} if members is None else {user: m.display_name or "" for user, m in members.joined.items()}
        with self._lock:
            self._members[room_id] = joined

    def apply_member(self, room_id: str, user_id: str, member: MemberContent) -> None:
        with self._lock:
            joined = self._members.setdefault(room_id, {})
            if member.membership == "join":
                joined[user_id] = member.displayname or ""
            else:
                joined.pop(user_id, None)

    def forget(self, room_id: str) -> None:
        with self._lock:
            self._members.pop(room_id, None)

    def display_name(self, room_id: str, user_id: str) -> str:
        with self._lock:
            return self._members.get(room_id, {}).get(user_id, "")

    def joined_count(self, room_id: str) -> int:
        with self._lock:
            return len(self._members.get(room_id, {}))

    def is_private(self, room_id: str) -> bool:
        with self._lock:
            return room_id in self._direct_room_ids or len(self._members.get(room_id, {})) == 2

    def set_direct(self, direct: DirectRooms) -> None:
        with self._lock:
            self._direct = DirectRooms({user: list(rooms) for user, rooms in direct.root.items()})
            self._direct_room_ids = {room for rooms in direct.root.values() for room in rooms}

    def direct(self) -> DirectRooms:
        with self._lock:
            return DirectRooms({user: list(rooms) for user, rooms in self._direct.root.items()})

    def mark_direct(self, room_id: str) -> None:
        """A direct chat we know of before `m.direct` says so (an invite with `is_direct`)."""
        with self._lock:
            self._direct_room_ids.add(room_id)
